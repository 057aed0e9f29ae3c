"""CIFAR10-DVS (Li et al. 2017): 10,000 CIFAR-10 images recorded by a DVS128 from a moving monitor.

Layout read under ``root`` (default ``$MFP_DATA/CIFAR10-DVS`` or
``~/.cache/mfp_plugin/data/CIFAR10-DVS``), as the ten official archives extract::

    root/<class>/cifar10_<class>_<i>.aedat     AEDAT 2.0, 128x128, i = 0..999 per class

``root/<class>.zip`` archives are extracted there on first use;
``download=True`` fetches them from figshare (URLs and md5s as in SpikingJelly's
``CIFAR10DVS.resource_url_md5``). Classes are CIFAR-10's, in CIFAR-10's order.

**Split** (the dataset has no official one): within each class, files are
sorted by their index ``i``; the first ``ceil(n / 10)`` are ``test``, the rest
``train``. With the official 1,000 files per class that is ``i = 0..99`` for
test and ``100..999`` for train (9,000 / 1,000 overall): the split of
Duan et al. 2022 (TEBN) that SpikingJelly implements as ``CIFAR10DVSTEBNSplit``
and much later work reports on. It is not a random split; accuracies on it
are known to run higher than on random splits.

Frames are cached under ``root/frames_T{T}_{split_by}/<class>/cifar10_<class>_<i>.npz``.
Items: ``(float32 [T, 2, 128, 128], int)``.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Optional

from .archives import RawFolder, Resource, ensure_raw_folders
from .event_readers import read_cifar10dvs_aedat
from .frame_cache import FramedEventDataset, read_events_named
from .roots import default_data_root

__all__ = ["CIFAR10DVS", "CIFAR10DVS_CLASSES", "CIFAR10DVS_RESOURCES", "CIFAR10DVS_LAYOUT",
           "cifar10dvs_split_indices"]

CIFAR10DVS_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                      "dog", "frog", "horse", "ship", "truck")
_FIGSHARE = "https://ndownloader.figshare.com/files/"
#: class -> its official archive (as SpikingJelly's ``CIFAR10DVS.resource_url_md5``; a test checks)
CIFAR10DVS_RESOURCES = {c: Resource(f"{c}.zip", _FIGSHARE + f, md5) for c, f, md5 in (
    ("airplane", "7712788", "0afd5c4bf9ae06af762a77b180354fdd"),
    ("automobile", "7712791", "8438dfeba3bc970c94962d995b1b9bdd"),
    ("bird", "7712794", "a9c207c91c55b9dc2002dc21c684d785"),
    ("cat", "7712812", "52c63c677c2b15fa5146a8daf4d56687"),
    ("deer", "7712815", "b6bf21f6c04d21ba4e23fc3e36c8a4a3"),
    ("dog", "7712818", "f379ebdf6703d16e0a690782e62639c3"),
    ("frog", "7712842", "cad6ed91214b1c7388a5f6ee56d08803"),
    ("horse", "7712851", "e7cbbf77bec584ffbf913f00e682782a"),
    ("ship", "7712836", "41c7bd7d6b251be82557c6cce9a7d5c9"),
    ("truck", "7712839", "89f3922fd147d9aeff89e76a2b0b70a7"),
)}
CIFAR10DVS_LAYOUT = ("root/<class>/cifar10_<class>_<i>.aedat for the 10 classes "
                     f"({', '.join(CIFAR10DVS_CLASSES)}), as <class>.zip extracts, or those archives in root")
CIFAR10DVS_PAPER = "https://doi.org/10.3389/fnins.2017.00309"


def cifar10dvs_split_indices(indices, split: str) -> list[int]:
    """The file indices of one class that belong to ``split``: test = the first ``ceil(n/10)`` by index.

    >>> cifar10dvs_split_indices(range(1000), "test") == list(range(100))
    True
    >>> cifar10dvs_split_indices([7, 3, 12, 5], "test"), cifar10dvs_split_indices([7, 3, 12, 5], "train")
    ([3], [5, 7, 12])
    """
    ordered = sorted(int(i) for i in indices)
    n_test = math.ceil(len(ordered) / 10)
    if split == "test":
        return ordered[:n_test]
    if split == "train":
        return ordered[n_test:]
    raise ValueError(f"CIFAR10-DVS has the splits 'train' and 'test', got {split!r}")


def _file_index(path: Path, cls: str) -> int:
    m = re.fullmatch(rf"cifar10_{cls}_(\d+)", path.stem)
    if m is None:
        raise ValueError(f"{path}: expected a file named cifar10_{cls}_<i>.aedat")
    return int(m.group(1))


class CIFAR10DVS(FramedEventDataset):
    """CIFAR10-DVS ``train``/``test`` split (9:1 per class, see the module doc)."""

    title = "CIFAR10-DVS"
    sensor_size = (128, 128)
    classes = CIFAR10DVS_CLASSES

    def __init__(self, root: Optional[os.PathLike] = None, split: str = "train", T: int = 10,
                 split_by: str = "number", *, download: bool = False, **kwargs):
        cifar10dvs_split_indices([], split)  # validates split
        root = Path(root).expanduser() if root is not None else default_data_root() / "CIFAR10-DVS"
        needed = [RawFolder(c, (f"{c}.zip",), CIFAR10DVS_RESOURCES[c]) for c in CIFAR10DVS_CLASSES]
        ensure_raw_folders(root, needed, title=f"CIFAR10-DVS ({split} split)", layout=CIFAR10DVS_LAYOUT,
                           download=download, manual=f"Paper: {CIFAR10DVS_PAPER}.")
        super().__init__(root, split, T, split_by, **kwargs)

    def _list_samples(self):
        for label, cls in enumerate(CIFAR10DVS_CLASSES):
            files = {_file_index(p, cls): p for p in (self.root / cls).glob("*.aedat")}
            for i in cifar10dvs_split_indices(files, self.split):
                yield f"{cls}/{files[i].stem}", label, files[i]

    def _group_events(self, group: Path, keys):
        yield keys[0], read_events_named(read_cifar10dvs_aedat, group)
