"""CIFAR-10/100 from the official python-pickle folders, md5-checked before anything is unpickled.

The batch files (``cifar-10-batches-py/data_batch_1`` ..., ``cifar-100-python/train`` ...)
are pickles, and unpickling runs code named in the file. So every file a split
needs, and the metadata file, must match torchvision's published md5
(``torchvision.datasets.CIFAR10.train_list``/``test_list``/``meta``) before
any of them is unpickled; there is no switch to skip that. A mismatch raises
:class:`~mfp_plugin.data.errors.DataChecksumError` naming the file and the
expected hash; absent files raise
:class:`~mfp_plugin.data.errors.DatasetNotFoundError` naming the root, the
expected layout and the download URL.

torchvision is imported only when a dataset is built (importing it costs seconds).
"""
from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from torch.utils.data import Dataset

from .errors import DatasetNotFoundError
from .verified_pickle import load_verified_pickle, verify_md5_files

__all__ = ["CIFAR10", "CIFAR100", "cifar", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR100_MEAN", "CIFAR100_STD"]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

NO_MD5_OPT_OUT = ("verify_md5=False is not supported: CIFAR batch files are pickles, and unpickling "
               "an unverified file can run code, so they are always checked against torchvision's md5 list")


class _VerifiedCIFAR(Dataset):
    """Shared loader; subclasses name the torchvision class that holds the file list and hashes."""

    _torchvision_name = ""
    _title = ""

    def __init__(self, root: os.PathLike, train: bool = True, transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None, download: bool = False,
                 verify_md5: bool = True):
        if verify_md5 is not True:
            raise ValueError(NO_MD5_OPT_OUT)
        self.root = Path(root).expanduser()
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        ref = self.reference()
        self.base_folder = ref.base_folder
        folder = self.root / ref.base_folder
        files = self._files(train)
        if download:
            self._download_unless_verified(folder, files)
        self._require_present(folder, files)
        verify_md5_files(folder, files)  # all of them, before the first unpickle
        *batches, meta = [load_verified_pickle(folder / name, md5) for name, md5 in files]
        label_key = "labels" if "labels" in batches[0] else "fine_labels"
        self.data = np.vstack([b["data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets = [int(t) for b in batches for t in b[label_key]]
        self.classes = list(meta[ref.meta["key"]])
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    @classmethod
    def reference(cls):
        """The torchvision class whose ``url``, ``base_folder``, file lists and md5s are trusted."""
        from torchvision import datasets
        return getattr(datasets, cls._torchvision_name)

    @classmethod
    def _files(cls, train: bool) -> list[tuple[str, str]]:
        """``(name, md5)`` of the split's batch files, then the metadata file (always last)."""
        ref = cls.reference()
        split = ref.train_list if train else ref.test_list
        return [(str(n), str(m)) for n, m in split] + [(ref.meta["filename"], ref.meta["md5"])]

    def _layout(self) -> str:
        ref = self.reference()
        names = [n for n, _ in ref.train_list + ref.test_list]
        return (f"{self.root / ref.base_folder}/ with {', '.join(names)} and {ref.meta['filename']} "
                f"(the folder that the official archive {ref.url} extracts to)")

    def _require_present(self, folder: Path, files: list[tuple[str, str]]) -> None:
        missing = [str(folder / n) for n, _ in files if not (folder / n).is_file()]
        if not missing:
            return
        split = "train" if self.train else "test"
        hint = ""
        if self.root.name == self.base_folder:
            hint = f"\nroot should be the folder that CONTAINS '{self.base_folder}': try root={self.root.parent}."
        raise DatasetNotFoundError(
            f"{self._title} ({split} split) not found under root={self.root}"
            f"{'' if self.root.is_dir() else ' (that folder does not exist)'}. Missing: {', '.join(missing)}.\n"
            f"Expected layout: {self._layout()}.{hint}\n"
            f"Download and extract {self.reference().url} into {self.root}, or pass download=True "
            f"(CLI: --download); --data-root DIR selects the folder that contains '{self.base_folder}'.")

    def _download_unless_verified(self, folder: Path, files: list[tuple[str, str]]) -> None:
        try:
            verify_md5_files(folder, files)
            return
        except (FileNotFoundError, ValueError):
            pass  # absent or altered: fetch the official archive (it overwrites altered files)
        from torchvision.datasets.utils import download_and_extract_archive

        from ..downloads import download_timeout, socket_timeout

        ref = self.reference()
        try:
            with socket_timeout(download_timeout()):  # torchvision's downloader takes no timeout
                download_and_extract_archive(ref.url, str(self.root), filename=ref.filename, md5=ref.tgz_md5)
        except (OSError, RuntimeError, EOFError, tarfile.TarError) as exc:  # URLError is an OSError
            raise DatasetNotFoundError(
                f"{self._title}: downloading {ref.url} into {self.root} failed "
                f"({type(exc).__name__}: {exc}); are you offline? On a machine with internet access, "
                f"download {ref.url} and extract it into {self.root}. Expected layout: "
                f"{self._layout()}.") from exc

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from PIL import Image

        img = Image.fromarray(self.data[index])
        if self.transform is not None:
            img = self.transform(img)
        target = self.targets[index]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(split={split!r}, n={len(self)}, root={str(self.root)!r})"


class CIFAR10(_VerifiedCIFAR):
    """CIFAR-10 from ``root/cifar-10-batches-py``; every file md5-checked before it is unpickled.

    Items are ``(transform(PIL image), int label)``; ``data`` is uint8 ``[N,32,32,3]``.
    """

    _torchvision_name = "CIFAR10"
    _title = "CIFAR-10"


class CIFAR100(_VerifiedCIFAR):
    """CIFAR-100 (fine labels) from ``root/cifar-100-python``; md5-checked like :class:`CIFAR10`."""

    _torchvision_name = "CIFAR100"
    _title = "CIFAR-100"


def cifar(num_classes: int, root: Optional[os.PathLike], train: bool, transform: Optional[Callable],
          download: bool = False, verify_md5: bool = True) -> _VerifiedCIFAR:
    """CIFAR-``num_classes`` (10 or 100) under ``root`` (default: ``$MFP_DATA`` or ``~/.cache/mfp_plugin/data``)."""
    from .roots import default_data_root

    if num_classes not in (10, 100):
        raise ValueError(f"CIFAR has 10 or 100 classes, got num_classes={num_classes!r}")
    cls = CIFAR10 if num_classes == 10 else CIFAR100
    root = Path(root).expanduser() if root is not None else default_data_root()
    return cls(root, train=train, transform=transform, download=download, verify_md5=verify_md5)
