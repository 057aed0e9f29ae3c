"""Common base of the weight quantizers and the straight-through helpers.

Every quantizer computes ``w_q = codes * scale`` where ``codes`` are small
integers (held in a float tensor during training) and ``scale`` broadcasts
against ``w``.  ``forward`` and :meth:`WeightQuantizer.quantize_to_int` share
that one product, which is why ``codes.float() * scale == forward(w)`` holds
bit for bit.
"""
from __future__ import annotations

from typing import Tuple, Union

import torch
from torch import Tensor, nn

__all__ = ["WeightQuantizer"]


class _SignSTE(torch.autograd.Function):
    """``sign(w)`` with ``sign(0) := +1``; backward ``grad * 1{|w| <= 1}``."""

    @staticmethod
    def forward(ctx, w: Tensor) -> Tensor:
        ctx.save_for_backward(w)
        # torch.sign(0) is 0, which would make a third level: map 0 to +1.
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


class _TernarySTE(torch.autograd.Function):
    """Codes ``sign(w) * 1{|w| > delta}``; backward is the identity (TWN)."""

    @staticmethod
    def forward(ctx, w: Tensor, delta: Tensor) -> Tensor:
        return torch.sign(w) * (w.abs() > delta).to(w.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad, None


class _RoundSTE(torch.autograd.Function):
    """``round`` (half to even, as ``torch.round``) with identity backward."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad


class _GradScale(torch.autograd.Function):
    """Identity in the forward, ``grad * g`` in the backward.

    The usual ``(x - x*g).detach() + x*g`` trick changes the value by float
    rounding; a Function keeps the forward value bit-exact.
    """

    @staticmethod
    def forward(ctx, x: Tensor, g: float) -> Tensor:
        ctx.g = g
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.g, None


def _broadcast_shape(w: Tensor, per_channel: bool) -> Tuple[int, ...]:
    if w.dim() == 0:
        return ()
    if per_channel:
        return (w.shape[0],) + (1,) * (w.dim() - 1)
    return (1,) * w.dim()


def _reduce(x: Tensor, per_channel: bool, op: str = "mean") -> Tensor:
    """Reduce over each output channel (dim 0) or the whole tensor, keepdim-style."""
    shape = _broadcast_shape(x, per_channel)
    if per_channel and x.dim() >= 1:
        flat = x.reshape(x.shape[0], -1)
        out = flat.mean(1) if op == "mean" else flat.sum(1)
    else:
        out = x.mean() if op == "mean" else x.sum()
    return out.reshape(shape)


def _check_weight(w: Tensor) -> None:
    if not isinstance(w, Tensor):
        raise TypeError(f"expected a torch.Tensor weight, got {type(w).__name__}")
    if not w.is_floating_point():
        raise TypeError(f"expected a floating-point weight tensor, got dtype {w.dtype}")


class WeightQuantizer(nn.Module):
    """Base class: ``forward(w) -> codes * scale`` (a float tensor shaped like ``w``).

    Subclasses implement :meth:`_codes_and_scale` returning float-valued integer
    ``codes`` (with their surrogate gradient) and a ``scale`` broadcastable to
    ``w``.  Attributes: ``bits`` (storage bits of one code), ``per_channel``,
    :attr:`num_levels` (distinct values per scale group), :attr:`bits_spec`
    (what :func:`make_weight_quantizer` would take to rebuild this kind).
    """

    bits: int
    per_channel: bool

    def __init__(self, bits: int, per_channel: bool) -> None:
        super().__init__()
        self.bits = int(bits)
        self.per_channel = bool(per_channel)

    @property
    def num_levels(self) -> int:
        raise NotImplementedError

    @property
    def bits_spec(self) -> Union[int, str]:
        return self.bits

    @property
    def code_range(self) -> Tuple[int, int]:
        """Inclusive ``(min, max)`` of the integer codes."""
        raise NotImplementedError

    def _codes_and_scale(self, w: Tensor) -> Tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, w: Tensor) -> Tensor:
        _check_weight(w)
        codes, scale = self._codes_and_scale(w)
        return codes * scale

    @torch.no_grad()
    def quantize_to_int(self, w: Tensor) -> Tuple[Tensor, Tensor]:
        """Return ``(codes: int8, scale)`` with ``codes.to(scale.dtype) * scale == forward(w)``."""
        _check_weight(w)
        codes, scale = self._codes_and_scale(w)
        return codes.to(torch.int8), scale.detach().clone()

    def extra_repr(self) -> str:
        return f"bits={self.bits}, per_channel={self.per_channel}"
