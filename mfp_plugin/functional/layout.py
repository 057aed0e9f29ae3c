"""Hand a ``[T, ...]`` tensor to a ``[T, N]`` time operator without copying it, whatever its dense layout.

The MF neuron mixes time steps only (the scans of :mod:`mfp_plugin.backends` and the
GEMM ``K @ X`` of :mod:`.mf` alike), so the order of the N elements in memory does
not matter; only time must be the outermost dimension. A channels-last activation
(``[T, B, C, H, W]`` stored as T, B, H, W, C) is therefore read in place, and the
spikes come back in the same layout, instead of ``reshape(T, -1)`` copying it to
NCHW and the next convolution and batch norm working on (or copying back) a
mixed layout.
"""
from __future__ import annotations

from typing import Callable, Tuple

import torch


def time_major_rows(x_seq: torch.Tensor) -> Tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """``(rows, restore)``: ``rows`` a contiguous ``[T, N]`` tensor with the elements of ``x_seq``.

    ``rows`` is a view when ``x_seq`` is dense with time outermost (contiguous,
    channels-last, any permutation of the other dimensions), else a copy.
    ``restore(y_rows)`` turns a ``[T, N]`` result laid out like ``rows`` back into
    ``x_seq``'s shape and layout (a view). Both steps are differentiable.

    >>> x = torch.randn(4, 2, 3, 5, 5).contiguous(memory_format=torch.channels_last_3d)
    >>> rows, restore = time_major_rows(x)
    >>> rows.data_ptr() == x.data_ptr(), restore(rows).equal(x), restore(rows).stride() == x.stride()
    (True, True, True)
    """
    T = x_seq.shape[0]
    # The other dimensions, outermost first; a stable sort keeps size-1 dims where they were.
    order = sorted(range(1, x_seq.dim()), key=lambda d: -x_seq.stride(d))
    perm = [0, *order]
    permuted = x_seq.permute(perm)
    if x_seq.numel() == 0 or perm == list(range(x_seq.dim())) or not permuted.is_contiguous():
        rows = x_seq.reshape(T, -1).contiguous()
        return rows, lambda y: y.reshape(x_seq.shape)
    inverse = [perm.index(d) for d in range(x_seq.dim())]
    shape = permuted.shape
    return permuted.reshape(T, -1), lambda y: y.view(shape).permute(inverse)
