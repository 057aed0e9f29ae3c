"""``get_dataset``: build any of the package's datasets by name, with the model's normalisation."""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

from .bundled import BundledFashionMNIST
from .cifar import NO_MD5_OPT_OUT
from .fashion_mnist import FashionMNIST
from .image_folder import NO_ROOT_MESSAGE
from .registry import DATASETS, canonical_name
from .transforms import build_transform, cfg_normalization

__all__ = ["get_dataset"]


def get_dataset(name: str, split: str = "test", root: Optional[os.PathLike] = None, *,
                transform: Optional[Callable] = None, augment: Optional[bool] = None,
                cfg: Optional[dict] = None, input_size: Optional[Sequence[int]] = None,
                mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                download: bool = False, verify_md5: bool = True, T: Optional[int] = None,
                split_by: Optional[str] = None, cache_root: Optional[os.PathLike] = None):
    """Build a dataset by name.

    name: images ``fmnist`` | ``fmnist-bundled`` | ``cifar10`` | ``cifar100`` | ``imagefolder``;
    sequences ``fmnist-seq`` | ``fmnist-seq-bundled``; events ``nmnist`` | ``cifar10dvs`` |
    ``dvsgesture`` | ``fmnist-dvs`` | ``fmnist-dvs-bundled``
    (or an alias, see :func:`~mfp_plugin.data.canonical_name`; ``DATASETS`` lists the defaults).
    split: ``train`` | ``test`` (``val`` is accepted as ``test``; ImageFolder uses ``root/val``).
    root: the folder to read; when given it is the only place looked at (missing
    files raise ``FileNotFoundError`` naming it). ``None``: Fashion-MNIST's default
    search, CIFAR's ``$MFP_DATA`` or ``~/.cache/mfp_plugin/data``; ImageFolder needs one.
    Normalization and input size come, in order of priority, from ``mean``/``std``/
    ``input_size``, then a model's ``pretrained_cfg`` (``cfg``), then the dataset's
    defaults. ``augment`` (default: on for the train split) adds random crop + flip.
    An explicit ``transform`` replaces all of that. CIFAR files are always
    md5-checked before they are read (``verify_md5=False`` is refused).
    Image items are ``(float tensor [C,H,W], int label)``.

    Temporal datasets (see each module): ``fmnist-seq*`` items are ``(float [28, 28], int)``,
    one image row per step, normalised as ``fmnist``. Event items are
    ``(float32 [T, 2, H, W] event counts, int)`` (not normalised; ``mean``/``std``
    are refused): ``T`` frames (default: the model's ``cfg["T"]`` if ``cfg["dataset"]``
    is this dataset, else ``DATASETS[name]["T"]``), cut by event number or
    time (``split_by="number"``/``"time"``). ``augment`` on event data is a
    random translation (no flip). N-MNIST, CIFAR10-DVS and DVS128 Gesture cache
    their frames in ``root/frames_T{T}_{split_by}/`` (``cache_root`` moves that).
    ``T``, ``split_by`` and ``cache_root`` are refused where they do not apply.
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
                         + (f" (it is a subset of the Fashion-MNIST test split; train on "
                            f"{key[:-len('-bundled')]!r})" if key.endswith("-bundled") else ""))
    if key == "imagefolder" and root is None:  # before any transform or torchvision import
        raise ValueError(NO_ROOT_MESSAGE)
    if verify_md5 is not True:
        raise ValueError(NO_MD5_OPT_OUT)
    train = split == "train"
    if augment is None:
        augment = train
    cfg = dict(cfg or {})
    if info["kind"] != "image":
        return _temporal(key, split, root, T=T, split_by=split_by, transform=transform, augment=augment,
                         cfg=cfg, mean=mean, std=std, input_size=input_size, download=download,
                         cache_root=cache_root)
    for arg, value in (("T", T), ("split_by", split_by), ("cache_root", cache_root)):
        if value is not None:
            raise ValueError(f"{arg} applies to the temporal datasets "
                             f"({', '.join(n for n, i in DATASETS.items() if i['kind'] != 'image')}), "
                             f"not to {key!r}; a model repeats a static image over its own T")
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
        from .cifar import cifar
        if transform is None:
            transform = build_transform(train=train, input_size=input_size, mean=mean, std=std,
                                        kind="small", augment=augment)
        return cifar(10 if key == "cifar10" else 100, root, train, transform,
                     download=download, verify_md5=verify_md5)

    from .image_folder import image_folder
    if transform is None:
        transform = build_transform(train=train, input_size=input_size, mean=mean, std=std,
                                    kind="folder", augment=augment)
    return image_folder(root, split, transform)


def _temporal(key: str, split: str, root, **kw):
    from .temporal_factory import build_events, build_sequence

    if DATASETS[key]["kind"] == "sequence":
        if kw.pop("cache_root") is not None:
            raise ValueError(f"cache_root applies to event datasets, not to {key!r}")
        return build_sequence(key, split, root, **kw)
    return build_events(key, split, root, **kw)
