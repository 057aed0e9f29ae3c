"""Fashion-MNIST: where its IDX files are found, and a ``torch.utils.data.Dataset`` over them.

Where the files are looked for:

* a ``root`` you name is the only place looked at: the four IDX files directly
  in it, or in ``root/FashionMNIST/raw/`` (torchvision's layout), ``root/raw/``
  or ``root/fashion-mnist/``. If a split's two files are not there, that is a
  ``FileNotFoundError`` naming the root, the files and these layouts; no other
  copy is used in its place.
* with no ``root``: ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu
  package ``dataset-fashion-mnist``), then ``$MFP_DATA`` (same layouts as ``root``).

``download=True`` fetches the files with torchvision's downloader into
``root/FashionMNIST/raw`` (no root: ``$MFP_DATA`` or ``~/.cache/mfp_plugin/data``).
The IDX reader itself is :mod:`mfp_plugin.data.idx`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DatasetNotFoundError
from .idx import IDXError, read_idx, write_idx
from .roots import default_data_root

__all__ = [
    "FMNIST_MEAN", "FMNIST_STD", "FMNIST_CLASSES", "FMNIST_FILES", "FMNIST_URL", "SYSTEM_DIR",
    "IDXError", "read_idx", "write_idx", "find_fashion_mnist_files",
    "load_fashion_mnist_arrays", "FashionMNIST", "normalize_uint8",
]

FMNIST_MEAN = (0.2860,)
FMNIST_STD = (0.3530,)
FMNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
#: split -> (images file, labels file), without the optional ``.gz``
FMNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FMNIST_SIZES = {"train": 60000, "test": 10000}
#: where ``download=True`` fetches ``<file>.gz`` from (torchvision's mirror; a test checks they agree)
FMNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

PathLike = Union[str, os.PathLike]


def _layouts(base: Path) -> list[Path]:
    return [base, base / "FashionMNIST" / "raw", base / "raw", base / "fashion-mnist"]


def _candidate_dirs(root: Optional[PathLike]) -> list[Path]:
    if root is not None:  # a named root is the only place: never a silent substitute
        return _layouts(Path(root).expanduser())
    dirs = [SYSTEM_DIR]
    env = os.environ.get("MFP_DATA")
    if env:
        dirs += _layouts(Path(env).expanduser())
    return dirs


def _find_in(directory: Path, stem: str) -> Optional[Path]:
    for name in (stem, stem + ".gz"):
        p = directory / name
        if p.is_file():
            return p
    return None


def _split_name(train: Union[bool, str]) -> str:
    if isinstance(train, str):
        s = {"train": "train", "test": "test", "t10k": "test", "val": "test"}.get(train)
        if s is None:
            raise ValueError(f"unknown Fashion-MNIST split {train!r}; use 'train' or 'test'")
        return s
    return "train" if train else "test"


def find_fashion_mnist_files(root: Optional[PathLike] = None,
                             train: Union[bool, str] = True) -> Optional[tuple[Path, Path]]:
    """Return ``(images, labels)`` paths for a split, or ``None`` if not found.

    Looks only under ``root`` when one is given (see the module doc). Both
    files must sit in the same directory; raw and ``.gz`` are accepted.
    """
    img_stem, lbl_stem = FMNIST_FILES[_split_name(train)]
    for d in _candidate_dirs(root):
        if not d.is_dir():
            continue
        img, lbl = _find_in(d, img_stem), _find_in(d, lbl_stem)
        if img is not None and lbl is not None:
            return img, lbl
    return None


def _found_there(dirs: list[Path]) -> str:
    """What Fashion-MNIST files the folders do hold (explains e.g. a test-only folder)."""
    stems = [s for pair in FMNIST_FILES.values() for s in pair]
    found = [str(p) for d in dirs if d.is_dir() for s in stems if (p := _find_in(d, s)) is not None]
    return f"Found there: {', '.join(found)}.\n" if found else ""


def _not_found_message(root: Optional[PathLike], split: str, extra: str = "") -> str:
    img_stem, lbl_stem = FMNIST_FILES[split]
    dirs = _candidate_dirs(root)
    looked = "\n".join(f"  - {d}" for d in dirs)
    needed = (f"Needed files: {img_stem}.gz and {lbl_stem}.gz, both in one folder "
              f"(raw, un-gzipped files also work).{extra}\n")
    urls = f"{FMNIST_URL}{img_stem}.gz and {FMNIST_URL}{lbl_stem}.gz"
    if root is not None:
        base = Path(root).expanduser()
        missing = "" if base.is_dir() else " (that folder does not exist)"
        return (
            f"Fashion-MNIST ({split} split) not found under root={base}{missing}; a root you name "
            f"is the only place looked at. {needed}"
            f"Layouts accepted (the files directly in one of):\n{looked}\n{_found_there(dirs)}"
            "To provide them, either:\n"
            f"  - download {urls} (see https://github.com/zalandoresearch/fashion-mnist) into {base}, or\n"
            "  - pass download=True (CLI: --download) with internet access, or\n"
            "  - pass no root (CLI: no --data-root) to use the default search: "
            f"{SYSTEM_DIR} (sudo apt-get install dataset-fashion-mnist), then $MFP_DATA."
        )
    return (
        f"Fashion-MNIST ({split} split) not found. {needed}"
        f"Looked in:\n{looked}\n{_found_there(dirs)}"
        "To provide them, either:\n"
        "  - install the Debian/Ubuntu package: sudo apt-get install dataset-fashion-mnist "
        f"(puts them in {SYSTEM_DIR}), or\n"
        f"  - download {urls} (see https://github.com/zalandoresearch/fashion-mnist) "
        "and put them in a folder passed as root=/--data-root, or in $MFP_DATA, or\n"
        "  - pass download=True (CLI: --download) with internet access."
    )


def load_fashion_mnist_arrays(root: Optional[PathLike] = None, train: Union[bool, str] = True,
                              *, strict_size: bool = False) -> tuple[np.ndarray, np.ndarray, tuple[Path, Path]]:
    """Load one split as ``(images uint8 [N,28,28], labels int64 [N], (img_path, lbl_path))``.

    Validates that images are 3-D uint8 of 28x28, labels 1-D uint8 in 0..9 and
    that both hold the same (non-zero) number of items. ``strict_size=True``
    additionally demands the official 60,000/10,000 items. Malformed files
    raise :class:`IDXError` naming the file; missing ones
    :class:`DatasetNotFoundError` (a ``FileNotFoundError``).
    """
    split = _split_name(train)
    found = find_fashion_mnist_files(root, split)
    if found is None:
        raise DatasetNotFoundError(_not_found_message(root, split))
    img_path, lbl_path = found
    images = read_idx(img_path, expect_ndim=3, expect_dtype="uint8")
    labels = read_idx(lbl_path, expect_ndim=1, expect_dtype="uint8")
    if images.shape[1:] != (28, 28):
        raise IDXError(f"{img_path}: Fashion-MNIST images must be 28x28, got {images.shape[1:]}")
    if images.shape[0] != labels.shape[0]:
        raise IDXError(f"label count mismatch: {img_path} has {images.shape[0]} images but "
                       f"{lbl_path} has {labels.shape[0]} labels")
    if images.shape[0] == 0:
        raise IDXError(f"{img_path}: holds no images")
    if labels.max() > 9:
        raise IDXError(f"{lbl_path}: labels must be in 0..9, found {int(labels.max())}")
    if strict_size and images.shape[0] != FMNIST_SIZES[split]:
        raise IDXError(f"{img_path}: expected {FMNIST_SIZES[split]} items, got {images.shape[0]}")
    return images, labels.astype(np.int64), (img_path, lbl_path)


def default_download_root() -> Path:
    """``$MFP_DATA`` or ``~/.cache/mfp_plugin/data`` (kept for existing callers)."""
    return default_data_root()


def _download(root: Optional[PathLike], split: str) -> None:
    """Fetch Fashion-MNIST with torchvision's downloader into ``root/FashionMNIST/raw``."""
    from torchvision.datasets import FashionMNIST as _TVFashionMNIST

    from ..downloads import download_timeout, socket_timeout

    target = Path(root).expanduser() if root is not None else default_data_root()
    try:
        with socket_timeout(download_timeout()):  # torchvision's downloader takes no timeout
            _TVFashionMNIST(str(target), train=(split == "train"), download=True)
    except Exception as exc:  # URLError, socket errors, HTTP errors, md5 mismatch...
        raise DatasetNotFoundError(_not_found_message(
            root, split,
            extra=f"\nDownloading them from {FMNIST_URL} into {target / 'FashionMNIST' / 'raw'} failed "
                  f"({type(exc).__name__}: {exc}); are you offline? Then place the files by hand "
                  "in one of the folders below.")) from exc


