"""EventPack: pixel-major packing of simulated events round-trips exactly."""
from __future__ import annotations

import numpy as np
import pytest

from mfp_plugin.data.atomic import atomic_savez
from mfp_plugin.data.dvs_sim import runs_to_events
from mfp_plugin.data.event_pack import EventPack


def runs_of(rng, num, steps=400, h=3, w=4, k=60):
    rec = rng.integers(0, num, k)
    step = rng.integers(1, steps, k)
    y, x = rng.integers(0, h, k), rng.integers(0, w, k)
    n = rng.choice([-3, -1, 1, 2], k)
    # one run per (recording, step, pixel), as the simulator emits
    _, keep = np.unique(np.stack([rec, step, y, x]), axis=1, return_index=True)
    return tuple(a[keep] for a in (rec, step, y, x, n))


def reference(runs, i, sample_us):
    rec, step, y, x, n = runs
    m = rec == i
    return runs_to_events(step[m], y[m], x[m], n[m], sample_us)


def test_hand_case():
    # recording 0: 2 OFF at (x=1, y=0) at step 3; 1 ON at (x=0, y=1) at step 3; 1 ON at (x=1, y=0) at step 5
    runs = ([0, 0, 0], [3, 3, 5], [0, 1, 0], [1, 0, 1], [-2, 1, 1])
    pack = EventPack.from_runs(runs, num=2, sensor_size=(2, 2), sample_us=10)
    assert pack.pixel_counts.tolist() == [[0, 3, 1, 0], [0, 0, 0, 0]]
    assert pack.step_deltas.tolist() == [3, 0, 2, 3]  # pixel 1: steps 3, 3, 5; pixel 2: step 3
    ev = pack.events(0)
    assert list(zip(*(ev[k].tolist() for k in "txyp"))) == [(30, 1, 0, 0), (30, 1, 0, 0), (30, 0, 1, 1),
                                                           (50, 1, 0, 1)]
    assert pack.num_events(1) == 0 and pack.events(1)["t"].size == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roundtrip_against_the_simulators_event_order(seed, tmp_path):
    rng = np.random.default_rng(seed)
    runs = runs_of(rng, num=5)
    pack = EventPack.from_runs(runs, 5, (3, 4), 1000)
    assert pack.step_deltas.max() > 255  # the high byte is exercised
    atomic_savez(tmp_path / "p.npz", **pack.arrays())
    with np.load(tmp_path / "p.npz") as z:
        back = EventPack.from_arrays(z)
    for i in range(5):
        ref = reference(runs, i, 1000)
        for p in (pack, back):
            ev = p.events(i)
            for k in "txyp":
                assert np.array_equal(ev[k], ref[k]), (i, k)


def test_concat_and_large_counts():
    rng = np.random.default_rng(7)
    a, b = runs_of(rng, 3), runs_of(rng, 2)
    pa, pb = EventPack.from_runs(a, 3, (3, 4), 1000), EventPack.from_runs(b, 2, (3, 4), 1000)
    both = EventPack.concat([pa, pb])
    assert len(both) == 5
    for i in range(3):
        assert np.array_equal(both.events(i)["t"], pa.events(i)["t"])
        assert np.array_equal(both.events(i)["p"], pa.events(i)["p"])
    for i in range(2):
        assert np.array_equal(both.events(3 + i)["p"], pb.events(i)["p"])
    big = EventPack.from_runs(([0] * 300, list(range(1, 301)), [0] * 300, [0] * 300, [1] * 300), 1, (1, 1), 1)
    assert big.pixel_counts.dtype == np.uint16 and big.events(0)["t"].tolist() == list(range(1, 301))


def test_inconsistent_packs_are_refused():
    pack = EventPack.from_runs(([0], [1], [0], [0], [2]), 1, (1, 2), 1)
    with pytest.raises(ValueError, match="inconsistent"):
        EventPack(pack.pixel_counts, pack.step_deltas[:1], pack.polarity, (1, 2), 1)
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        EventPack(pack.pixel_counts, pack.step_deltas, pack.polarity, (2, 2), 1)
    with pytest.raises(ValueError, match="0..65535"):
        EventPack.from_runs(([0], [70000], [0], [0], [1]), 1, (1, 1), 1)
