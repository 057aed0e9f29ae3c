"""Fashion-MNIST: a strict IDX reader and a ``torch.utils.data.Dataset``.

The IDX format (LeCun et al.) is a big-endian header ``00 00 <dtype> <ndim>``,
then ``ndim`` big-endian uint32 dimension sizes, then the raw array. Files may
be gzip-compressed (``.gz``), which is how Fashion-MNIST is distributed.

Where the files are looked for, in order:

1. an explicit ``root`` (the four IDX files directly in it, or a
   torchvision-style ``root/FashionMNIST/raw/`` folder, or ``root/raw/``);
2. ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package
   ``dataset-fashion-mnist``);
3. ``$MFP_DATA`` (same layouts as ``root``).

``download=True`` fetches the files with torchvision's downloader into
``root`` (default ``$MFP_DATA`` or ``~/.cache/mfp_plugin/data``).
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = [
    "FMNIST_MEAN", "FMNIST_STD", "FMNIST_CLASSES", "FMNIST_FILES", "SYSTEM_DIR",
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
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

PathLike = Union[str, os.PathLike]


class IDXError(ValueError):
    """An IDX file is malformed or does not match what was expected."""


# IDX type code -> numpy big-endian dtype
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {v.newbyteorder("=").str: k for k, v in _IDX_DTYPES.items()}


def _open_maybe_gzip(path: Path):
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_idx(path: PathLike, *, expect_ndim: Optional[int] = None,
             expect_dtype: Optional[str] = None) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a numpy array.

    Checks the magic number (two zero bytes, a known type code), the number of
    dimensions (``expect_ndim``), the element type (``expect_dtype``, e.g.
    ``"uint8"``) and that the payload holds exactly ``prod(dims)`` elements.
    Raises :class:`IDXError` with the file name on any mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    try:
        with _open_maybe_gzip(path) as fh:
            raw = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # truncated/corrupt gzip
        raise IDXError(f"{path}: cannot decompress/read IDX file ({exc})") from exc
    if len(raw) < 4:
        raise IDXError(f"{path}: file too short for an IDX header ({len(raw)} bytes)")
    zero0, zero1, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES:
        raise IDXError(
            f"{path}: bad IDX magic number 0x{raw[:4].hex()} "
            "(expected 00 00 <type code 08/09/0B/0C/0D/0E> <ndim>)")
    if ndim == 0:
        raise IDXError(f"{path}: IDX header declares 0 dimensions")
    if expect_ndim is not None and ndim != expect_ndim:
        raise IDXError(f"{path}: expected a {expect_ndim}-D IDX array, header says {ndim}-D "
                       f"(magic 0x{raw[:4].hex()})")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise IDXError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header_len})")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header_len])
    dtype = _IDX_DTYPES[code]
    if expect_dtype is not None and dtype.newbyteorder("=") != np.dtype(expect_dtype):
        raise IDXError(f"{path}: expected element type {expect_dtype}, "
                       f"header says {dtype.newbyteorder('=').name}")
    count = int(np.prod(dims, dtype=np.int64))
    need = count * dtype.itemsize
    have = len(raw) - header_len
    if have != need:
        raise IDXError(f"{path}: IDX payload has {have} bytes but dims {tuple(dims)} "
                       f"of {dtype.newbyteorder('=').name} need {need} "
                       f"({'truncated' if have < need else 'trailing data'})")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header_len)
    return arr.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: PathLike, array: np.ndarray, *, compress: Optional[bool] = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    path = Path(path)
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=").str if arr.dtype.byteorder not in "|" else arr.dtype.str
    code = _IDX_CODES.get(key)
    if code is None:
        raise TypeError(f"IDX cannot store dtype {arr.dtype}; use one of "
                        f"{sorted(d.newbyteorder('=').name for d in _IDX_DTYPES.values())}")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"IDX needs 1..255 dimensions, got shape {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    payload = header + arr.astype(_IDX_DTYPES[code], copy=False).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path, "wb", compresslevel=6) as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


def _candidate_dirs(root: Optional[PathLike]) -> list[Path]:
    def layouts(base: Path) -> list[Path]:
        return [base, base / "FashionMNIST" / "raw", base / "raw", base / "fashion-mnist"]

    dirs: list[Path] = []
    if root is not None:
        dirs += layouts(Path(root).expanduser())
    dirs.append(SYSTEM_DIR)
    env = os.environ.get("MFP_DATA")
    if env:
        dirs += layouts(Path(env).expanduser())
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

    Both files must sit in the same directory; raw and ``.gz`` are accepted.
    """
    img_stem, lbl_stem = FMNIST_FILES[_split_name(train)]
    for d in _candidate_dirs(root):
        if not d.is_dir():
            continue
        img, lbl = _find_in(d, img_stem), _find_in(d, lbl_stem)
        if img is not None and lbl is not None:
            return img, lbl
    return None


