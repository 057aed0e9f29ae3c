"""Fakes for the data-safety tests: a live malicious pickle and tiny Fashion-MNIST folders."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from mfp_plugin.data import write_idx


class MarkerPayload:
    """Unpickling an instance opens (so creates) ``marker``: proof that the pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_pickle(marker: Path) -> bytes:
    return pickle.dumps({"data": MarkerPayload(marker), "labels": [0], "label_names": ["x"]}, protocol=2)


def write_malicious_cifar(root: Path, tv_cls, marker: Path) -> Path:
    """Every file ``tv_cls`` (torchvision's CIFAR10/CIFAR100) expects, each a malicious pickle."""
    folder = root / tv_cls.base_folder
    folder.mkdir(parents=True)
    names = [n for n, _ in tv_cls.train_list + tv_cls.test_list] + [tv_cls.meta["filename"]]
    for name in names:
        (folder / name).write_bytes(malicious_pickle(marker))
    return folder


def write_fmnist_split(folder: Path, split: str, n: int, seed: int = 0, gz: bool = True) -> Path:
    """One split (``train`` or ``t10k``) of a Fashion-MNIST-format folder: random pixels, labels 0..9 cycling."""
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    write_idx(folder / f"{split}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
    write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", (np.arange(n) % 10).astype(np.uint8))
    return folder
