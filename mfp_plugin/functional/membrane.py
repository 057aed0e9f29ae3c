r"""The membrane quantizer :math:`Q_b` (docs/method.md, "The membrane quantizer Q_b"), shared by both neurons.

.. math::
    Q_b(u) = \Delta \cdot \mathrm{clamp}(\mathrm{round}(u/\Delta), -2^{b-1}, 2^{b-1}-1),
    \qquad \Delta = \theta / (2^{b-1} - 1)

A signed b-bit grid whose top code is exactly the threshold :math:`\theta`.
``round`` is *round half up* (:math:`\lfloor z + 1/2 \rfloor`), chosen over
round-half-to-even so that "the quantized potential reaches the threshold"
is exactly :math:`u \ge \theta - \Delta/2`, with no parity-dependent ties.

Gradient: rounding is straight-through; the clamp keeps its true gradient
(zero outside the grid), as in Q-SNN-style membrane quantization.
"""
from __future__ import annotations

import torch

from .checks import check_membrane_bits


def membrane_step(v_threshold: float, bits: int) -> float:
    r""":math:`\Delta = \theta / (2^{b-1} - 1)`: the grid step of :math:`Q_b`.

    >>> membrane_step(1.0, 2), membrane_step(1.0, 3)
    (1.0, 0.3333333333333333)
    """
    bits = check_membrane_bits(bits, allow_none=False)
    return float(v_threshold) / (2 ** (bits - 1) - 1)


def code_range(bits: int) -> tuple[int, int]:
    """The signed integer code range ``(-2^(b-1), 2^(b-1) - 1)``."""
    bits = check_membrane_bits(bits, allow_none=False)
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def membrane_codes(u: torch.Tensor, v_threshold: float, bits: int) -> torch.Tensor:
    """Integer codes of :math:`Q_b(u)` (same dtype as ``u``; exact small integers)."""
    lo, hi = code_range(bits)
    delta = membrane_step(v_threshold, bits)
    return torch.floor(u / delta + 0.5).clamp_(lo, hi)


def quantize_membrane(u: torch.Tensor, v_threshold: float, bits: int) -> torch.Tensor:
    r""":math:`Q_b(u)` with a straight-through rounding gradient.

    >>> import torch
    >>> quantize_membrane(torch.tensor([-3.0, -0.6, 0.49, 0.5, 2.0]), 1.0, 2).tolist()
    [-2.0, -1.0, 0.0, 1.0, 1.0]
    """
    lo, hi = code_range(bits)
    delta = membrane_step(v_threshold, bits)
    clamped = u.clamp(lo * delta, hi * delta)
    q = membrane_codes(u.detach(), v_threshold, bits) * delta
    return clamped + (q - clamped).detach()


def firing_threshold(v_threshold: float, bits: int | None) -> float:
    r"""Where a potential fires: :math:`\theta` unquantized, :math:`\theta - \Delta/2` after :math:`Q_b`.

    :math:`\Theta(Q_b(H) - \theta) = \Theta(H - (\theta - \Delta/2))` exactly,
    so a transient quantizer is a fixed threshold offset, not a loss of history.
    """
    if bits is None:
        return float(v_threshold)
    return float(v_threshold) - membrane_step(v_threshold, bits) / 2.0


def fire_mask(h: torch.Tensor, v_threshold: float, bits: int | None) -> torch.Tensor:
    r"""The forward spike rule, 0/1 in ``h``'s dtype: :math:`[H \ge \theta']`.

    :math:`\theta' = \theta` unquantized and :math:`\theta - \Delta/2` with
    :math:`Q_b`, where :math:`[Q_b(H) \ge \theta] = [H \ge \theta - \Delta/2]`.
    Every code path (multi-step, streaming, cupy) fires by this one comparison,
    so they agree bit for bit given the same ``H``.
    """
    return (h >= firing_threshold(v_threshold, bits)).to(h.dtype)