def normalize_uint8(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 ``[..., C, H, W]`` -> float32 ``(x/255 - mean)/std`` (per channel)."""
    x = images.to(torch.float32).div_(255.0)
    c = x.shape[-3]
    m = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
    if m.numel() not in (1, c) or s.numel() not in (1, c):
        raise ValueError(f"mean/std need 1 or {c} values, got {len(mean)}/{len(std)}")
    return x.sub_(m).div_(s)


class UInt8ImageDataset(Dataset):
    """Shared base: in-memory uint8 ``[N,H,W]`` (grey) images + int labels.

    ``transform=None`` returns float32 ``[1,H,W]`` tensors normalized with
    ``mean``/``std`` (``normalize=False``: scaled to [0,1] only). A given
    ``transform`` receives the uint8 image as a ``[1,H,W]`` tensor (torchvision
    v2 transforms accept that) when ``transform_input="tensor"`` (default), or a
    PIL image when ``transform_input="pil"``; it then replaces the default
    normalization.
    """

    classes: Sequence[str] = FMNIST_CLASSES

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None, normalize: bool = True,
                 mean: Sequence[float] = FMNIST_MEAN, std: Sequence[float] = FMNIST_STD,
                 transform_input: str = "tensor"):
        if transform_input not in ("tensor", "pil"):
            raise ValueError("transform_input must be 'tensor' or 'pil'")
        self.data = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
        self.targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.transform = transform
        self.target_transform = target_transform
        self.normalize = normalize
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.transform_input = transform_input

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int):
        img = self.data[index].unsqueeze(0)  # [1,H,W] uint8
        if self.transform is not None:
            if self.transform_input == "pil":
                from PIL import Image
                img = Image.fromarray(img[0].numpy(), mode="L")
            x = self.transform(img)
        elif self.normalize:
            x = normalize_uint8(img, self.mean, self.std)
        else:
            x = img.to(torch.float32) / 255.0
        y = int(self.targets[index])
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def class_counts(self) -> list[int]:
        return torch.bincount(self.targets, minlength=len(self.classes)).tolist()


class FashionMNIST(UInt8ImageDataset):
    """Fashion-MNIST train/test split from local IDX files (see module doc).

    ``FashionMNIST(root=None, train=True, transform=None, download=False)``
    yields ``(float32 [1,28,28], int)``; images are normalized with
    mean 0.2860 / std 0.3530 unless ``normalize=False`` or a ``transform``
    is given. ``self.files`` records the IDX files that were read.
    """

    def __init__(self, root: Optional[PathLike] = None, train: Union[bool, str] = True,
                 transform: Optional[Callable] = None, target_transform: Optional[Callable] = None,
                 download: bool = False, *, normalize: bool = True,
                 mean: Sequence[float] = FMNIST_MEAN, std: Sequence[float] = FMNIST_STD,
                 transform_input: str = "tensor"):
        split = _split_name(train)
        if find_fashion_mnist_files(root, split) is None and download:
            _download(root, split)
            if root is None:
                root = default_download_root()
        images, labels, files = load_fashion_mnist_arrays(root, split)
        super().__init__(images, labels, transform=transform, target_transform=target_transform,
                         normalize=normalize, mean=mean, std=std, transform_input=transform_input)
        self.split = split
        self.train = split == "train"
        self.files = files

    def __repr__(self) -> str:
        return (f"FashionMNIST(split={self.split!r}, n={len(self)}, "
                f"images={str(self.files[0])!r})")
