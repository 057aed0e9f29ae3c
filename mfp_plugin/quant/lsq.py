"""Uniform symmetric k-bit weights with a learned step size (LSQ, Esser et al. 2020)."""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .base import WeightQuantizer, _GradScale, _reduce, _RoundSTE

__all__ = ["LSQQuantizer"]

_MAX_BITS = 8  # codes are exported as int8


class LSQQuantizer(WeightQuantizer):
    r"""``w_q = s * round(clamp(w / s, -Q_n, Q_p))`` with a learnable step ``s``.

    ``Q_p = 2^(k-1) - 1``; ``Q_n = 2^(k-1)`` (``narrow_range=True``: ``Q_n = Q_p``,
    a symmetric grid).  ``s`` is ``self.scale``: shape ``[1]`` per tensor or
    ``[C_out]`` per output channel.  Rounding is ``torch.round`` (half to even)
    with a straight-through gradient, so ``dw_q/dw = 1{-Q_n <= w/s <= Q_p}`` and

    ``dw_q/ds = g * (round(w/s) - w/s)`` inside the range, ``g * (-Q_n)`` /
    ``g * Q_p`` below / above it, with ``g = 1 / sqrt(numel_per_scale * Q_p)``.

    ``s`` is initialised from the data on the first forward,
    ``s = 2 * mean|w| / sqrt(Q_p)``; the ``initialized`` buffer records that in
    the ``state_dict``, so a loaded quantizer keeps the loaded step.  Per-channel
    quantizers built without ``num_channels`` create ``scale`` on that first
    forward (build the optimizer afterwards, or pass ``num_channels``).

    >>> import torch
    >>> q = LSQQuantizer(bits=2)
    >>> with torch.no_grad():
    ...     _ = q(torch.zeros(1)); _ = q.scale.fill_(0.5)
    >>> q(torch.tensor([-1.0, -0.3, 0.2, 0.9]))
    tensor([-1.0000, -0.5000,  0.0000,  0.5000], grad_fn=<MulBackward0>)
    """

    def __init__(
        self,
        bits: int,
        per_channel: bool = False,
        narrow_range: bool = False,
        num_channels: Optional[int] = None,
    ) -> None:
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise TypeError(f"LSQQuantizer bits must be an int in [2, {_MAX_BITS}], got {bits!r}")
        if bits < 2:
            raise ValueError(
                f"LSQQuantizer needs bits >= 2 (got {bits}); use BinaryQuantizer for 1 bit "
                "or TernaryQuantizer for {-1, 0, +1}"
            )
        if bits > _MAX_BITS:
            raise ValueError(
                f"LSQQuantizer supports bits in [2, {_MAX_BITS}] (int8 codes), got {bits}; "
                "use weight_bits=None for full precision"
            )
        super().__init__(bits=bits, per_channel=per_channel)
        self.narrow_range = bool(narrow_range)
        self.Qp = 2 ** (bits - 1) - 1
        self.Qn = self.Qp if self.narrow_range else 2 ** (bits - 1)
        if num_channels is not None and (not per_channel or int(num_channels) < 1):
            raise ValueError("num_channels is only for per_channel=True and must be >= 1")
        n = int(num_channels) if (per_channel and num_channels is not None) else 1
        self.scale = nn.Parameter(torch.ones(n))
        self._lazy_shape = per_channel and num_channels is None
        self.register_buffer("initialized", torch.tensor(False))

    @property
    def num_levels(self) -> int:
        return self.Qn + self.Qp + 1

    @property
    def code_range(self) -> Tuple[int, int]:
        return (-self.Qn, self.Qp)

    @torch.no_grad()
    def _init_scale(self, w: Tensor) -> None:
        s0 = _reduce(w.detach().abs(), self.per_channel, "mean").reshape(-1)
        s0 = (2.0 * s0 / math.sqrt(self.Qp)).clamp_min(1e-8)
        if s0.shape != self.scale.shape:
            # Lazily shaped per-channel step: one value per output channel.
            self.scale = nn.Parameter(s0.to(self.scale.dtype).clone())
            self._lazy_shape = False
        else:
            self.scale.copy_(s0)
        self.initialized.fill_(True)

    def _codes_and_scale(self, w: Tensor) -> Tuple[Tensor, Tensor]:
        c = w.shape[0] if (self.per_channel and w.dim() > 0) else 1
        if not bool(self.initialized) and (self._lazy_shape or self.scale.numel() == c):
            self._init_scale(w)
        if self.scale.numel() != c:
            raise ValueError(
                f"LSQQuantizer has {self.scale.numel()} step(s) but the weight has {c} "
                f"output channel(s) (weight shape {tuple(w.shape)})"
            )
        g = 1.0 / math.sqrt((w.numel() / c) * self.Qp)
        s = _GradScale.apply(self.scale, g).to(w.dtype)
        s = s.reshape((-1,) + (1,) * (w.dim() - 1)) if w.dim() > 0 else s.reshape(())
        codes = _RoundSTE.apply(torch.clamp(w / s, -self.Qn, self.Qp))
        return codes, s

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + "scale"
        if self._lazy_shape and key in state_dict and state_dict[key].shape != self.scale.shape:
            # A per-channel step created on first forward: adopt the stored shape.
            self.scale = nn.Parameter(torch.empty_like(state_dict[key], dtype=self.scale.dtype,
                                                       device=self.scale.device))
            self._lazy_shape = False
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        return (f"bits={self.bits}, per_channel={self.per_channel}, "
                f"narrow_range={self.narrow_range}, codes=[{-self.Qn}, {self.Qp}]")
