"""Base class of the recorded event datasets: frames integrated once, cached beside the raw data.

A subclass lists its samples as ``(key, label, group)``: ``key`` names the
sample's cache file, ``group`` the raw file that holds it (one file per sample
in N-MNIST and CIFAR10-DVS; one recording per several gestures in DVS128
Gesture, read once for all of them). On construction every sample without a
cache file is framed (:func:`~mfp_plugin.data.framing.events_to_frames`, a
tqdm bar shows progress) and written atomically to::

    <cache_root>/frames_T{T}_{split_by}/<key>.npz     (array "frames": uint8/16/32 [T, 2, H, W])

``cache_root`` defaults to the dataset root. A cache file is never
recomputed: delete the ``frames_T*`` folder after replacing raw files.
Items are ``(float32 tensor [T, 2, H, W] of event counts, int label)``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Hashable, Iterable, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .atomic import atomic_savez
from .event_augment import RandomTranslate, default_max_shift
from .framing import check_split_by, check_T, compact_counts, events_to_frames

__all__ = ["FramedEventDataset", "cache_folder_name", "read_events_named"]


def cache_folder_name(T: int, split_by: str) -> str:
    """``frames_T{T}_{split_by}``: the folder that holds one framing of a dataset."""
    return f"frames_T{check_T(T)}_{check_split_by(split_by)}"


def read_events_named(reader: Callable, path: Path) -> dict:
    """``reader(path)``, with any parse failure re-raised as ``ValueError`` naming the file."""
    try:
        return reader(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # struct.error, IndexError, ...: the file is not in the expected format
        raise ValueError(f"{path}: cannot read events ({type(exc).__name__}: {exc})") from exc


class FrameItemMixin:
    """An event-frame item: the frames through ``transform`` (else ``augment``), the label through
    ``target_transform``; shared by the recorded sets and fmnist-dvs."""

    def _item(self, x: torch.Tensor, index: int):
        if self.transform is not None:
            x = self.transform(x)
        elif self.augment is not None:
            x = self.augment(x)
        y = self.targets[index]
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y


class FramedEventDataset(FrameItemMixin, Dataset):
    """Shared machinery; subclasses set ``title``, ``sensor_size`` ``(H, W)``, ``classes`` and implement
    :meth:`_list_samples` and :meth:`_group_events`."""

    title = ""
    sensor_size: tuple[int, int] = (0, 0)
    classes: Sequence[str] = ()

    def __init__(self, root: Path, split: str, T: int, split_by: str = "number", *,
                 transform: Optional[Callable] = None, target_transform: Optional[Callable] = None,
                 augment: bool = False, cache_root: Optional[os.PathLike] = None, progress: bool = True):
        self.root = Path(root).expanduser()
        self.split = split
        self.T, self.split_by = check_T(T), check_split_by(split_by)
        self.transform, self.target_transform = transform, target_transform
        self.augment = RandomTranslate(default_max_shift(self.sensor_size[0])) if augment else None
        base = Path(cache_root).expanduser() if cache_root is not None else self.root
        self.cache_dir = base / cache_folder_name(self.T, self.split_by)
        self.samples = list(self._list_samples())
        if not self.samples:
            raise ValueError(f"{self.title}: the {split} split under {self.root} holds no samples")
        self.targets = [int(label) for _, label, _ in self.samples]
        self._build_missing(progress)

    # ---- subclass hooks
    def _list_samples(self) -> Iterable[tuple[str, int, Hashable]]:
        raise NotImplementedError

    def _group_events(self, group: Hashable, keys: Sequence[str]) -> Iterable[tuple[str, dict]]:
        """``(key, events)`` for each of ``keys`` (all from ``group``)."""
        raise NotImplementedError

    # ---- cache
    def cache_path(self, key: str) -> Path:
        return self.cache_dir / f"{key}.npz"

    def _build_missing(self, progress: bool) -> None:
        missing: dict[Hashable, list[str]] = {}
        for key, _, group in self.samples:
            if not self.cache_path(key).is_file():
                missing.setdefault(group, []).append(key)
        if not missing:
            return
        from tqdm.auto import tqdm
        H, W = self.sensor_size
        bar = tqdm(total=sum(len(k) for k in missing.values()), disable=not progress, unit="sample",
                   desc=f"{self.title} {self.split}: framing T={self.T} by {self.split_by}")
        with bar:
            for group, keys in missing.items():
                for key, events in self._group_events(group, keys):
                    frames = events_to_frames(events, self.T, H, W, self.split_by)
                    self._write(key, compact_counts(frames))
                    bar.update(1)

    def _write(self, key: str, frames: np.ndarray) -> None:
        try:
            atomic_savez(self.cache_path(key), frames=frames)
        except PermissionError as exc:
            raise PermissionError(
                f"{self.title}: cannot write the frame cache {self.cache_dir} ({exc}). Pass "
                "cache_root=DIR (get_dataset(..., cache_root=DIR)) to keep the frames elsewhere.") from exc

    # ---- items
    def __len__(self) -> int:
        return len(self.samples)

    def load_frames(self, index: int) -> torch.Tensor:
        """The cached event counts of sample ``index`` as float32 ``[T, 2, H, W]``."""
        path = self.cache_path(self.samples[index][0])
        with np.load(path, allow_pickle=False) as z:
            frames = z["frames"]
        want = (self.T, 2, *self.sensor_size)
        if frames.shape != want:
            raise ValueError(f"{path}: cached frames have shape {frames.shape}, expected {want}; "
                             f"delete {self.cache_dir} to rebuild it")
        return torch.from_numpy(frames.astype(np.float32))

    def __getitem__(self, index: int):
        return self._item(self.load_frames(index), index)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, n={len(self)}, T={self.T}, "
                f"split_by={self.split_by!r}, root={str(self.root)!r})")
