"""CIFAR-10/100 and ImageFolder through torchvision, with the project's transforms.

CIFAR reads the standard python-pickle batch folders (``cifar-10-batches-py``,
``cifar-100-python``) under ``root``. torchvision checks every batch's md5 before
it reads anything; here existence of the files is enough by default (so
re-packed or subset folders load), and ``verify_md5=True`` restores the check.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence

from torchvision import datasets as tvd
from torchvision.datasets.utils import check_integrity

__all__ = ["CIFAR10", "CIFAR100", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR100_MEAN", "CIFAR100_STD",
           "cifar", "image_folder", "default_data_root"]

from . import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD  # noqa: E402,F401


def default_data_root() -> Path:
    env = os.environ.get("MFP_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mfp_plugin" / "data"


class _LenientCIFARMixin:
    verify_md5 = False

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False, verify_md5: bool = False):
        self.verify_md5 = verify_md5
        self.train = train
        super().__init__(str(root), train=train, transform=transform,
                         target_transform=target_transform, download=download)

    def _check_integrity(self) -> bool:  # torchvision hook
        root = Path(self.root) / self.base_folder
        if self.verify_md5:
            return all(check_integrity(str(root / f), md5) for f, md5 in self.train_list + self.test_list)
        wanted = self.train_list if getattr(self, "train", True) else self.test_list
        return all((root / f).is_file() for f, _ in wanted)

    def _load_meta(self) -> None:  # torchvision hook (theirs also demands the md5)
        import pickle

        path = Path(self.root) / self.base_folder / self.meta["filename"]
        if not path.is_file():
            raise RuntimeError(f"CIFAR metadata file {path} not found")
        if self.verify_md5 and not check_integrity(str(path), self.meta["md5"]):
            raise RuntimeError(f"CIFAR metadata file {path} fails its md5 check")
        with open(path, "rb") as fh:
            data = pickle.load(fh, encoding="latin1")
        self.classes = list(data[self.meta["key"]])
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


class CIFAR10(_LenientCIFARMixin, tvd.CIFAR10):
    """torchvision CIFAR-10 that accepts any well-formed ``cifar-10-batches-py`` folder."""


class CIFAR100(_LenientCIFARMixin, tvd.CIFAR100):
    """torchvision CIFAR-100 that accepts any well-formed ``cifar-100-python`` folder."""


def cifar(num_classes: int, root: Optional[os.PathLike], train: bool, transform: Callable,
          download: bool = False, verify_md5: bool = False):
    cls = {10: CIFAR10, 100: CIFAR100}[num_classes]
    root = Path(root).expanduser() if root is not None else default_data_root()
    folder = root / cls.base_folder
    try:
        return cls(root, train=train, transform=transform, download=download, verify_md5=verify_md5)
    except RuntimeError as exc:
        if download:
            raise RuntimeError(f"CIFAR-{num_classes}: download into {root} failed ({exc}); "
                               f"are you offline? Put the extracted '{cls.base_folder}' folder "
                               f"under {root} (or pass --data-root).") from exc
        raise RuntimeError(f"CIFAR-{num_classes} not found or incomplete at {folder}: {exc}. "
                           f"Pass --data-root pointing at the folder that contains "
                           f"'{cls.base_folder}', or use --download.") from exc


def _split_dir(root: Path, split: str) -> Path:
    names = {"train": ("train",), "test": ("test", "val", "validation"),
             "val": ("val", "validation", "test")}[split]
    for n in names:
        if (root / n).is_dir():
            return root / n
    # A flat class-per-folder tree without split subfolders: use it as-is.
    if any(p.is_dir() for p in root.iterdir()):
        return root
    raise FileNotFoundError(f"ImageFolder root {root} has no class sub-folders")


def image_folder(root: os.PathLike, split: str, transform: Callable,
                 target_transform: Optional[Callable] = None):
    """``torchvision.datasets.ImageFolder`` over ``root/<split>/<class>/*.png|jpg``.

    ``split`` "train" uses ``root/train``; "test"/"val" use ``root/val``,
    ``root/test`` or ``root/validation`` (first that exists); a root without
    split folders is used directly for every split.
    """
    if root is None:
        raise ValueError("imagefolder needs a root folder (CLI: --data-root DIR)")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"ImageFolder root {root} does not exist")
    return tvd.ImageFolder(str(_split_dir(root, split)), transform=transform,
                           target_transform=target_transform)
