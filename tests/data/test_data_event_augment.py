"""RandomTranslate: one shift for all frames, zero fill, within bounds."""
from __future__ import annotations

import pytest
import torch

from mfp_plugin.data.event_augment import RandomTranslate, default_max_shift, shift_frames


def test_shift_frames_by_hand():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    assert shift_frames(x, 1, 0)[0, 0].tolist() == [[0, 0, 0], [0, 1, 2], [3, 4, 5]]
    assert shift_frames(x, 0, -1)[0, 0].tolist() == [[1, 2, 0], [4, 5, 0], [7, 8, 0]]
    assert shift_frames(x, -1, 1)[0, 0].tolist() == [[0, 3, 4], [0, 6, 7], [0, 0, 0]]
    assert shift_frames(x, 3, 0).sum() == 0 and torch.equal(shift_frames(x, 0, 0), x)


def test_random_translate_is_one_bounded_shift_for_all_steps():
    x = torch.zeros(4, 2, 9, 9)
    x[:, 1, 4, 4] = torch.arange(1.0, 5.0)
    t = RandomTranslate(2)
    seen = set()
    torch.manual_seed(0)
    for _ in range(40):
        y = t(x)
        (i, j), = {(int(a), int(b)) for a, b in zip(*torch.nonzero(y[0, 1], as_tuple=True))}
        assert abs(i - 4) <= 2 and abs(j - 4) <= 2
        assert y[:, 1, i, j].tolist() == [1, 2, 3, 4] and y.sum() == x.sum()
        seen.add((i, j))
    assert len(seen) > 5
    assert default_max_shift(34) == 2 and default_max_shift(128) == 8 and default_max_shift(8) == 1
    with pytest.raises(ValueError):
        RandomTranslate(-1)
    with pytest.raises(ValueError, match=r"\[T, C, H, W\]"):
        t(torch.zeros(2, 9, 9))
