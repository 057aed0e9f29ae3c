"""A simulated N-MNIST recording: an image moved along three saccades in front of an ideal DVS pixel array.

N-MNIST (Orchard et al. 2015, "Converting static image datasets to spiking
neuromorphic datasets using saccades") was recorded by an ATIS camera on a
pan-tilt unit making three quick saccades in front of a monitor showing the
digit; the image's path on the sensor is a triangle. This module reproduces
that protocol in software, for any 28x28 grey images (Fashion-MNIST here):

* **Scene.** The 28x28 image (pixel value / 255, in [0, 1]) lies on a black
  34x34 canvas, as N-MNIST's 34x34 sensor crop. Its top-left corner is at
  ``(dx, dy)`` (x right, y down, in pixels); sub-pixel positions are rendered
  by bilinear interpolation; outside the image the canvas is 0.
* **Path.** ``(dx, dy)`` moves on straight lines through the vertices
  :data:`SACCADE_VERTICES` ``(0,0) -> (3,6) -> (6,0) -> (0,0)``: three
  saccades of :data:`SACCADE_US` = 100 ms each (300 ms in all), at constant
  speed within each (6.7, 6.7 and 6.0 px per saccade: 67, 67 and 60 px/s).
  This is N-MNIST's triangle -- Orchard's stabilisation code undoes shifts of
  (3.5, 7), (3.5, -7), (-7, 0) px per ~105 ms saccade -- scaled by 6/7 so that
  the image never leaves the 34x34 frame (28 + 6 = 34).
* **Sampling.** The scene is rendered every :data:`SAMPLE_US` = 1 ms:
  ``S = 300`` samples after the initial one at ``t = 0``. Events carry the
  sample time ``t = k * 1000`` microseconds (``k = 1..300``).
* **Pixels.** Each pixel tracks ``L = ln(I + eps)`` (``eps = 0.2``: a dark
  level that keeps black finite) against a reference ``L_ref``, set to the
  first sample's ``L`` (no events at ``t = 0``). At each sample, if
  ``L - L_ref >= C_on`` the pixel emits ``n = floor((L - L_ref) / C_on)`` ON
  events (``p = 1``) and ``L_ref += n * C_on``; if ``L_ref - L >= C_off`` it
  emits ``n = floor((L_ref - L) / C_off)`` OFF events (``p = 0``) and
  ``L_ref -= n * C_off``. The reference thus moves by whole thresholds, to
  the level of its last crossing, as if the pixel were watched continuously;
  the ``n`` events share the sample's timestamp.
* **Thresholds.** ``C = 0.5`` (contrast in natural-log units), with a fixed
  per-pixel mismatch, as in a real sensor: ``C_on`` and ``C_off`` are two
  34x34 maps drawn once from ``N(0.5, 0.05^2)`` (clipped at 0.05) by
  ``numpy.random.default_rng(seed)``. The seed picks the "sensor": events
  are a deterministic function of (image, seed) -- the same on every run
  and in any batch -- and different seeds give different events.
* **Not modelled:** refractory period (none), noise (none: no background
  activity, no hot pixels, no shot noise), latency and bus limits (none).

With these settings a Fashion-MNIST image gives 2,750 events on average (test
split: 484 to 8,803 per image; train: 278 to 10,408). Event order (what
framing by number sees): by time, then ``y``, then ``x``.

>>> import numpy as np
>>> frames = np.array([[[0.1, 0.5]], [[0.5, 0.1]]])          # 2 samples of a 1x2 sensor
>>> ev = events_from_frames(frames, times_us=[0, 1000], c_on=0.25, c_off=0.25, eps=0.1)
>>> ev["t"].tolist(), ev["x"].tolist(), ev["p"].tolist()     # ln 3 = 1.0986: 4 ON at x=0, 4 OFF at x=1
([1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000], [0, 0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0, 0])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np

__all__ = ["DVSParams", "SACCADE_VERTICES", "SACCADE_US", "SAMPLE_US", "CANVAS", "saccade_offset",
           "render_shifted", "threshold_maps", "events_from_frames", "simulate_saccades", "runs_to_events"]

#: top-left corner of the image on the 34x34 canvas at the start and end of each saccade (dx, dy), pixels
SACCADE_VERTICES = ((0.0, 0.0), (3.0, 6.0), (6.0, 0.0), (0.0, 0.0))
SACCADE_US = 100_000
SAMPLE_US = 1_000
CANVAS = 34
IMAGE = 28


@dataclass(frozen=True)
class DVSParams:
    """The simulation's constants (see the module doc); ``version`` names this exact model."""

    threshold: float = 0.5
    threshold_sigma: float = 0.05
    min_threshold: float = 0.05
    eps: float = 0.2
    sample_us: int = SAMPLE_US
    saccade_us: int = SACCADE_US
    version: str = "fmnist-dvs-1"

    @property
    def num_samples(self) -> int:
        """Samples after ``t = 0``: ``S = 3 * saccade_us / sample_us``."""
        return 3 * self.saccade_us // self.sample_us


