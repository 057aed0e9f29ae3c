"""Corrupt IDX files, raw or gzip'd, raise IDXError (a ValueError) naming the file."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from _data_fakes import write_fmnist_split

from mfp_plugin.data import FashionMNIST, IDXError, read_idx, write_idx
from mfp_plugin.data import fashion_mnist as fm

GOOD = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 2, 2) + bytes(range(8))  # uint8 [2,2,2]

CORRUPT = {  # name -> (bytes, message fragment)
    "truncated": (GOOD[:-3], "truncated"),
    "truncated-header": (GOOD[:9], "truncated IDX header"),
    "wrong-magic": (b"\x08\x03" + GOOD[2:], "magic"),
    "wrong-count": (bytes([0, 0, 8, 3]) + struct.pack(">III", 3, 2, 2) + bytes(range(8)), "truncated"),
    "trailing": (GOOD + b"\x00\x00", "trailing"),
    # dims whose product overflows 64 bits: must read as a plain size mismatch
    "huge-dims": (bytes([0, 0, 8, 3]) + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2**32 - 1), "truncated"),
}


def test_idx_error_is_a_value_error():
    assert issubclass(IDXError, ValueError)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_idx_raises_idx_error_naming_the_file(tmp_path, case, gz):
    blob, fragment = CORRUPT[case]
    path = tmp_path / f"{case}-idx3-ubyte{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(blob) if gz else blob)
    with pytest.raises(IDXError, match=fragment) as ei:
        read_idx(path)
    assert str(path) in str(ei.value)


def test_wrong_dims_for_the_caller(tmp_path):
    path = tmp_path / "g.idx.gz"
    path.write_bytes(gzip.compress(GOOD))
    assert read_idx(path).shape == (2, 2, 2)
    with pytest.raises(IDXError, match=r"expected a 1-D IDX array, header says 3-D") as ei:
        read_idx(path, expect_ndim=1)
    assert str(path) in str(ei.value)


@pytest.mark.parametrize("damage", ["deflate", "crc", "cut"])
def test_damaged_gzip_stream(tmp_path, damage):
    blob = bytearray(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 4000) + bytes(4000)))
    if damage == "deflate":      # garbage inside the compressed data: zlib.error
        blob[12:40] = bytes(range(100, 128))
    elif damage == "crc":        # intact data, wrong checksum
        blob[-8:-4] = b"\x00\x00\x00\x00"
    else:                        # stream cut short
        blob = blob[:-12]
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(IDXError) as ei:
        read_idx(path)
    assert str(path) in str(ei.value)


def _dataset_folder(tmp_path):
    folder = write_fmnist_split(tmp_path / "fm", "t10k", 10)
    return folder, folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"


def test_dataset_reports_the_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "no-system")
    folder, images, labels = _dataset_folder(tmp_path)
    labels.write_bytes(labels.read_bytes()[:-10])
    with pytest.raises(IDXError) as ei:
        FashionMNIST(folder, train=False)
    assert str(labels) in str(ei.value)
    write_idx(labels, np.arange(10, dtype=np.uint8))
    write_idx(images, np.zeros((10, 28, 27), dtype=np.uint8))
    with pytest.raises(IDXError, match="28x28") as ei:
        FashionMNIST(folder, train=False)
    assert str(images) in str(ei.value)


def test_dataset_with_no_images_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "no-system")
    folder, images, labels = _dataset_folder(tmp_path)
    write_idx(images, np.zeros((0, 28, 28), dtype=np.uint8))
    write_idx(labels, np.zeros((0,), dtype=np.uint8))
    with pytest.raises(IDXError, match="no images") as ei:
        FashionMNIST(folder, train=False)
    assert str(images) in str(ei.value)
