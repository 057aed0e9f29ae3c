"""The causal time window: a 1-D convolution over time is this window followed by a linear layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["causal_window", "check_window"]


def check_window(kernel_size, dilation) -> tuple[int, int]:
    """``(kernel_size, dilation)`` as ints >= 1, else ``ValueError``/``TypeError`` naming the argument."""
    out = []
    for name, v in (("kernel_size", kernel_size), ("dilation", dilation)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} must be an int >= 1, got {v!r}")
        if v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v}")
        out.append(v)
    return out[0], out[1]


def causal_window(x: Tensor, kernel_size: int, dilation: int = 1) -> Tensor:
    r"""Stack the inputs of steps :math:`t, t-d, \dots, t-(k-1)d` side by side at every step ``t``.

    ``x``: ``[T, B, C]`` (time first). Returns ``[T, B, k*C]`` whose step ``t`` is
    ``cat(x[t], x[t-d], ..., x[t-(k-1)d])`` along the last axis (most recent
    first), with zeros for steps before the first. So ``Linear(k*C, C')``
    after it is a causal ``Conv1d(C, C', k, dilation=d)`` over time (left
    padding ``(k-1)*d``): the output at ``t`` never depends on a later input.

    >>> x = torch.arange(1., 5.).view(4, 1, 1)                  # T = 4, B = 1, C = 1
    >>> causal_window(x, kernel_size=3, dilation=1).squeeze(1).tolist()
    [[1.0, 0.0, 0.0], [2.0, 1.0, 0.0], [3.0, 2.0, 1.0], [4.0, 3.0, 2.0]]
    >>> causal_window(x, kernel_size=2, dilation=2).squeeze(1).tolist()
    [[1.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 2.0]]
    """
    k, d = check_window(kernel_size, dilation)
    if not isinstance(x, Tensor):
        raise TypeError(f"causal_window expects a torch.Tensor [T, B, C], got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"causal_window expects [T, B, C] (time first), got shape {tuple(x.shape)}")
    if k == 1:
        return x
    T, span = x.shape[0], (k - 1) * d
    padded = F.pad(x, (0, 0, 0, 0, span, 0))  # zeros before the first step
    return torch.cat([padded[span - j * d: span - j * d + T] for j in range(k)], dim=-1)
