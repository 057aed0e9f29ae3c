"""The temporal half of :func:`~mfp_plugin.data.get_dataset`: sequences and event frames.

How ``T`` is chosen for an event dataset: the ``T`` passed, else the model's
``cfg["T"]`` when ``cfg["dataset"]`` names this same dataset (a checkpoint
evaluated on the data it was trained on), else the dataset's default
(``DATASETS[name]["T"]``). ``split_by`` likewise (``cfg["split_by"]``, default
``"number"``).
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

from .framing import check_split_by, check_T
from .registry import DATASETS, canonical_name

__all__ = ["build_sequence", "build_events", "resolve_T", "resolve_split_by"]

RECORDED = ("nmnist", "cifar10dvs", "dvsgesture")


def _cfg_matches(key: str, cfg: dict) -> bool:
    name = cfg.get("dataset")
    return isinstance(name, str) and canonical_name(name, strict=False) == key


def resolve_T(key: str, T, cfg: dict) -> int:
    if T is None:
        T = cfg["T"] if (_cfg_matches(key, cfg) and cfg.get("T") is not None) else DATASETS[key]["T"]
    return check_T(T)


def resolve_split_by(key: str, split_by, cfg: dict) -> str:
    if split_by is None:
        split_by = cfg.get("split_by") if (_cfg_matches(key, cfg) and cfg.get("split_by")) else None
    return check_split_by(split_by or DATASETS[key]["split_by"])


def build_sequence(key: str, split: str, root, *, T, split_by, transform, augment, cfg, mean, std,
                   input_size, download):
    """``fmnist-seq`` / ``fmnist-seq-bundled``: Fashion-MNIST items read row by row, ``[28, 28]``."""
    from .factory import get_dataset
    from .sequential import RowSequence

    if T is not None and T != 28:
        raise ValueError(f"{key} has T = 28 (one image row per step); got T={T!r}")
    if split_by is not None:
        raise ValueError(f"split_by applies to event datasets, not to {key}")
    if input_size is not None and tuple(input_size) not in ((28,), (28, 28), (1, 28, 28)):
        raise ValueError(f"{key} items are [28, 28] (T = 28 rows of 28 features); got input_size={input_size!r}")
    cfg = {k: v for k, v in cfg.items() if k != "input_size"}  # a sequence model's input_size is per step
    base = get_dataset(key.replace("-seq", ""), split, root, transform=transform, augment=augment, cfg=cfg,
                       input_size=(1, 28, 28), mean=mean, std=std, download=download)
    return RowSequence(base)


def build_events(key: str, split: str, root, *, T, split_by, transform: Optional[Callable], augment: bool,
                 cfg: dict, mean: Optional[Sequence[float]], std: Optional[Sequence[float]],
                 input_size, download: bool, cache_root: Optional[os.PathLike]):
    """The event datasets: items ``(float32 [T, 2, H, W] event counts, int)``."""
    info = DATASETS[key]
    if mean is not None or std is not None:
        raise ValueError(f"{key} items are event counts and are not normalised; do not pass mean/std")
    if input_size is not None and tuple(input_size) != tuple(info["input_size"]):
        raise ValueError(f"{key} frames are {info['input_size']} per step; got input_size={input_size!r}")
    if cache_root is not None and key not in RECORDED:
        raise ValueError(f"cache_root applies to {', '.join(RECORDED)} (frames cached on disk); "
                         f"{key} frames its events on access")
    T, split_by = resolve_T(key, T, cfg), resolve_split_by(key, split_by, cfg)
    kw = dict(transform=transform, augment=augment)
    if key in RECORDED:
        from .cifar10_dvs import CIFAR10DVS
        from .dvs_gesture import DVSGesture
        from .nmnist import NMNIST
        cls = {"nmnist": NMNIST, "cifar10dvs": CIFAR10DVS, "dvsgesture": DVSGesture}[key]
        return cls(root, split, T, split_by, download=download, cache_root=cache_root, **kw)
    from .fashion_mnist import FashionMNIST, find_fashion_mnist_files
    from .fmnist_dvs import FashionMNISTDVS, bundled_fmnist_dvs, ensure_fmnist_dvs_file, fmnist_dvs_path
    if key == "fmnist-dvs-bundled":
        return bundled_fmnist_dvs(T, split_by, **kw)
    fmnist_root = root
    if download and not fmnist_dvs_path(root, split).is_file() and find_fashion_mnist_files(root, split) is None:
        from .roots import default_data_root
        fmnist_root = root if root is not None else default_data_root()
        FashionMNIST(fmnist_root, train=split == "train", download=True)  # the images the events are made from
    return FashionMNISTDVS(ensure_fmnist_dvs_file(root, split, fmnist_root=fmnist_root), T, split_by,
                           expect_seed=0, **kw)
