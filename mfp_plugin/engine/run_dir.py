"""A training run's folder: its files, an exclusive lock, stale temporary files, a clean restart.

One process trains into a folder at a time: :meth:`RunDir.acquire` takes a
non-blocking ``fcntl.flock`` on the folder itself (its directory file
descriptor), so a second trainer fails at once instead of interleaving its
files with the first's, and the folder holds nothing but the run's files.
The kernel drops the lock when the process dies, however it dies.

>>> import tempfile
>>> run = RunDir(tempfile.mkdtemp()).acquire()
>>> _ = (run.path / ".last.pt.tmp4242").write_bytes(b"half a checkpoint")   # a killed write
>>> run.clean_stale_temps()
['.last.pt.tmp4242']
>>> RunDir(run.path).acquire()
Traceback (most recent call last):
...
BlockingIOError: ... is in use by another training process ...
>>> run.release()
"""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Optional, Union

from ..atomic_io import temp_target

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking
    fcntl = None

__all__ = ["RunDir", "RUN_FILES"]

#: the files a run writes (see :class:`~mfp_plugin.engine.Trainer`)
RUN_FILES = ("last.pt", "best.safetensors", "log.csv", "curves.png", "args.json")


class RunDir:
    """The output folder of one training run (created on :meth:`acquire`)."""

    def __init__(self, path: Union[str, os.PathLike]):
        self.path = Path(path).expanduser()
        self._fd: Optional[int] = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r}, locked={self.locked})"

    def file(self, name: str) -> Path:
        """The path of one of :data:`RUN_FILES` (or any name) inside the folder."""
        return self.path / name

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunDir":
        """Create the folder, lock it (non-blocking) and delete stale temporary files; idempotent.

        Raises ``BlockingIOError`` when another process holds the lock.
        """
        if self._fd is not None:
            return self
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDONLY)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise BlockingIOError(errno.EWOULDBLOCK, (
                    f"run folder {self.path} is in use by another training process (it holds the "
                    "folder's lock); wait for it to end or choose another output folder")) from None
        self._fd = fd
        self.clean_stale_temps()
        return self

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunDir":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except (OSError, TypeError, AttributeError):  # interpreter shutdown
            pass

    def clean_stale_temps(self) -> list[str]:
        """Delete the temporary files a killed write of a run file left (safe: we hold the lock); return their names."""
        if not self.path.is_dir():
            return []
        stale = sorted(p.name for p in self.path.iterdir() if p.is_file() and temp_target(p.name) in RUN_FILES)
        for name in stale:
            (self.path / name).unlink(missing_ok=True)
        return stale

    def existing(self) -> list[str]:
        """The :data:`RUN_FILES` present in the folder."""
        return [n for n in RUN_FILES if (self.path / n).is_file()]

    def clear(self) -> list[str]:
        """Delete the run's files (not other files a user keeps there); return their names."""
        gone = self.existing()
        for name in gone:
            (self.path / name).unlink()
        return gone + self.clean_stale_temps()
