"""Atomic file writes: a temporary name in the same folder, fsync, ``os.replace``, cleanup on any failure.

Every file the package writes goes through here: training runs (``mfp_plugin.engine``),
checkpoints and downloads (``model_zoo``), framed data caches (``mfp_plugin.data``).

A reader (or a resumed run) sees either the previous file or the complete new
one, never a torn write. The temporary file is removed whatever interrupts
the write (``ENOSPC``, ``KeyboardInterrupt``, ...); only a hard kill can leave
one behind, and :func:`is_temp_name` lets the next run recognise and delete it.
New files get the mode ``open()`` would give them (``0o666`` minus the umask).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_bytes(d / "log.csv", b"epoch\\n1\\n")
>>> (d / "log.csv").read_bytes(), sorted(p.name for p in d.iterdir())
(b'epoch\\n1\\n', ['log.csv'])
>>> with atomic_output(d / "w.bin") as tmp:      # any writer that takes a path
...     _ = tmp.write_bytes(b"weights")
>>> (d / "w.bin").read_bytes()
b'weights'
>>> temp_target(".last.pt.tmp1234_5"), temp_target(".best.safetensors.k2j4_x9q.tmp"), temp_target("last.pt")
('last.pt', 'best.safetensors', None)
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Union

__all__ = ["atomic_output", "atomic_write_bytes", "temp_path", "temp_target", "is_temp_name", "new_file_mode"]

# ours: ".NAME.tmpPID_THREAD"; older model_zoo.save_checkpoint (mkstemp): ".NAME.XXXXXXXX.tmp"
_TEMP = re.compile(r"^\.(?P<target>.+)\.(tmp\d+(_\d+)?|[a-z0-9_]{8}\.tmp)$")


def temp_path(path: Path) -> Path:
    """The temporary name ``path`` is written under (one per process and thread, so writers never share it)."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}_{threading.get_ident()}")


def temp_target(name: str) -> Optional[str]:
    """The file name a temporary name stands for (``".last.pt.tmp42"`` -> ``"last.pt"``), else ``None``."""
    found = _TEMP.match(name)
    return found.group("target") if found else None


def is_temp_name(name: str) -> bool:
    """True for the temporary names of an atomic write (ours or ``model_zoo.save_checkpoint``'s)."""
    return temp_target(name) is not None


def new_file_mode() -> int:
    """``0o666`` minus the process umask: the mode a plain ``open(path, "w")`` gives a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # the original error is the one to report
        pass


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse to open a directory.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_output(path: Union[str, os.PathLike]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; when the block ends it is fsynced, given the
    umask's mode and moved over ``path``. On any failure nothing is left but the old file (if any).

    An ``OSError`` about the temporary file is re-raised naming ``path`` (the file the user knows;
    ``os.write`` alone would not say which file the disk was full for).
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        _remove_quietly(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename in (None, str(tmp)):
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Union[str, os.PathLike], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
