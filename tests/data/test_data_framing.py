"""Events -> [T, 2, H, W] frames: SpikingJelly's split-by-number rule, the time rule, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from _event_fakes import frames_of

from mfp_plugin.data.framing import compact_counts, events_to_frames, segment_bounds


def as_dict(events):
    t, x, y, p = (np.array(c) for c in zip(*events))
    return {"t": t, "x": x, "y": y, "p": p}


# (t, x, y, p) on a 2x3 sensor
EVENTS = [(0, 0, 0, 1), (1, 2, 1, 0), (2, 2, 1, 0), (3, 1, 0, 1), (5, 0, 0, 1), (9, 1, 1, 0), (10, 2, 0, 1)]


def test_split_by_number_is_n_over_T_with_the_rest_in_the_last_frame():
    # N = 7, T = 3: d = 7 // 3 = 2 -> events [0,2), [2,4), [4,7)
    f = events_to_frames(as_dict(EVENTS), T=3, H=2, W=3)
    assert f.shape == (3, 2, 2, 3) and f.dtype == np.int64
    assert np.array_equal(f, frames_of(EVENTS, [(0, 2), (2, 4), (4, 7)], 2, 3))
    # one hand-read pixel: frame 2 holds (5,0,0,ON), (9,1,1,OFF), (10,2,0,ON)
    assert f[2, 1, 0, 0] == 1 and f[2, 0, 1, 1] == 1 and f[2, 1, 0, 2] == 1 and f[2].sum() == 3


def test_number_rule_matches_spikingjelly():
    from spikingjelly.datasets import integrate_events_by_fixed_frames_number
    ev = as_dict(EVENTS)
    for T in (1, 2, 3, 5, 7):
        ref = integrate_events_by_fixed_frames_number(ev, "number", T, 2, 3)
        assert np.array_equal(events_to_frames(ev, T, 2, 3), ref)


def test_fewer_events_than_frames_all_land_in_the_last_frame():
    f = events_to_frames(as_dict(EVENTS[:2]), T=4, H=2, W=3)
    assert f[:3].sum() == 0 and np.array_equal(f[3], frames_of(EVENTS, [(0, 2)], 2, 3)[0])


def test_no_events_gives_zero_frames():
    empty = {k: np.zeros(0, dtype=np.int64) for k in "txyp"}
    for split_by in ("number", "time"):
        f = events_to_frames(empty, T=3, H=2, W=3, split_by=split_by)
        assert f.shape == (3, 2, 2, 3) and not f.any()


def test_split_by_time_windows():
    # t: 0 1 2 3 5 9 10, T = 2: dt = (10 - 0) // 2 = 5: [0,5) holds 4 events, the rest go last
    j_l, j_r = segment_bounds(np.array([e[0] for e in EVENTS]), 2, "time")
    assert j_l.tolist() == [0, 4] and j_r.tolist() == [4, 7]
    f = events_to_frames(as_dict(EVENTS), T=2, H=2, W=3, split_by="time")
    assert np.array_equal(f, frames_of(EVENTS, [(0, 4), (4, 7)], 2, 3))
    # T = 3: dt = 3: [0,3) [3,6) [6, end]
    f = events_to_frames(as_dict(EVENTS), T=3, H=2, W=3, split_by="time")
    assert np.array_equal(f, frames_of(EVENTS, [(0, 3), (3, 5), (5, 7)], 2, 3))


def test_time_rule_matches_spikingjelly_where_it_works():
    from spikingjelly.datasets import cal_fixed_frames_number_segment_index
    for t, Ts in ((np.array([e[0] for e in EVENTS]), (1, 2)),  # T = 3 leaves [6, 9) empty: SJ raises
                  (np.array([0, 1, 1, 2, 3, 5, 6, 7, 8, 8, 9, 11]), (1, 2, 3, 4, 5))):
        for T in Ts:
            ours = segment_bounds(t, T, "time")
            ref = cal_fixed_frames_number_segment_index(t, "time", T)
            assert np.array_equal(ours[0], ref[0]) and np.array_equal(ours[1], ref[1]), T


def test_time_rule_empty_window_is_a_zero_frame_not_an_error():
    events = [(0, 0, 0, 1), (0, 1, 0, 1), (0, 2, 0, 0), (100, 0, 1, 1)]
    # dt = 25: [0,25) has 3, [25,50) and [50,75) none, the last has t = 100
    f = events_to_frames(as_dict(events), T=4, H=2, W=3, split_by="time")
    assert np.array_equal(f, frames_of(events, [(0, 3), (3, 3), (3, 3), (3, 4)], 2, 3))
    # all at one timestamp: dt = 0 -> everything in the last frame
    same = [(7, 0, 0, 1), (7, 1, 1, 0)]
    f = events_to_frames(as_dict(same), T=3, H=2, W=3, split_by="time")
    assert f[:2].sum() == 0 and f[2].sum() == 2


def test_time_rule_sorts_unsorted_timestamps_first():
    shuffled = [EVENTS[i] for i in (3, 0, 6, 1, 5, 2, 4)]
    a = events_to_frames(as_dict(shuffled), T=2, H=2, W=3, split_by="time")
    assert np.array_equal(a, events_to_frames(as_dict(EVENTS), T=2, H=2, W=3, split_by="time"))


@pytest.mark.parametrize("kw,exc,match", [
    (dict(T=0), ValueError, ">= 1"), (dict(T=2.0), TypeError, "int"), (dict(T=True), TypeError, "int"),
    (dict(T=2, split_by="count"), ValueError, "'number' or 'time'"),
])
def test_bad_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        events_to_frames(as_dict(EVENTS), H=2, W=3, **kw)


def test_events_outside_the_sensor_or_ragged_are_refused():
    ev = as_dict(EVENTS)
    with pytest.raises(ValueError, match="outside the 2x2 sensor"):
        events_to_frames(ev, T=2, H=2, W=2)  # x = 2 does not exist
    ev["p"] = ev["p"][:-1]
    with pytest.raises(ValueError, match="differ in length"):
        events_to_frames(ev, T=2, H=2, W=3)
    with pytest.raises(ValueError, match="keys"):
        events_to_frames({"t": ev["t"]}, T=2, H=2, W=3)


def test_compact_counts_picks_the_smallest_dtype():
    assert compact_counts(np.array([0, 255])).dtype == np.uint8
    assert compact_counts(np.array([256])).dtype == np.uint16
    assert compact_counts(np.array([70000])).dtype == np.uint32
    assert compact_counts(np.array([3, 70000])).tolist() == [3, 70000]
    with pytest.raises(ValueError):
        compact_counts(np.array([-1]))
