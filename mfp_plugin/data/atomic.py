"""Write ``.npz`` files atomically and byte-reproducibly.

A cache file is either complete or absent (:func:`mfp_plugin.atomic_io.atomic_output`:
a temporary file in the target folder, fsync, ``os.replace``), so an interrupted run or two DataLoader workers writing
the same sample never leave a truncated file behind. Zip entries carry a fixed
timestamp, so the same arrays always give the same bytes.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "sub", "a.npz")
>>> _ = atomic_savez(path, frames=np.arange(3, dtype=np.uint8))
>>> np.load(path)["frames"]
array([0, 1, 2], dtype=uint8)
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Union

import numpy as np

from ..atomic_io import atomic_output

__all__ = ["atomic_savez"]


def atomic_savez(path: Union[str, os.PathLike], compress: bool = True, **arrays) -> Path:
    """Save ``arrays`` as an ``.npz`` at ``path`` (parents created), via a temp file and ``os.replace``.

    ``compress`` deflates the entries (``np.savez_compressed``); otherwise they
    are stored (``np.savez``). Object arrays are refused (no pickles).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        _write_zip(fh, compress, arrays)
    return path


def _write_zip(fh, compress: bool, arrays: dict) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(fh, "w", compression=method) as zf:  # deflate at zlib's default level 6
        for key, value in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as entry:  # streamed: no second copy in memory
                np.lib.format.write_array(entry, np.asanyarray(value), allow_pickle=False)
