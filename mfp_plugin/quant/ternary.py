"""Ternary weights (Ternary Weight Networks, Li et al. 2016)."""
from __future__ import annotations

from typing import Tuple, Union

import torch
from torch import Tensor

from .base import WeightQuantizer, _reduce, _TernarySTE

__all__ = ["TernaryQuantizer"]


class TernaryQuantizer(WeightQuantizer):
    r"""``w_q = alpha_c * t``, ``t = sign(w) * 1{|w| > delta_c}`` in ``{-1, 0, +1}``.

    ``delta_c = threshold_factor * mean(|w|)`` and
    ``alpha_c = mean(|w| over |w| > delta_c)``, per output channel (dim 0) or
    per tensor.  A group with no weight above ``delta_c`` (e.g. all zeros)
    falls back to ``alpha_c = mean|w|`` (then clamped to ``>= 1e-8``), so the
    scale is never NaN.

    Gradient: the codes use the identity straight-through estimator
    ``dt/dw := 1``; ``alpha_c`` gets its natural gradient with the mask held
    constant.  ``bits`` is 2 (storage bits of one code), ``num_levels`` is 3.

    >>> import torch
    >>> q = TernaryQuantizer(per_channel=False)
    >>> q(torch.tensor([1.0, -0.9, 0.1, 0.0]))
    tensor([ 0.9500, -0.9500,  0.0000,  0.0000])
    """

    def __init__(self, per_channel: bool = True, threshold_factor: float = 0.7) -> None:
        super().__init__(bits=2, per_channel=per_channel)
        threshold_factor = float(threshold_factor)
        if not threshold_factor >= 0.0:
            raise ValueError(f"threshold_factor must be >= 0, got {threshold_factor}")
        self.threshold_factor = threshold_factor

    @property
    def num_levels(self) -> int:
        return 3

    @property
    def bits_spec(self) -> Union[int, str]:
        return "ternary"

    @property
    def code_range(self) -> Tuple[int, int]:
        return (-1, 1)

    def _codes_and_scale(self, w: Tensor) -> Tuple[Tensor, Tensor]:
        a = w.abs()
        mean_abs = _reduce(a, self.per_channel, "mean")
        delta = (self.threshold_factor * mean_abs).detach()
        mask = (a > delta).to(w.dtype)
        count = _reduce(mask, self.per_channel, "sum")
        # count.clamp_min(1) keeps the division finite; the where() then
        # picks the fallback for groups whose mask was empty.
        alpha = _reduce(a * mask, self.per_channel, "sum") / count.clamp_min(1)
        alpha = torch.where(count > 0, alpha, mean_abs).clamp_min(1e-8)
        return _TernarySTE.apply(w, delta), alpha

    def extra_repr(self) -> str:
        return f"ternary, per_channel={self.per_channel}, threshold_factor={self.threshold_factor}"
