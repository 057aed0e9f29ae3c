"""A strict reader and a writer for IDX files (the Fashion-MNIST / MNIST format).

The IDX format (LeCun et al.) is a big-endian header ``00 00 <dtype> <ndim>``,
then ``ndim`` big-endian uint32 dimension sizes, then the raw array. Files may
be gzip-compressed (``.gz``), which is how Fashion-MNIST is distributed; a file
is treated as gzip when it starts with the gzip magic bytes, whatever its name.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
>>> _ = write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
>>> read_idx(path, expect_ndim=1, expect_dtype="uint8")
array([3, 1, 4], dtype=uint8)
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Optional, Union

import numpy as np

__all__ = ["IDXError", "read_idx", "write_idx"]

PathLike = Union[str, os.PathLike]

# Payloads are read in chunks so that a header announcing absurd sizes (or a
# gzip bomb) fails on the bytes actually present instead of allocating them.
_CHUNK = 16 << 20


class IDXError(ValueError):
    """An IDX file is malformed or does not match what was expected (the message names the file)."""


# IDX type code -> numpy big-endian dtype
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {v.newbyteorder("=").str: k for k, v in _IDX_DTYPES.items()}


def _open_maybe_gzip(path: Path) -> BinaryIO:
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_upto(fh: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at end of file), in bounded chunks."""
    parts, left = [], n
    while left > 0:
        part = fh.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _parse_header(path: Path, fh: BinaryIO, expect_ndim: Optional[int],
                  expect_dtype: Optional[str]) -> tuple[tuple[int, ...], np.dtype]:
    magic = fh.read(4)
    if len(magic) < 4:
        raise IDXError(f"{path}: file too short for an IDX header ({len(magic)} bytes)")
    zero0, zero1, code, ndim = magic
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES:
        raise IDXError(
            f"{path}: bad IDX magic number 0x{magic.hex()} "
            "(expected 00 00 <type code 08/09/0B/0C/0D/0E> <ndim>)")
    if ndim == 0:
        raise IDXError(f"{path}: IDX header declares 0 dimensions")
    if expect_ndim is not None and ndim != expect_ndim:
        raise IDXError(f"{path}: expected a {expect_ndim}-D IDX array, header says {ndim}-D "
                       f"(magic 0x{magic.hex()})")
    dim_bytes = fh.read(4 * ndim)
    if len(dim_bytes) < 4 * ndim:
        raise IDXError(f"{path}: truncated IDX header ({4 + len(dim_bytes)} bytes, need {4 + 4 * ndim})")
    dims = struct.unpack(">" + "I" * ndim, dim_bytes)
    dtype = _IDX_DTYPES[code]
    if expect_dtype is not None and dtype.newbyteorder("=") != np.dtype(expect_dtype):
        raise IDXError(f"{path}: expected element type {expect_dtype}, "
                       f"header says {dtype.newbyteorder('=').name}")
    return dims, dtype


def read_idx(path: PathLike, *, expect_ndim: Optional[int] = None,
             expect_dtype: Optional[str] = None) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a numpy array.

    Checks the magic number (two zero bytes, a known type code), the number of
    dimensions (``expect_ndim``), the element type (``expect_dtype``, e.g.
    ``"uint8"``) and that the payload holds exactly ``prod(dims)`` elements.
    Raises :class:`IDXError` (a ``ValueError``) with the file name on any
    mismatch or corrupt compression, ``FileNotFoundError`` if there is no file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    try:
        with _open_maybe_gzip(path) as fh:
            dims, dtype = _parse_header(path, fh, expect_ndim, expect_dtype)
            count = 1
            for d in dims:  # Python ints: a crafted header cannot overflow the size
                count *= d
            need = count * dtype.itemsize
            payload = _read_upto(fh, need)
            trailing = fh.read(1)
    # gzip raises BadGzipFile/EOFError for a broken container or a truncated
    # stream and zlib.error for corrupt deflate data inside it.
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"{path}: cannot decompress/read IDX file ({type(exc).__name__}: {exc})") from exc
    if len(payload) != need or trailing:
        have = f"{len(payload)}" if not trailing else f"more than {need}"
        raise IDXError(f"{path}: IDX payload has {have} bytes but dims {tuple(dims)} "
                       f"of {dtype.newbyteorder('=').name} need {need} "
                       f"({'trailing data' if trailing else 'truncated'})")
    arr = np.frombuffer(payload, dtype=dtype, count=count)
    return arr.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: PathLike, array: np.ndarray, *, compress: Optional[bool] = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    path = Path(path)
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=").str if arr.dtype.byteorder not in "|" else arr.dtype.str
    code = _IDX_CODES.get(key)
    if code is None:
        raise TypeError(f"IDX cannot store dtype {arr.dtype}; use one of "
                        f"{sorted(d.newbyteorder('=').name for d in _IDX_DTYPES.values())}")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"IDX needs 1..255 dimensions, got shape {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    payload = header + arr.astype(_IDX_DTYPES[code], copy=False).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path, "wb", compresslevel=6) as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path
