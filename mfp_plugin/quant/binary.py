"""Binary (1-bit) weights, XNOR-Net style."""
from __future__ import annotations

from typing import Tuple

from torch import Tensor

from .base import WeightQuantizer, _SignSTE, _reduce

__all__ = ["BinaryQuantizer"]


class BinaryQuantizer(WeightQuantizer):
    r"""``w_q = alpha_c * sign(w)`` with ``sign(0) := +1`` and ``alpha_c = mean(|w|)``.

    ``alpha_c`` is taken over each output channel (dim 0, ``per_channel=True``)
    or over the whole tensor.  Codes are ``{-1, +1}``.

    Gradient: the sign uses the clipped straight-through estimator
    ``d sign(w)/dw := 1{|w| <= 1}``; ``alpha_c`` is an ordinary function of ``w``
    and receives its natural gradient, so
    ``dL/dw = alpha_c * g * 1{|w|<=1} + sign(w) * sum_c(g * sign(w)) / n_c``
    with ``g = dL/dw_q`` (as in XNOR-Net).

    >>> import torch
    >>> q = BinaryQuantizer(per_channel=True)
    >>> q(torch.tensor([[0.5, -1.5], [0.0, -0.2]]))
    tensor([[ 1.0000, -1.0000],
            [ 0.1000, -0.1000]])
    """

    def __init__(self, per_channel: bool = True) -> None:
        super().__init__(bits=1, per_channel=per_channel)

    @property
    def num_levels(self) -> int:
        return 2

    @property
    def code_range(self) -> Tuple[int, int]:
        return (-1, 1)

    def _codes_and_scale(self, w: Tensor) -> Tuple[Tensor, Tensor]:
        alpha = _reduce(w.abs(), self.per_channel, "mean")
        return _SignSTE.apply(w), alpha
