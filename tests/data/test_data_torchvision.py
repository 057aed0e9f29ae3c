"""CIFAR-10/100 (real python-pickle batch format) and ImageFolder on tiny generated folders."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from mfp_plugin.data import CIFAR10, get_dataset
from mfp_plugin.data.torchvision_sets import CIFAR10_MEAN, CIFAR10_STD
from mfp_plugin.data.verified_pickle import file_md5


def trust_fake_folder(monkeypatch, tv_name: str, folder: Path) -> None:
    """Make torchvision's md5 list (which the loader trusts) list this fake folder's files."""
    import torchvision.datasets as tvd

    ref = getattr(tvd, tv_name)
    md5 = {p.name: file_md5(p) for p in folder.iterdir()}
    for attr in ("train_list", "test_list"):
        monkeypatch.setattr(ref, attr, [[n, md5[n]] for n, _ in getattr(ref, attr)])
    monkeypatch.setattr(ref, "meta", dict(ref.meta, md5=md5[ref.meta["filename"]]))


def make_tiny_cifar10(root: Path, n_per_batch: int = 4) -> Path:
    """A ``cifar-10-batches-py`` folder in the real format, with n images per batch file."""
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        batch = {
            "batch_label": f"{name} of 5",
            "labels": [int(v) for v in (np.arange(n_per_batch) + k) % 10],
            "data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
            "filenames": [f"img_{k}_{i}.png" for i in range(n_per_batch)],
        }
        with open(d / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    with open(d / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                     "frog", "horse", "ship", "truck"],
                     "num_cases_per_batch": n_per_batch, "num_vis": 3072}, fh, protocol=2)
    return root


def make_tiny_cifar100(root: Path, n: int = 6) -> Path:
    d = root / "cifar-100-python"
    d.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in ("train", "test"):
        with open(d / name, "wb") as fh:
            pickle.dump({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         "fine_labels": list(range(n)), "coarse_labels": [0] * n,
                         "filenames": [f"{i}.png" for i in range(n)]}, fh, protocol=2)
    with open(d / "meta", "wb") as fh:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)],
                     "coarse_label_names": [f"s{i}" for i in range(20)]}, fh, protocol=2)
    return root


def make_tiny_imagefolder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(2)
    for split, n in (("train", 3), ("val", 2)):
        for cls in ("cat", "dog"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8)
                Image.fromarray(arr).save(folder / f"{i}.png")
    return root


def test_cifar10_tiny_folder(tmp_path, monkeypatch):
    root = make_tiny_cifar10(tmp_path)
    with monkeypatch.context() as m:  # trust the fake files' hashes here only
        trust_fake_folder(m, "CIFAR10", root / "cifar-10-batches-py")
        train = get_dataset("cifar10", "train", root)
        test = get_dataset("cifar10", "test", root)
        assert len(train) == 20 and len(test) == 4
        x, y = test[1]
        assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == 6
        # eval transform == ToTensor + Normalize with the CIFAR-10 statistics
        raw = torch.from_numpy(test.data[1]).permute(2, 0, 1).float() / 255
        ref = (raw - torch.tensor(CIFAR10_MEAN).view(3, 1, 1)) / torch.tensor(CIFAR10_STD).view(3, 1, 1)
        assert torch.allclose(x, ref, atol=1e-6)
        torch.manual_seed(0)
        xs = torch.stack([train[0][0] for _ in range(8)])  # random crop + flip vary
        assert xs.shape == (8, 3, 32, 32) and (xs - xs[0]).abs().sum() > 0
        # the model's pretrained_cfg normalization wins over the dataset default
        cfg = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0), "input_size": (3, 32, 32)}
        x, _ = get_dataset("cifar10", "test", root, cfg=cfg)[1]
        assert torch.allclose(x, raw, atol=1e-6)
    # with torchvision's real md5 list the fake folder is refused (verify_md5=True is the only mode)
    with pytest.raises(RuntimeError):
        CIFAR10(root, train=False, verify_md5=True)


def test_cifar100_tiny_folder_and_missing(tmp_path, monkeypatch):
    root = make_tiny_cifar100(tmp_path / "c100")
    trust_fake_folder(monkeypatch, "CIFAR100", root / "cifar-100-python")
    ds = get_dataset("cifar100", "train", root, augment=False)
    assert len(ds) == 6 and ds[5][1] == 5 and ds[0][0].shape == (3, 32, 32)
    with pytest.raises(RuntimeError, match="cifar-10-batches-py"):
        get_dataset("cifar10", "test", tmp_path / "nothing")


def test_imagefolder_tiny(tmp_path):
    root = make_tiny_imagefolder(tmp_path / "imgs")
    cfg = {"input_size": (3, 16, 16), "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}
    train = get_dataset("imagefolder", "train", root, cfg=cfg)
    val = get_dataset("imagefolder", "test", root, cfg=cfg)
    assert len(train) == 6 and len(val) == 4 and train.classes == ["cat", "dog"]
    for ds in (train, val):
        x, y = ds[len(ds) - 1]
        assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and y == 1
    grey = get_dataset("imagefolder", "val", root, input_size=(1, 12, 12))
    assert grey[0][0].shape == (1, 12, 12)
    with pytest.raises(ValueError, match="needs a root"):
        get_dataset("imagefolder", "train", None)
