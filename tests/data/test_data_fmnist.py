"""Fashion-MNIST IDX reader, dataset lookup, bundled subset and the get_dataset factory."""
from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from mfp_plugin.data import (FMNIST_MEAN, FMNIST_STD, BundledFashionMNIST, FashionMNIST, IDXError,
                             bundled_fmnist_path, find_fashion_mnist_files, get_dataset,
                             load_bundled_fmnist, read_idx, write_idx)
from mfp_plugin.data import fashion_mnist as fm

SYSTEM = Path("/usr/share/datasets/fashion-mnist")


def make_fake_fmnist(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{split}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", (np.arange(n) % 10).astype(np.uint8))
    return folder


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """Hide /usr/share/datasets/fashion-mnist and $MFP_DATA from the lookup."""
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "no-system-dir")
    monkeypatch.delenv("MFP_DATA", raising=False)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    p = write_idx(tmp_path / ("a.idx" + (".gz" if gz else "")), a)
    assert (p.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(p, expect_ndim=3, expect_dtype="uint8")
    assert b.dtype == np.uint8 and np.array_equal(a, b)
    f = np.linspace(-1, 1, 6, dtype=np.float32)
    assert np.array_equal(read_idx(write_idx(tmp_path / "f.idx", f)), f)


def test_idx_header_layout(tmp_path):
    p = write_idx(tmp_path / "l.idx", np.array([3, 1, 4], dtype=np.uint8))
    assert p.read_bytes() == bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + bytes([3, 1, 4])


def test_idx_errors(tmp_path):
    good = bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + bytes([1, 2, 3])
    cases = {
        "magic": (b"\x12\x34" + good[2:], "magic"),
        "typecode": (bytes([0, 0, 0x42, 1]) + good[4:], "magic"),
        "truncated": (good[:-1], "truncated"),
        "trailing": (good + b"\x00", "trailing"),
        "short": (b"\x00\x00", "too short"),
    }
    for name, (blob, msg) in cases.items():
        p = tmp_path / f"{name}.idx"
        p.write_bytes(blob)
        with pytest.raises(IDXError, match=msg):
            read_idx(p)
    p = tmp_path / "ok.idx"
    p.write_bytes(good)
    with pytest.raises(IDXError, match="3-D"):
        read_idx(p, expect_ndim=3)
    with pytest.raises(IDXError, match="int32"):
        read_idx(p, expect_dtype="int32")
    bad_gz = tmp_path / "bad.idx.gz"
    bad_gz.write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(IDXError):
        read_idx(bad_gz)
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.idx")


def test_dataset_from_root_layouts(tmp_path, no_system_data):
    flat = make_fake_fmnist(tmp_path / "flat", gz=True)
    ds = FashionMNIST(flat, train=True)
    assert len(ds) == 40 and ds.files[0].parent == flat
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y == 3
    raw = (ds.data[3].float() / 255 - FMNIST_MEAN[0]) / FMNIST_STD[0]
    assert torch.allclose(x[0], raw)
    tv = make_fake_fmnist(tmp_path / "tv" / "FashionMNIST" / "raw", gz=False)
    ds2 = FashionMNIST(tmp_path / "tv", train=False)
    assert len(ds2) == 20 and ds2.files[0].parent == tv
    x, _ = FashionMNIST(tmp_path / "tv", train=False, normalize=False)[0]
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_dataset_env_lookup_and_mismatch(tmp_path, monkeypatch, no_system_data):
    make_fake_fmnist(tmp_path / "env")
    monkeypatch.setenv("MFP_DATA", str(tmp_path / "env"))
    assert len(FashionMNIST(train=False)) == 20
    # label count mismatch is a clear error
    d = make_fake_fmnist(tmp_path / "bad")
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.zeros(19, dtype=np.uint8))
    with pytest.raises(IDXError, match="label count mismatch"):
        FashionMNIST(d, train=False)


def test_not_found_and_offline_download(tmp_path, monkeypatch, no_system_data):
    with pytest.raises(FileNotFoundError) as ei:
        FashionMNIST(tmp_path / "empty", train=True)
    msg = str(ei.value)
    assert "train-images-idx3-ubyte.gz" in msg and "apt-get install dataset-fashion-mnist" in msg

    import torchvision.datasets as tvd

    def offline(self):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd.FashionMNIST, "download", offline)
    with pytest.raises(RuntimeError) as ei:
        FashionMNIST(tmp_path / "dl", train=False, download=True)
    msg = str(ei.value)
    for needle in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "offline",
                   "apt-get install dataset-fashion-mnist", str(tmp_path / "dl")):
        assert needle in msg, needle


def test_bundled_subset():
    path = bundled_fmnist_path()
    assert path.stat().st_size < 1_500_000
    ds = load_bundled_fmnist()
    assert isinstance(ds, BundledFashionMNIST) and len(ds) == 2000
    assert ds.class_counts() == [200] * 10
    assert ds.data.dtype == torch.uint8 and ds.data.shape == (2000, 28, 28)
    assert np.all(np.diff(ds.indices) > 0) and ds.indices.min() >= 0 and ds.indices.max() < 10000
    assert all(len(h) == 64 for h in ds.source_sha256)
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and 0 <= y < 10
    # normalized: roughly zero-mean over the subset
    assert abs(float(ds.data.float().div(255).mean()) - FMNIST_MEAN[0]) < 0.02


@pytest.mark.skipif(not (SYSTEM / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian dataset-fashion-mnist not installed")
def test_real_debian_files_and_bundle_provenance():
    ds = FashionMNIST(train=False)  # found in /usr/share/datasets/fashion-mnist
    assert len(ds) == 10000 and ds.class_counts() == [1000] * 10
    sub = load_bundled_fmnist()
    idx = torch.from_numpy(sub.indices)
    assert torch.equal(ds.data[idx], sub.data) and torch.equal(ds.targets[idx], sub.targets)
    digest = hashlib.sha256(ds.files[0].read_bytes()).hexdigest()
    assert digest == sub.source_sha256[0]
    assert find_fashion_mnist_files(None, True) is not None  # train split present too


def test_get_dataset_factory(tmp_path, no_system_data):
    make_fake_fmnist(tmp_path)
    test = get_dataset("fmnist", "test", tmp_path)
    assert len(test) == 20 and test[0][0].shape == (1, 28, 28)
    torch.manual_seed(0)
    train = get_dataset("fashion-mnist", "train", tmp_path)  # augmented (crop + flip)
    x, y = train[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    # a model cfg with 3x32x32 input and its own normalization is honoured
    cfg = {"input_size": (3, 32, 32), "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    x, _ = get_dataset("fmnist-bundled", cfg=cfg)[0]
    assert x.shape == (3, 32, 32)
    assert len(get_dataset("bundled")) == 2000
    with pytest.raises(ValueError, match="only the test split"):
        get_dataset("fmnist-bundled", "train")
    with pytest.raises(ValueError, match="unknown dataset"):
        get_dataset("mnist-ish")
