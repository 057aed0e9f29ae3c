"""DVS128 Gesture (Amir et al. 2017): 11 hand and arm gestures by 29 people under 5 lightings.

Layout read under ``root`` (default ``$MFP_DATA/DVS128-Gesture`` or
``~/.cache/mfp_plugin/data/DVS128-Gesture``), as ``DvsGesture.tar.gz`` extracts::

    root/DvsGesture/trials_to_train.txt           recording names (userNN_<lighting>.aedat), one a line
    root/DvsGesture/trials_to_test.txt
    root/DvsGesture/userNN_<lighting>.aedat       AEDAT 3.1, 128x128
    root/DvsGesture/userNN_<lighting>_labels.csv  class,startTime_usec,endTime_usec (class 1..11)

``root/DvsGesture.tar.gz`` is extracted on first use. The archive cannot be
fetched by a script (IBM's Box folder needs a browser): download it from
:data:`DVSGESTURE_URL`.

Each csv row cuts one sample from its recording: the events with
``startTime_usec <= t < endTime_usec``, label ``class - 1`` -- SpikingJelly's
rule (``spikingjelly.datasets.dvs128_gesture``), re-done here because its
helper writes ``.npz`` files into its own folder layout. Samples are ordered by
the trials file, then csv row. With the official files: 1,176 train and 288
test samples (SpikingJelly's counts).

Frames are cached under ``root/frames_T{T}_{split_by}/DvsGesture/userNN_<lighting>_<row>.npz``;
a recording is read once for all its samples. Items: ``(float32 [T, 2, 128, 128], int)``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from .archives import RawFolder, ensure_raw_folders
from .errors import DatasetNotFoundError
from .event_readers import read_aedat3
from .frame_cache import FramedEventDataset, read_events_named
from .roots import default_data_root

__all__ = ["DVSGesture", "DVSGESTURE_CLASSES", "DVSGESTURE_URL", "DVSGESTURE_LAYOUT", "read_gesture_labels"]

DVSGESTURE_CLASSES = ("hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
                      "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise",
                      "arm_roll", "air_drums", "air_guitar", "other_gestures")
#: where the official archive is published (SpikingJelly's ``DVS128Gesture.resource_url_md5``; a test checks)
DVSGESTURE_URL = "https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794"
DVSGESTURE_ARCHIVE_MD5 = "8a5c71fb11e24e5ca5b11866ca6c00a1"
DVSGESTURE_LAYOUT = ("root/DvsGesture/ holding trials_to_train.txt, trials_to_test.txt, "
                     "userNN_<lighting>.aedat and userNN_<lighting>_labels.csv (as DvsGesture.tar.gz "
                     "extracts), or DvsGesture.tar.gz in root")
_TRIALS = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}


def read_gesture_labels(path: Path) -> np.ndarray:
    """``int64 [n, 3]`` rows ``(label 0..10, start_us, end_us)`` of a ``*_labels.csv`` file."""
    try:
        rows = np.loadtxt(path, dtype=np.int64, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: expected rows 'class,startTime_usec,endTime_usec' ({exc})") from exc
    if rows.shape[1] != 3:
        raise ValueError(f"{path}: expected 3 columns (class,startTime_usec,endTime_usec), got {rows.shape[1]}")
    if rows.size and (rows[:, 0].min() < 1 or rows[:, 0].max() > 11):
        raise ValueError(f"{path}: classes must be 1..11, found {rows[:, 0].min()}..{rows[:, 0].max()}")
    rows[:, 0] -= 1
    return rows


class DVSGesture(FramedEventDataset):
    """DVS128 Gesture ``train``/``test`` split (by the official trials files)."""

    title = "DVS128 Gesture"
    sensor_size = (128, 128)
    classes = DVSGESTURE_CLASSES

    def __init__(self, root: Optional[os.PathLike] = None, split: str = "train", T: int = 16,
                 split_by: str = "number", *, download: bool = False, **kwargs):
        if split not in _TRIALS:
            raise ValueError(f"DVS128 Gesture has the splits 'train' and 'test', got {split!r}")
        root = Path(root).expanduser() if root is not None else default_data_root() / "DVS128-Gesture"
        manual = (f"DvsGesture.tar.gz (md5 {DVSGESTURE_ARCHIVE_MD5}) cannot be downloaded by a script: "
                  f"get it from {DVSGESTURE_URL} and put it, or the DvsGesture/ folder it extracts to, in {root}.")
        if download and not (root / "DvsGesture").is_dir() and not (root / "DvsGesture.tar.gz").is_file():
            raise DatasetNotFoundError(f"DVS128 Gesture: download=True is not possible. {manual}")
        ensure_raw_folders(root, [RawFolder("DvsGesture", ("DvsGesture.tar.gz",))],
                           title=f"DVS128 Gesture ({split} split)", layout=DVSGESTURE_LAYOUT,
                           download=False, manual=manual)
        self._cuts: dict[str, np.ndarray] = {}
        super().__init__(root, split, T, split_by, **kwargs)

    def _recordings(self) -> list[str]:
        folder = self.root / "DvsGesture"
        trials = folder / _TRIALS[self.split]
        if not trials.is_file():
            raise DatasetNotFoundError(f"DVS128 Gesture: {trials} is missing. Expected layout: {DVSGESTURE_LAYOUT}")
        names = [line.strip() for line in trials.read_text().splitlines() if line.strip()]
        stems = [name[:-len(".aedat")] if name.endswith(".aedat") else name for name in names]
        absent = [str(folder / f) for s in stems for f in (f"{s}.aedat", f"{s}_labels.csv")
                  if not (folder / f).is_file()]
        if absent:
            raise DatasetNotFoundError(f"DVS128 Gesture: {trials} names files that are missing: "
                                       f"{', '.join(absent)}. Expected layout: {DVSGESTURE_LAYOUT}")
        return stems

    def _list_samples(self):
        folder = self.root / "DvsGesture"
        for stem in self._recordings():
            cuts = read_gesture_labels(folder / f"{stem}_labels.csv")
            self._cuts[stem] = cuts
            for row, (label, _, _) in enumerate(cuts):
                yield f"DvsGesture/{stem}_{row}", int(label), stem

    def _group_events(self, stem: str, keys):
        events = read_events_named(read_aedat3, self.root / "DvsGesture" / f"{stem}.aedat")
        t = events["t"]
        for key in keys:
            _, start, end = self._cuts[stem][int(key.rsplit("_", 1)[1])]
            mask = (t >= start) & (t < end)
            yield key, {k: v[mask] for k, v in events.items()}