def saccade_offset(t_us: float, saccade_us: int = SACCADE_US) -> tuple[float, float]:
    """``(dx, dy)`` of the image's top-left corner at time ``t_us`` (clamped to ``[0, 3 * saccade_us]``).

    >>> saccade_offset(0), saccade_offset(50_000), saccade_offset(100_000), saccade_offset(250_000)
    ((0.0, 0.0), (1.5, 3.0), (3.0, 6.0), (3.0, 0.0))
    """
    t = min(max(float(t_us), 0.0), 3.0 * saccade_us)
    leg = min(int(t // saccade_us), 2)
    f = (t - leg * saccade_us) / saccade_us
    (x0, y0), (x1, y1) = SACCADE_VERTICES[leg], SACCADE_VERTICES[leg + 1]
    return x0 + f * (x1 - x0), y0 + f * (y1 - y0)


def render_shifted(images: np.ndarray, dx: float, dy: float, size: int = CANVAS) -> np.ndarray:
    """``[B, h, w]`` images placed at top-left ``(dx, dy)`` on a zero ``size x size`` canvas (bilinear).

    >>> render_shifted(np.ones((1, 1, 1)), 0.25, 0.0, size=3)[0].tolist()
    [[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    b, h, w = images.shape
    ix, iy = int(np.floor(dx)), int(np.floor(dy))
    fx, fy = dx - ix, dy - iy
    if ix < 0 or iy < 0 or ix + w + (fx > 0) > size or iy + h + (fy > 0) > size:
        raise ValueError(f"an image of {h}x{w} at ({dx}, {dy}) does not fit a {size}x{size} canvas")
    out = np.zeros((b, size, size), dtype=images.dtype)
    for ox, oy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                        (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        if wgt > 0:
            out[:, iy + oy:iy + oy + h, ix + ox:ix + ox + w] += wgt * images
    return out


def threshold_maps(seed: int, params: DVSParams = DVSParams(),
                   shape: tuple[int, int] = (CANVAS, CANVAS)) -> tuple[np.ndarray, np.ndarray]:
    """The sensor's per-pixel ``(C_on, C_off)`` maps for ``seed`` (float64)."""
    rng = np.random.default_rng(seed)
    maps = params.threshold + params.threshold_sigma * rng.standard_normal((2, *shape))
    maps = np.maximum(maps, params.min_threshold)
    return maps[0], maps[1]


def _dvs_step(L: np.ndarray, L_ref: np.ndarray, c_on: np.ndarray, c_off: np.ndarray):
    """One sample of the pixel model: ``(index, n)`` of the pixels that fire, ``n`` signed (ON > 0).

    ``L``, ``L_ref``: ``[..., H, W]``; ``c_on``, ``c_off``: ``[H, W]``. Updates
    ``L_ref`` in place. Only the few pixels past a threshold are divided.
    """
    d = L - L_ref
    idx = np.nonzero((d >= c_on) | (d <= -c_off))
    dd = d[idx]
    con, coff = c_on[idx[-2:]], c_off[idx[-2:]]
    up = dd > 0
    n = np.where(up, np.floor(dd / con), -np.floor(-dd / coff))
    L_ref[idx] += n * np.where(up, con, coff)
    return idx, n.astype(np.int64)


def runs_to_events(step: np.ndarray, y: np.ndarray, x: np.ndarray, n: np.ndarray,
                   sample_us: int = SAMPLE_US) -> dict[str, np.ndarray]:
    """Expand runs (``|n|`` events of sign ``n`` at one pixel and sample) into event arrays."""
    order = np.lexsort((x, y, step))
    step, y, x, n = step[order], y[order], x[order], n[order]
    reps = np.abs(n)
    return {"t": np.repeat(step.astype(np.int64) * sample_us, reps),
            "x": np.repeat(x.astype(np.int64), reps), "y": np.repeat(y.astype(np.int64), reps),
            "p": np.repeat((n > 0).astype(np.int64), reps)}


def events_from_frames(frames: np.ndarray, times_us: Sequence[int], c_on: Union[float, np.ndarray],
                       c_off: Union[float, np.ndarray], eps: float) -> dict[str, np.ndarray]:
    """The pixel model alone: events of intensity samples ``frames [S, H, W]`` taken at ``times_us``."""
    frames = np.asarray(frames, dtype=np.float64)
    times = np.asarray(times_us, dtype=np.int64)
    if frames.ndim != 3 or frames.shape[0] != times.shape[0] or frames.shape[0] < 1:
        raise ValueError(f"frames must be [S, H, W] with one time per sample; got {frames.shape} "
                         f"and {times.shape[0]} times")
    if eps <= 0 or frames.min() + eps <= 0:
        raise ValueError("intensities + eps must be > 0 (the pixels take their log)")
    shape = frames.shape[1:]
    c_on, c_off = (np.broadcast_to(np.asarray(c, dtype=np.float64), shape) for c in (c_on, c_off))
    L_ref = np.log(frames[0] + eps)
    steps, ys, xs, ns = [], [], [], []
    for k in range(1, frames.shape[0]):
        (y, x), n = _dvs_step(np.log(frames[k] + eps), L_ref, c_on, c_off)
        steps.append(np.full(y.size, k)), ys.append(y), xs.append(x), ns.append(n)
    cat = (lambda a: np.concatenate(a) if a else np.zeros(0, np.int64))
    ev = runs_to_events(cat(steps), cat(ys), cat(xs), cat(ns), sample_us=1)
    ev["t"] = times[ev["t"]]  # sample index -> its timestamp
    return ev


def simulate_saccades(images: np.ndarray, seed: int, params: DVSParams = DVSParams(),
                      thresholds: Optional[tuple[np.ndarray, np.ndarray]] = None):
    """Run the recording for a batch of uint8 ``[B, 28, 28]`` images.

    Returns runs ``(image, step, y, x, n)``: image ``image`` emitted ``|n|``
    events of polarity ``n > 0`` at pixel ``(x, y)`` at ``t = step * sample_us``.
    """
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE, IMAGE):
        raise ValueError(f"images must be uint8 [B, 28, 28], got {images.dtype} {images.shape}")
    c_on, c_off = thresholds if thresholds is not None else threshold_maps(seed, params)
    x01 = images.astype(np.float64) / 255.0
    L_ref = np.log(render_shifted(x01, *saccade_offset(0, params.saccade_us)) + params.eps)
    out = [[] for _ in range(5)]
    for k in range(1, params.num_samples + 1):
        frame = render_shifted(x01, *saccade_offset(k * params.sample_us, params.saccade_us))
        (b, y, x), n = _dvs_step(np.log(frame + params.eps), L_ref, c_on, c_off)
        for lst, arr in zip(out, (b, np.full(b.size, k), y, x, n)):
            lst.append(arr)
    return tuple(np.concatenate(a) if a else np.zeros(0, np.int64) for a in out)
