"""N-MNIST (Orchard et al. 2015): MNIST digits recorded by an ATIS camera making three saccades.

Layout read under ``root`` (default ``$MFP_DATA/N-MNIST`` or
``~/.cache/mfp_plugin/data/N-MNIST``), as the official archives extract::

    root/Train/<digit>/<id>.bin      60,000 files, ATIS 40-bit events, 34x34
    root/Test/<digit>/<id>.bin       10,000 files

``root/Train.zip`` / ``root/Test.zip`` (the official archives) are extracted
there on first use. ``download=True`` fetches them (md5-checked) from the
Mendeley Data mirror that tonic uses; the dataset page is
https://www.garrickorchard.com/datasets/n-mnist.

Samples are ordered by digit, then file name; the label is the digit folder.
Frames are cached under ``root/frames_T{T}_{split_by}/{Train,Test}/<digit>/<id>.npz``
(see :mod:`~mfp_plugin.data.frame_cache`). Items: ``(float32 [T, 2, 34, 34], int)``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .archives import RawFolder, Resource, ensure_raw_folders
from .event_readers import read_atis_bin
from .frame_cache import FramedEventDataset, read_events_named
from .roots import default_data_root

__all__ = ["NMNIST", "NMNIST_RESOURCES", "NMNIST_PAGE", "NMNIST_LAYOUT"]

NMNIST_PAGE = "https://www.garrickorchard.com/datasets/n-mnist"
_MENDELEY = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
#: split -> the official archive (md5s as in SpikingJelly's ``NMNIST.resource_url_md5``; a test checks)
NMNIST_RESOURCES = {
    "train": Resource("Train.zip", _MENDELEY + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
                      "20959b8e626244a1b502305a9e6e2031"),
    "test": Resource("Test.zip", _MENDELEY + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
                     "69ca8762b2fe404d9b9bad1103e97832"),
}
_FOLDERS = {"train": "Train", "test": "Test"}
NMNIST_LAYOUT = ("root/Train/<digit>/<id>.bin and root/Test/<digit>/<id>.bin (ATIS 40-bit event files, "
                 "as Train.zip and Test.zip extract), or those two archives in root")


class NMNIST(FramedEventDataset):
    """N-MNIST ``train``/``test`` split as ``(float32 [T, 2, 34, 34] event counts, digit)``."""

    title = "N-MNIST"
    sensor_size = (34, 34)
    classes = tuple(str(d) for d in range(10))

    def __init__(self, root: Optional[os.PathLike] = None, split: str = "train", T: int = 10,
                 split_by: str = "number", *, download: bool = False, **kwargs):
        if split not in _FOLDERS:
            raise ValueError(f"N-MNIST has the splits 'train' and 'test', got {split!r}")
        root = Path(root).expanduser() if root is not None else default_data_root() / "N-MNIST"
        self._folder = _FOLDERS[split]
        ensure_raw_folders(root, [RawFolder(self._folder, (f"{self._folder}.zip",), NMNIST_RESOURCES[split])],
                           title=f"N-MNIST ({split} split)", layout=NMNIST_LAYOUT, download=download,
                           manual=f"Dataset page: {NMNIST_PAGE}.")
        super().__init__(root, split, T, split_by, **kwargs)

    def _list_samples(self):
        base = self.root / self._folder
        for digit in range(10):
            for path in sorted((base / str(digit)).glob("*.bin")):
                yield f"{self._folder}/{digit}/{path.stem}", digit, path

    def _group_events(self, group: Path, keys):
        yield keys[0], read_events_named(read_atis_bin, group)
