"""fmnist-dvs: Fashion-MNIST recorded by the simulated N-MNIST saccades of :mod:`~mfp_plugin.data.dvs_sim`.

Events are generated once per split and kept in a compact file
(:class:`~mfp_plugin.data.event_pack.EventPack` arrays + labels + metadata,
about 1.06 bytes per event, 2,750 events per image on average)::

    <root>/fmnist_dvs_{train,test}_seed{seed}.npz     (train: 166 MiB, test: 28 MiB)

``root`` defaults to ``$MFP_DATA/fmnist-dvs`` or ``~/.cache/mfp_plugin/data/fmnist-dvs``.
A missing file is generated (tqdm bar; about 4.5 ms of CPU per image, so
roughly 5 minutes for both splits on one free core, peak memory about 2 GB
for train) from the Fashion-MNIST IDX files: those in ``root`` (same layouts
as ``fmnist``) when a root is given, else the default Fashion-MNIST search.
``python scripts/make_fmnist_dvs.py`` does the same from the command line,
with the sources and destination named separately. Loaded, the train split
holds 165 M events in about 420 MB.

Items are framed on access -- no frame cache: decoding and counting an
image's events takes about 0.3 ms -- as N-MNIST's:
``(float32 [T, 2, 34, 34] event counts, int label)``, ``T = 10`` by default
(:data:`FMNIST_DVS_T`): the usual N-MNIST setting, so models move between the
two; split by event number, each frame holds a tenth of the events, about
three frames per saccade.

``fmnist-dvs-bundled`` is ``model_zoo/data/fmnist_dvs_test_subset.npz``: the
events of 1,000 Fashion-MNIST TEST images (the first 100 of each class, by
test-set index, of the bundled 2,000-image ``fmnist-bundled`` subset), seed 0.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from .atomic import atomic_savez
from .errors import DatasetNotFoundError
from .event_augment import RandomTranslate, default_max_shift
from .event_pack import EventPack
from .fashion_mnist import FMNIST_CLASSES, find_fashion_mnist_files, load_fashion_mnist_arrays
from .frame_cache import FrameItemMixin
from .framing import check_split_by, check_T, events_to_frames
from .dvs_sim import CANVAS, DVSParams, simulate_saccades, threshold_maps
from .roots import default_data_root

__all__ = ["FashionMNISTDVS", "FMNIST_DVS_T", "BUNDLED_DVS_FILENAME", "generate_events",
           "write_event_file", "fmnist_dvs_path", "ensure_fmnist_dvs_file", "bundled_fmnist_dvs"]

FMNIST_DVS_T = 10
BUNDLED_DVS_FILENAME = "fmnist_dvs_test_subset.npz"
DEFAULT_SEED = 0


def fmnist_dvs_path(root: Optional[os.PathLike], split: str, seed: int = DEFAULT_SEED) -> Path:
    """``<root>/fmnist_dvs_<split>_seed<seed>.npz`` (``root`` default: ``default_data_root()/fmnist-dvs``)."""
    if split not in ("train", "test"):
        raise ValueError(f"fmnist-dvs has the splits 'train' and 'test', got {split!r}")
    base = Path(root).expanduser() if root is not None else default_data_root() / "fmnist-dvs"
    return base / f"fmnist_dvs_{split}_seed{int(seed)}.npz"


def generate_events(images: np.ndarray, seed: int = DEFAULT_SEED, params: DVSParams = DVSParams(),
                    batch: int = 256, progress: bool = True, desc: str = "fmnist-dvs") -> EventPack:
    """Simulate the saccade recording of uint8 ``[N, 28, 28]`` images, ``batch`` at a time (tqdm bar)."""
    from tqdm.auto import tqdm

    thresholds = threshold_maps(seed, params)
    packs = []
    with tqdm(total=len(images), desc=desc, unit="image", disable=not progress) as bar:
        for lo in range(0, len(images), batch):
            chunk = images[lo:lo + batch]
            runs = simulate_saccades(chunk, seed, params, thresholds=thresholds)
            packs.append(EventPack.from_runs(runs, len(chunk), (CANVAS, CANVAS), params.sample_us))
            bar.update(len(chunk))
    return EventPack.concat(packs)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_event_file(path: os.PathLike, pack: EventPack, labels: np.ndarray, indices: np.ndarray,
                     meta: dict) -> Path:
    """Store a pack with its labels, source indices and a JSON ``meta`` record (atomically)."""
    return atomic_savez(path, labels=np.asarray(labels, dtype=np.uint8),
                        indices=np.asarray(indices, dtype=np.int64),
                        meta=np.array(json.dumps(meta, sort_keys=True)), **pack.arrays())


def make_meta(split: str, seed: int, params: DVSParams, sources: list[Path], note: str = "") -> dict:
    return {"dataset": "fmnist-dvs", "split": split, "seed": int(seed), "params": dataclasses.asdict(params),
            "sensor_size": [CANVAS, CANVAS], "source_files": [p.name for p in sources],
            "source_sha256": [_sha256(p) for p in sources], "note": note}


def ensure_fmnist_dvs_file(root: Optional[os.PathLike], split: str, seed: int = DEFAULT_SEED,
                           progress: bool = True, *, fmnist_root: Optional[os.PathLike] = None) -> Path:
    """The split's event file under ``root``, generated first if it is missing.

    The images come from the Fashion-MNIST IDX files under ``fmnist_root``
    (default: ``root``; ``None``: the default Fashion-MNIST search).
    """
    path = fmnist_dvs_path(root, split, seed)
    if path.is_file():
        return path
    src = fmnist_root if fmnist_root is not None else root
    if find_fashion_mnist_files(src, split) is None:
        where = f"under {src} (fmnist layouts)" if src is not None else "by the default search"
        raise DatasetNotFoundError(
            f"fmnist-dvs ({split} split): {path} does not exist, and the Fashion-MNIST {split} files "
            f"needed to generate it were not found {where}. Generate it with "
            f"`python scripts/make_fmnist_dvs.py --fmnist-root DIR --out {path.parent} --split {split}` "
            "(DIR: the folder with the Fashion-MNIST IDX files, e.g. /usr/share/datasets/fashion-mnist "
            "from `apt-get install dataset-fashion-mnist`), pass download=True (CLI: --download) to fetch "
            "the Fashion-MNIST files first, or use the bundled test subset: fmnist-dvs-bundled.")
    images, labels, files = load_fashion_mnist_arrays(src, split)
    pack = generate_events(images, seed, progress=progress, desc=f"fmnist-dvs {split}: simulating")
    meta = make_meta(split, seed, DVSParams(), list(files))
    return write_event_file(path, pack, labels, np.arange(len(labels)), meta)


def bundled_fmnist_dvs_path() -> Path:
    from .bundled import bundled_data_path
    return bundled_data_path(BUNDLED_DVS_FILENAME, "MFP_BUNDLED_FMNIST_DVS",
                             rebuild="rebuild it with `python scripts/make_fmnist_dvs.py --bundled`")


class FashionMNISTDVS(FrameItemMixin, Dataset):
    """Events of one fmnist-dvs file, framed on access into ``(float32 [T, 2, 34, 34], int)``."""

    classes = FMNIST_CLASSES
    sensor_size = (CANVAS, CANVAS)

    def __init__(self, path: os.PathLike, T: int = FMNIST_DVS_T, split_by: str = "number", *,
                 transform: Optional[Callable] = None, target_transform: Optional[Callable] = None,
                 augment: bool = False, expect_seed: Optional[int] = None):
        self.path = Path(path)
        self.T, self.split_by = check_T(T), check_split_by(split_by)
        self.transform, self.target_transform = transform, target_transform
        self.augment = RandomTranslate(default_max_shift(CANVAS)) if augment else None
        with np.load(self.path, allow_pickle=False) as z:
            self.pack = EventPack.from_arrays(z)
            self.targets = [int(v) for v in z["labels"]]
            self.indices = z["indices"].astype(np.int64)
            self.meta = json.loads(str(z["meta"]))
        self._check(expect_seed)
        self.split = self.meta["split"]

    def _check(self, expect_seed: Optional[int]) -> None:
        want = DVSParams().version
        got = self.meta.get("params", {}).get("version")
        if got != want:
            raise ValueError(f"{self.path} was made by simulation {got!r}, this code is {want!r}; "
                             "delete it and generate it again (scripts/make_fmnist_dvs.py)")
        if expect_seed is not None and self.meta.get("seed") != expect_seed:
            raise ValueError(f"{self.path} holds seed {self.meta.get('seed')}, expected {expect_seed}")
        if len(self.targets) != len(self.pack) or self.pack.sensor_size != self.sensor_size:
            raise ValueError(f"{self.path}: labels/events disagree ({len(self.targets)} labels, "
                             f"{len(self.pack)} recordings, sensor {self.pack.sensor_size})")

    def __len__(self) -> int:
        return len(self.pack)

    def events(self, index: int) -> dict[str, np.ndarray]:
        """The raw events of item ``index``: ``t`` (us), ``x``, ``y``, ``p``."""
        return self.pack.events(index)

    def __getitem__(self, index: int):
        frames = events_to_frames(self.pack.events(index), self.T, CANVAS, CANVAS, self.split_by)
        return self._item(torch.from_numpy(frames.astype(np.float32)), index)

    def __repr__(self) -> str:
        return (f"FashionMNISTDVS(split={self.split!r}, n={len(self)}, T={self.T}, "
                f"split_by={self.split_by!r}, seed={self.meta.get('seed')}, path={str(self.path)!r})")


def bundled_fmnist_dvs(T: int = FMNIST_DVS_T, split_by: str = "number", **kwargs) -> FashionMNISTDVS:
    """The bundled 1,000-image fmnist-dvs test subset (no generation, no download)."""
    return FashionMNISTDVS(bundled_fmnist_dvs_path(), T, split_by, **kwargs)
