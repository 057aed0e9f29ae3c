"""Integrate an event stream into ``T`` two-channel count frames ``[T, 2, H, W]``.

Channel 0 counts OFF events (``p == 0``), channel 1 ON events, as in
SpikingJelly. How the ``N`` events are cut into ``T`` slices:

* ``split_by="number"`` (default) is SpikingJelly's rule
  (``spikingjelly.datasets.cal_fixed_frames_number_segment_index``), used as is:
  with ``d = N // T``, slice ``j`` holds events ``[j*d, (j+1)*d)`` in file order,
  and the last slice also takes the remaining ``N - T*d`` events. So with fewer
  than ``T`` events, every event lands in the last frame.
* ``split_by="time"`` follows SpikingJelly's time rule: with
  ``dt = (t[-1] - t[0]) // T`` slice ``j`` holds the events with
  ``t[0] + j*dt <= t < t[0] + (j+1)*dt``; the last slice also takes everything
  after. Written here with ``searchsorted`` because SpikingJelly's version
  raises ``IndexError`` when a slice is empty (sparse recordings, or
  ``dt == 0``); here an empty slice gives an all-zero frame. Events are put in
  time order first (stable sort) when the file's timestamps are not monotonic.

Counting into a frame is SpikingJelly's ``integrate_events_segment_to_frame``.
SpikingJelly is imported only when frames are computed (it costs seconds).

>>> import numpy as np
>>> ev = dict(t=np.array([0, 1, 2, 3, 4]), x=np.array([0, 1, 0, 1, 1]),
...           y=np.zeros(5, int), p=np.array([1, 1, 0, 1, 1]))
>>> f = events_to_frames(ev, T=2, H=1, W=2)      # d = 5 // 2 = 2: events [0, 2) and [2, 5)
>>> f[:, 1, 0].tolist(), f[:, 0, 0].tolist()     # ON counts per frame, OFF counts per frame
([[1, 1], [0, 2]], [[0, 0], [1, 0]])
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["SPLIT_BY", "check_T", "check_split_by", "segment_bounds", "events_to_frames",
           "compact_counts"]

SPLIT_BY = ("number", "time")


def check_T(T) -> int:
    """``T`` as a positive ``int`` (``TypeError``/``ValueError`` otherwise)."""
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)):
        raise TypeError(f"T (the number of frames) must be an int, got {type(T).__name__}: {T!r}")
    if T < 1:
        raise ValueError(f"T (the number of frames) must be >= 1, got {T}")
    return int(T)


def check_split_by(split_by) -> str:
    if split_by not in SPLIT_BY:
        raise ValueError(f"split_by must be 'number' or 'time', got {split_by!r}")
    return split_by


def segment_bounds(t: np.ndarray, T: int, split_by: str = "number") -> tuple[np.ndarray, np.ndarray]:
    """``(j_l, j_r)``: frame ``j`` integrates events ``[j_l[j], j_r[j])`` (``t`` must be sorted for "time")."""
    T, split_by = check_T(T), check_split_by(split_by)
    n = int(np.asarray(t).size)
    if n == 0:
        return np.zeros(T, dtype=np.int64), np.zeros(T, dtype=np.int64)
    if split_by == "number":
        from spikingjelly.datasets import cal_fixed_frames_number_segment_index
        j_l, j_r = cal_fixed_frames_number_segment_index(np.asarray(t), "number", T)
        return np.asarray(j_l, dtype=np.int64), np.asarray(j_r, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    dt = (t[-1] - t[0]) // T
    edges = t[0] + dt * np.arange(T + 1, dtype=np.int64)
    j_l = np.searchsorted(t, edges[:-1], side="left")
    j_r = np.searchsorted(t, edges[1:], side="left")
    j_r[-1] = n
    return j_l.astype(np.int64), j_r.astype(np.int64)


def _checked_events(events: Mapping[str, np.ndarray], H: int, W: int):
    try:
        t, x, y, p = (np.asarray(events[k]).reshape(-1) for k in ("t", "x", "y", "p"))
    except KeyError as exc:
        raise ValueError(f"events need the keys 't', 'x', 'y', 'p'; missing {exc}") from None
    if not (t.size == x.size == y.size == p.size):
        raise ValueError(f"events' t, x, y, p differ in length: {t.size}, {x.size}, {y.size}, {p.size}")
    if x.size and (x.min() < 0 or x.max() >= W or y.min() < 0 or y.max() >= H):
        raise ValueError(f"events fall outside the {H}x{W} sensor: x in [{x.min()}, {x.max()}], "
                         f"y in [{y.min()}, {y.max()}]")
    return t, x, y, p


def events_to_frames(events: Mapping[str, np.ndarray], T: int, H: int, W: int,
                     split_by: str = "number") -> np.ndarray:
    """Event counts ``int64 [T, 2, H, W]`` from ``events`` (a dict of ``t, x, y, p`` arrays)."""
    T, split_by = check_T(T), check_split_by(split_by)
    t, x, y, p = _checked_events(events, H, W)
    frames = np.zeros((T, 2, H, W), dtype=np.int64)
    if t.size == 0:
        return frames
    if split_by == "time" and np.any(np.diff(t.astype(np.int64)) < 0):
        order = np.argsort(t, kind="stable")
        t, x, y, p = t[order], x[order], y[order], p[order]
    from spikingjelly.datasets import integrate_events_segment_to_frame
    j_l, j_r = segment_bounds(t, T, split_by)
    for j in range(T):
        if j_r[j] > j_l[j]:
            frames[j] = integrate_events_segment_to_frame(x, y, p, H, W, int(j_l[j]), int(j_r[j]))
    return frames


def compact_counts(frames: np.ndarray) -> np.ndarray:
    """``frames`` as the smallest unsigned dtype that holds them (uint8/16/32), for caching."""
    top = int(frames.max()) if frames.size else 0
    if frames.size and int(frames.min()) < 0:
        raise ValueError("event counts cannot be negative")
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return frames.astype(dtype)
    raise ValueError(f"an event count of {top} does not fit uint32")
