"""Datasets for mfp-plugin: Fashion-MNIST (local IDX files + a bundled test subset),
CIFAR-10/100 and ImageFolder (through torchvision).

>>> from mfp_plugin.data import get_dataset
>>> test = get_dataset("fmnist-bundled")              # 2,000 test images, no download
>>> train = get_dataset("fmnist", "train")            # /usr/share/datasets/fashion-mnist, $MFP_DATA, ...
>>> c10 = get_dataset("cifar10", "train", root="~/data", cfg=model.pretrained_cfg)
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

from .bundled import BundledFashionMNIST, bundled_fmnist_path, load_bundled_fmnist
from .fashion_mnist import (FMNIST_CLASSES, FMNIST_MEAN, FMNIST_STD, FashionMNIST, IDXError,
                            find_fashion_mnist_files, load_fashion_mnist_arrays, read_idx, write_idx)
from .transforms import build_transform, cfg_normalization

# torchvision is imported only when CIFAR/ImageFolder are used (it costs seconds to import)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)


def __getattr__(name):  # lazy: CIFAR10, CIFAR100
    if name in ("CIFAR10", "CIFAR100"):
        from . import torchvision_sets
        return getattr(torchvision_sets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DATASETS", "dataset_info", "get_dataset", "canonical_name",
    "FashionMNIST", "BundledFashionMNIST", "load_bundled_fmnist", "bundled_fmnist_path",
    "CIFAR10", "CIFAR100", "read_idx", "write_idx", "IDXError", "find_fashion_mnist_files",
    "load_fashion_mnist_arrays", "build_transform", "cfg_normalization",
    "FMNIST_MEAN", "FMNIST_STD", "FMNIST_CLASSES",
]

#: name -> defaults (classes, (C,H,W), mean, std)
DATASETS = {
    "fmnist": dict(num_classes=10, input_size=(1, 28, 28), mean=FMNIST_MEAN, std=FMNIST_STD,
                   splits=("train", "test")),
    "fmnist-bundled": dict(num_classes=10, input_size=(1, 28, 28), mean=FMNIST_MEAN, std=FMNIST_STD,
                           splits=("test",)),
    "cifar10": dict(num_classes=10, input_size=(3, 32, 32), mean=CIFAR10_MEAN, std=CIFAR10_STD,
                    splits=("train", "test")),
    "cifar100": dict(num_classes=100, input_size=(3, 32, 32), mean=CIFAR100_MEAN, std=CIFAR100_STD,
                     splits=("train", "test")),
    "imagefolder": dict(num_classes=None, input_size=(3, 224, 224), mean=(0.485, 0.456, 0.406),
                        std=(0.229, 0.224, 0.225), splits=("train", "test", "val")),
}
_ALIASES = {
    "fashion-mnist": "fmnist", "fashion_mnist": "fmnist", "fashionmnist": "fmnist",
    "fmnist_bundled": "fmnist-bundled", "fmnist-subset": "fmnist-bundled", "bundled": "fmnist-bundled",
    "cifar-10": "cifar10", "cifar-100": "cifar100", "image-folder": "imagefolder", "folder": "imagefolder",
}


def canonical_name(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return key


def dataset_info(name: str) -> dict:
    return dict(DATASETS[canonical_name(name)], name=canonical_name(name))


def get_dataset(name: str, split: str = "test", root: Optional[os.PathLike] = None, *,
                transform: Optional[Callable] = None, augment: Optional[bool] = None,
                cfg: Optional[dict] = None, input_size: Optional[Sequence[int]] = None,
                mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                download: bool = False, verify_md5: bool = False):
    """Build a dataset by name.

    name: ``fmnist`` | ``fmnist-bundled`` | ``cifar10`` | ``cifar100`` | ``imagefolder``.
    split: ``train`` | ``test`` (``val`` is accepted as ``test``; ImageFolder uses ``root/val``).
    Normalization and input size come, in order of priority, from ``mean``/``std``/
    ``input_size``, then a model's ``pretrained_cfg`` (``cfg``), then the dataset's
    defaults. ``augment`` (default: on for the train split) adds random crop + flip.
    An explicit ``transform`` replaces all of that.
    Every item is ``(float tensor [C,H,W], int label)``.
    """
    key = canonical_name(name)
    info = DATASETS[key]
    split = split.lower()
    if split not in ("train", "test", "val"):
        raise ValueError(f"unknown split {split!r}; use 'train' or 'test'")
    if split == "val" and key != "imagefolder":
        split = "test"
    if split not in info["splits"]:
        raise ValueError(f"dataset {key!r} has only the {'/'.join(info['splits'])} split"
                         + (" (it is a subset of the Fashion-MNIST test split; train on 'fmnist')"
                            if key == "fmnist-bundled" else ""))
    train = split == "train"
    if augment is None:
        augment = train
    cfg = dict(cfg or {})
    m, s = cfg_normalization(cfg, info["mean"], info["std"])
    mean = tuple(mean) if mean is not None else m
    std = tuple(std) if std is not None else s
    if input_size is None:
        input_size = tuple(cfg.get("input_size") or info["input_size"])
    input_size = tuple(int(v) for v in input_size)

    if key in ("fmnist", "fmnist-bundled"):
        fast = transform is None and not (train and augment) and input_size == (1, 28, 28)
        if transform is None and not fast and input_size == (1, 28, 28):
            from .transforms import TensorCropFlipNormalize
            transform = TensorCropFlipNormalize(2, mean, std)  # train: pad-2 crop + flip
        elif transform is None and not fast:
            transform = build_transform(train=train, input_size=input_size, mean=mean, std=std,
                                        kind="small", augment=augment, crop_padding=2)
        kw = dict(transform=transform, mean=mean, std=std)
        if key == "fmnist-bundled":
            return BundledFashionMNIST(**kw)
        return FashionMNIST(root, train=train, download=download, **kw)

    if key in ("cifar10", "cifar100"):
        from .torchvision_sets import cifar
        if transform is None:
            transform = build_transform(train=train, input_size=input_size, mean=mean, std=std,
                                        kind="small", augment=augment)
        return cifar(10 if key == "cifar10" else 100, root, train, transform,
                     download=download, verify_md5=verify_md5)

    from .torchvision_sets import image_folder
    if transform is None:
        transform = build_transform(train=train, input_size=input_size, mean=mean, std=std,
                                    kind="folder", augment=augment)
    return image_folder(root, split, transform)
