"""time_major_rows: [T, N] rows without a copy for every dense time-outermost layout."""
from __future__ import annotations

import pytest
import torch

from mfp_plugin.functional.layout import time_major_rows


def _layout(t):
    """Strides that matter: those of dimensions longer than 1."""
    return tuple(st for st, n in zip(t.stride(), t.shape) if n > 1)


def _channels_last_seq(T=3, B=2, C=5, H=4, W=3):
    """What a channels-last conv hands a neuron: [T*B, C, H, W] channels-last, split into [T, B, ...]."""
    return torch.randn(T * B, C, H, W).contiguous(memory_format=torch.channels_last).unflatten(0, (T, B))


@pytest.mark.parametrize("make", [
    lambda: torch.randn(3, 2, 5, 4),                                    # contiguous
    _channels_last_seq,                                                 # channels-last activations
    lambda: torch.randn(3, 4, 2, 5).permute(0, 2, 3, 1),                # any permutation after time
    lambda: torch.randn(3, 1, 5, 1).permute(0, 3, 2, 1),                # size-1 dims with odd strides
])
def test_dense_time_outermost_inputs_are_not_copied(make):
    x = make()
    rows, restore = time_major_rows(x)
    assert rows.shape == (x.shape[0], x[0].numel()) and rows.is_contiguous()
    assert rows.data_ptr() == x.data_ptr()
    # Row t holds exactly the elements of x[t].
    for t in range(x.shape[0]):
        assert torch.equal(rows[t].sort().values, x[t].flatten().sort().values)
    y = restore(rows * 2)
    assert y.shape == x.shape and _layout(y) == _layout(x)
    assert torch.equal(y, x * 2)


@pytest.mark.parametrize("make", [
    lambda: torch.randn(5, 3).t(),                                      # time is not outermost
    lambda: torch.randn(1, 4).expand(3, 4),                             # overlapping (stride 0)
    lambda: torch.randn(3, 8)[:, ::2],                                  # holes
    lambda: torch.randn(3, 0, 2),                                       # empty
])
def test_other_layouts_are_copied_and_restored(make):
    x = make()
    rows, restore = time_major_rows(x)
    assert rows.shape == (x.shape[0], x[0].numel()) and rows.is_contiguous()
    assert torch.equal(rows, x.reshape(x.shape[0], -1))
    assert torch.equal(restore(rows + 1), x + 1)


def test_gradients_flow_back_in_the_input_layout():
    x = _channels_last_seq().requires_grad_(True)
    rows, restore = time_major_rows(x)
    g = torch.randn(x.shape)
    (restore(rows * 3) * g).sum().backward()
    assert torch.equal(x.grad, 3 * g)
