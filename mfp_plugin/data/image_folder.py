"""``torchvision.datasets.ImageFolder`` over a user's ``root/<split>/<class>/*.png|jpg`` tree."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

__all__ = ["IMAGEFOLDER_LAYOUT", "NO_ROOT_MESSAGE", "image_folder"]

IMAGEFOLDER_LAYOUT = ("train/ and val/ (or test/, validation/) subfolders, each holding one "
                      "folder of images per class (root/train/<class>/*.png|jpg)")
NO_ROOT_MESSAGE = f"imagefolder needs a root folder: root=DIR (CLI: --data-root DIR) with {IMAGEFOLDER_LAYOUT}"

_SPLIT_DIRS = {"train": ("train",), "test": ("test", "val", "validation"),
               "val": ("val", "validation", "test")}


def _split_dir(root: Path, split: str) -> Path:
    for name in _SPLIT_DIRS[split]:
        if (root / name).is_dir():
            return root / name
    present = [n for n in ("train", "val", "test", "validation") if (root / n).is_dir()]
    if present:
        # A split layout missing this split: its class folders are not split folders.
        raise FileNotFoundError(
            f"ImageFolder root {root} has {', '.join(p + '/' for p in present)} but no "
            f"{' or '.join(n + '/' for n in _SPLIT_DIRS[split])} for the {split} split; "
            f"expected {IMAGEFOLDER_LAYOUT}")
    # A flat class-per-folder tree without split folders: used as-is for every split.
    if any(p.is_dir() for p in root.iterdir()):
        return root
    raise FileNotFoundError(f"ImageFolder root {root} has no class sub-folders; expected {IMAGEFOLDER_LAYOUT}")


def image_folder(root: Optional[os.PathLike], split: str, transform: Optional[Callable],
                 target_transform: Optional[Callable] = None):
    """``torchvision.datasets.ImageFolder`` over ``root/<split>/<class>/*.png|jpg``.

    ``split`` "train" uses ``root/train``; "test"/"val" use ``root/test``,
    ``root/val`` or ``root/validation`` (first that exists, ``val`` first for
    "val"). A root without any split folder is a flat class-per-folder tree,
    used directly for every split; a root with some split folders but not the
    one asked for is an error.
    """
    if root is None:
        raise ValueError(NO_ROOT_MESSAGE)
    if split not in _SPLIT_DIRS:
        raise ValueError(f"unknown ImageFolder split {split!r}; use 'train', 'test' or 'val'")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"ImageFolder root {root} does not exist; expected a folder with "
                                f"{IMAGEFOLDER_LAYOUT}")
    from torchvision import datasets  # costs seconds: only when an ImageFolder is built

    return datasets.ImageFolder(str(_split_dir(root, split)), transform=transform,
                                target_transform=target_transform)
