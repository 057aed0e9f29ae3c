"""Unpickle a data file only after its bytes match a known md5.

Unpickling runs whatever code the file names, so a pickle from a data folder
is only as trustworthy as its checksum. These helpers check every file of a
set before any is unpickled, and unpickle exactly the bytes that were hashed
(the file is read once), so a file swapped after the check is caught too.
MD5 is weak against collisions, not against matching a fixed published value.
"""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any, Sequence

from .errors import DataChecksumError

__all__ = ["file_md5", "verify_md5_files", "load_verified_pickle"]


def _md5():
    return hashlib.md5(usedforsecurity=False)  # FIPS builds refuse md5 without this flag


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    h = _md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _mismatch(path: Path, expected: str, actual: str) -> DataChecksumError:
    return DataChecksumError(
        f"{path} fails its md5 check: expected {expected}, got {actual}. It is not the "
        "official file, so it was not unpickled (unpickling a file can run code in it). "
        "Replace it with the original, or delete it and use --download / download=True.")


def verify_md5_files(folder: Path, files: Sequence[tuple[str, str]]) -> None:
    """Check ``folder/name`` against ``md5`` for every ``(name, md5)``; raise on the first mismatch.

    Missing files are the caller's to report (it knows the layout); here they
    raise ``FileNotFoundError`` naming the file.
    """
    for name, expected in files:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found")
        actual = file_md5(path)
        if actual != expected:
            raise _mismatch(path, expected, actual)


def load_verified_pickle(path: Path, expected_md5: str) -> Any:
    """Unpickle ``path`` (latin-1 strings, as the Python-2 CIFAR pickles need) if its bytes match."""
    data = Path(path).read_bytes()
    h = _md5()
    h.update(data)
    if h.hexdigest() != expected_md5:
        raise _mismatch(Path(path), expected_md5, h.hexdigest())
    return pickle.loads(data, encoding="latin1")
