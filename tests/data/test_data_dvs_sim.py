"""The fmnist-dvs simulation: pixel model on hand-built frames, saccade path, rendering, determinism."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mfp_plugin.data.dvs_sim import (DVSParams, events_from_frames, render_shifted, runs_to_events,
                                     saccade_offset, simulate_saccades, threshold_maps)


def tuples(ev):
    return list(zip(ev["t"].tolist(), ev["x"].tolist(), ev["y"].tolist(), ev["p"].tolist()))


def test_two_frames_give_the_hand_computed_events():
    f0 = [[0.1, 0.5, 0.9], [0.3, 0.3, 0.0]]
    f1 = [[0.5, 0.1, 0.9], [0.3, 0.9, 0.0]]
    # eps = 0.1: dL = ln(0.6/0.2) = 1.0986 at (0,0); -1.0986 at (1,0); ln(1.0/0.4) = 0.9163 at (1,1)
    ev = events_from_frames(np.array([f0, f1]), [0, 1000], c_on=0.25, c_off=0.25, eps=0.1)
    want = [(1000, 0, 0, 1)] * 4 + [(1000, 1, 0, 0)] * 4 + [(1000, 1, 1, 1)] * 3  # floor(4.39), floor(4.39), floor(3.67)
    assert tuples(ev) == want
    # separate ON/OFF thresholds: floor(1.0986/0.3) = 3 ON, floor(1.0986/0.5) = 2 OFF, floor(0.9163/0.3) = 3 ON
    ev = events_from_frames(np.array([f0, f1]), [0, 1000], c_on=0.3, c_off=0.5, eps=0.1)
    assert tuples(ev) == [(1000, 0, 0, 1)] * 3 + [(1000, 1, 0, 0)] * 2 + [(1000, 1, 1, 1)] * 3


def test_reference_moves_by_whole_thresholds():
    # I + eps = 0.2, 0.26, 0.332, 0.15 with C = 0.25:
    # 1: ln 1.3 = 0.262 -> 1 ON, L_ref = ln 0.2 + 0.25
    # 2: ln(0.332/0.2) - 0.25 = 0.2568 -> 1 ON (reset to ln 0.26 instead would give 0.2445: none)
    # 3: ln(0.15/0.2) - 0.5 = -0.7877 -> floor(3.15) = 3 OFF
    frames = np.array([0.1, 0.16, 0.232, 0.05]).reshape(4, 1, 1)
    ev = events_from_frames(frames, [0, 10, 20, 30], c_on=0.25, c_off=0.25, eps=0.1)
    assert tuples(ev) == [(10, 0, 0, 1), (20, 0, 0, 1), (30, 0, 0, 0), (30, 0, 0, 0), (30, 0, 0, 0)]


def test_a_change_just_below_the_threshold_is_silent():
    below = 0.2 * math.exp(0.2499) - 0.1
    frames = np.array([0.1, below]).reshape(2, 1, 1)
    assert events_from_frames(frames, [0, 1], 0.25, 0.25, 0.1)["t"].size == 0
    above = 0.2 * math.exp(0.2501) - 0.1
    frames = np.array([0.1, above]).reshape(2, 1, 1)
    assert tuples(events_from_frames(frames, [0, 1], 0.25, 0.25, 0.1)) == [(1, 0, 0, 1)]


def test_pixel_model_rejects_bad_input():
    with pytest.raises(ValueError, match="one time per sample"):
        events_from_frames(np.zeros((2, 3, 3)), [0], 0.2, 0.2, 0.1)
    with pytest.raises(ValueError, match="> 0"):
        events_from_frames(np.zeros((2, 3, 3)), [0, 1], 0.2, 0.2, 0.0)


def test_saccade_path_is_the_scaled_triangle():
    us = 100_000
    assert [saccade_offset(k * us) for k in range(4)] == [(0.0, 0.0), (3.0, 6.0), (6.0, 0.0), (0.0, 0.0)]
    assert saccade_offset(25_000) == (0.75, 1.5) and saccade_offset(150_000) == (4.5, 3.0)
    assert saccade_offset(275_000) == (1.5, 0.0) and saccade_offset(-5) == (0.0, 0.0)
    assert saccade_offset(400_000) == (0.0, 0.0)
    p = DVSParams()
    assert p.num_samples == 300 and p.sample_us == 1000 and p.threshold == 0.5 and p.eps == 0.2


def test_render_is_bilinear_and_keeps_the_image_inside():
    img = np.zeros((1, 28, 28))
    img[0, 0, 0] = 1.0
    out = render_shifted(img, 2.25, 1.5)
    assert out.shape == (1, 34, 34)
    assert out[0, 1, 2] == 0.75 * 0.5 and out[0, 1, 3] == 0.25 * 0.5
    assert out[0, 2, 2] == 0.75 * 0.5 and out[0, 2, 3] == 0.25 * 0.5 and out.sum() == 1.0
    rng = np.random.default_rng(0)
    imgs = rng.random((2, 28, 28))
    for k in range(0, 301, 7):  # every position on the path: nothing falls off the 34x34 frame
        dx, dy = saccade_offset(k * 1000)
        assert np.allclose(render_shifted(imgs, dx, dy).sum(axis=(1, 2)), imgs.sum(axis=(1, 2)))
    with pytest.raises(ValueError, match="does not fit"):
        render_shifted(imgs, 6.5, 0.0)


def test_threshold_maps_are_a_seeded_sensor():
    a_on, a_off = threshold_maps(0)
    b_on, _ = threshold_maps(0)
    c_on, _ = threshold_maps(1)
    assert a_on.shape == (34, 34) and np.array_equal(a_on, b_on) and not np.array_equal(a_on, c_on)
    assert not np.array_equal(a_on, a_off)
    both = np.concatenate([a_on.ravel(), a_off.ravel()])
    assert abs(both.mean() - 0.5) < 0.01 and 0.04 < both.std() < 0.06 and both.min() >= 0.05


def fake_images(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, 28, 28), dtype=np.uint8)
    imgs[:, 6:22, 8:20] = rng.integers(60, 256, (n, 16, 12), dtype=np.uint8)
    return imgs


def test_simulation_equals_the_pixel_model_on_the_rendered_scene():
    imgs = fake_images(2)
    p = DVSParams()
    c_on, c_off = threshold_maps(5)
    rec, step, y, x, n = simulate_saccades(imgs, seed=5)
    times = [k * p.sample_us for k in range(p.num_samples + 1)]
    for i in range(2):
        scene = np.stack([render_shifted(imgs[i:i + 1] / 255.0, *saccade_offset(t))[0] for t in times])
        ref = events_from_frames(scene, times, c_on, c_off, p.eps)
        m = rec == i
        got = runs_to_events(step[m], y[m], x[m], n[m])
        assert ref["t"].size > 100
        for k in "txyp":
            assert np.array_equal(got[k], ref[k]), k


def test_simulation_is_deterministic_per_image_and_seed():
    imgs = fake_images(3)
    a = simulate_saccades(imgs, seed=0)
    b = simulate_saccades(imgs, seed=0)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    alone = simulate_saccades(imgs[1:2], seed=0)  # the same image alone, not in a batch
    m = a[0] == 1
    assert all(np.array_equal(u[m], v) for u, v in zip(a[1:], alone[1:]))
    c = simulate_saccades(imgs, seed=1)
    assert not (a[1].size == c[1].size and all(np.array_equal(u, v) for u, v in zip(a, c)))
    assert a[1].min() >= 1 and a[1].max() <= 300  # events at t = 1..300 ms, none at t = 0


def test_black_image_is_silent_and_bad_images_are_refused():
    runs = simulate_saccades(np.zeros((1, 28, 28), dtype=np.uint8), seed=0)
    assert runs[0].size == 0
    with pytest.raises(ValueError, match="uint8"):
        simulate_saccades(np.zeros((1, 28, 28)), seed=0)
    with pytest.raises(ValueError, match=r"\[B, 28, 28\]"):
        simulate_saccades(np.zeros((1, 32, 32), dtype=np.uint8), seed=0)