def _not_found_message(root: Optional[PathLike], split: str, extra: str = "") -> str:
    img_stem, lbl_stem = FMNIST_FILES[split]
    looked = "\n".join(f"  - {d}" for d in _candidate_dirs(root))
    return (
        f"Fashion-MNIST ({split} split) not found. Needed files: "
        f"{img_stem}.gz and {lbl_stem}.gz (raw, un-gzipped files also work).{extra}\n"
        f"Looked in:\n{looked}\n"
        "To provide them, either:\n"
        "  - install the Debian/Ubuntu package: sudo apt-get install dataset-fashion-mnist "
        f"(puts them in {SYSTEM_DIR}), or\n"
        "  - download them from https://github.com/zalandoresearch/fashion-mnist "
        "and put them in a folder passed as root=/--data-root, or in $MFP_DATA, or\n"
        "  - pass download=True (CLI: --download) with internet access."
    )


def load_fashion_mnist_arrays(root: Optional[PathLike] = None, train: Union[bool, str] = True,
                              *, strict_size: bool = False) -> tuple[np.ndarray, np.ndarray, tuple[Path, Path]]:
    """Load one split as ``(images uint8 [N,28,28], labels int64 [N], (img_path, lbl_path))``.

    Validates that images are 3-D uint8 of 28x28, labels 1-D uint8 in 0..9 and
    that both hold the same number of items. ``strict_size=True`` additionally
    demands the official 60,000/10,000 items.
    """
    split = _split_name(train)
    found = find_fashion_mnist_files(root, split)
    if found is None:
        raise FileNotFoundError(_not_found_message(root, split))
    img_path, lbl_path = found
    images = read_idx(img_path, expect_ndim=3, expect_dtype="uint8")
    labels = read_idx(lbl_path, expect_ndim=1, expect_dtype="uint8")
    if images.shape[1:] != (28, 28):
        raise IDXError(f"{img_path}: Fashion-MNIST images must be 28x28, got {images.shape[1:]}")
    if images.shape[0] != labels.shape[0]:
        raise IDXError(f"label count mismatch: {img_path} has {images.shape[0]} images but "
                       f"{lbl_path} has {labels.shape[0]} labels")
    if labels.size and labels.max() > 9:
        raise IDXError(f"{lbl_path}: labels must be in 0..9, found {int(labels.max())}")
    if strict_size and images.shape[0] != FMNIST_SIZES[split]:
        raise IDXError(f"{img_path}: expected {FMNIST_SIZES[split]} items, got {images.shape[0]}")
    return images, labels.astype(np.int64), (img_path, lbl_path)


def default_download_root() -> Path:
    env = os.environ.get("MFP_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mfp_plugin" / "data"


def _download(root: Optional[PathLike], split: str) -> None:
    """Fetch Fashion-MNIST with torchvision's downloader into ``root/FashionMNIST/raw``."""
    from torchvision.datasets import FashionMNIST as _TVFashionMNIST

    target = Path(root).expanduser() if root is not None else default_download_root()
    try:
        _TVFashionMNIST(str(target), train=(split == "train"), download=True)
    except Exception as exc:  # URLError, socket errors, HTTP errors, md5 mismatch...
        raise RuntimeError(_not_found_message(
            root, split,
            extra=f"\nDownloading into {target / 'FashionMNIST' / 'raw'} failed "
                  f"({type(exc).__name__}: {exc}); are you offline?")) from exc


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
