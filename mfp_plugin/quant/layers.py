"""Drop-in ``nn.Conv2d`` / ``nn.Linear`` subclasses with quantized weights.

Layers hold the float ("latent") weight as ``self.weight``; the quantizer
derives the weight the forward uses, ``quantized_weight()``.

Other subclasses of ``nn.Conv2d`` / ``nn.Linear`` (SpikingJelly's
``layer.Conv2d`` / ``layer.Linear`` with their ``step_mode``) are converted by
:func:`quantized_class_for`: a subclass ``Quant<Name>(Name, QuantConv2d)``.
The wrapper's own ``forward`` stays first in the MRO and its
``super().forward`` lands on :meth:`QuantConv2d.forward`, so step-mode
handling is untouched and only the weight changes.
"""
from __future__ import annotations

import copy
import warnings
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import WeightQuantizer
from .factory import BitsSpec, make_weight_quantizer

__all__ = ["QuantConv2d", "QuantLinear", "QuantLayerMixin", "quantized_class_for", "attach_weight_quantizer"]


def _build_quantizer(weight: Tensor, weight_bits: BitsSpec, weight_quantizer: Optional[WeightQuantizer],
                     per_channel: Optional[bool]) -> Optional[WeightQuantizer]:
    if weight_quantizer is not None:
        if not isinstance(weight_quantizer, WeightQuantizer):
            raise TypeError("weight_quantizer must be a WeightQuantizer (e.g. LSQQuantizer(4)), "
                            f"got {type(weight_quantizer).__name__}")
        q = weight_quantizer
    else:
        q = make_weight_quantizer(weight_bits, per_channel, num_channels=weight.shape[0])
    if q is not None and weight.device.type != "meta":
        q = q.to(device=weight.device, dtype=weight.dtype)
    return q


class QuantLayerMixin:
    """Shared part of the quantized layers: ``weight_quantizer``, ``weight_bits``,
    :meth:`quantized_weight`.  Not used on its own."""

    weight: Tensor
    weight_quantizer: Optional[WeightQuantizer]

    def _set_quantizer(self, q: Optional[WeightQuantizer]) -> None:
        self.register_module("weight_quantizer", q)
        self.weight_bits = None if q is None else q.bits_spec

    def quantized_weight(self) -> Tensor:
        """The weight exactly as ``forward`` uses it (``weight`` itself when float)."""
        q = self.weight_quantizer
        if q is None:
            return self.weight
        w = q(self.weight)
        if w.stride() != self.weight.stride():
            # Element-wise ops may re-stride a weight whose layout is ambiguous (a 1-channel conv
            # kernel is both NCHW and NHWC); the conv picks its output layout from these strides,
            # so keep the weight's own (a channels-last model stays channels-last).
            w = torch.empty_like(self.weight, dtype=w.dtype).copy_(w)
        return w

    def _quant_repr(self) -> str:
        q = self.weight_quantizer
        if q is None:
            return "weight_bits=None"
        return f"weight_bits={self.weight_bits!r}, per_channel={q.per_channel}"

    def __reduce_ex__(self, protocol):
        # Generated wrapper classes are not importable by name; pickle them
        # through the float class they were made from.
        float_cls = type(self).__dict__.get("_mfp_float_cls")
        rv = super().__reduce_ex__(protocol)
        if float_cls is None:
            return rv
        return (_new_converted, (float_cls,)) + tuple(rv[2:])


class QuantConv2d(QuantLayerMixin, nn.Conv2d):
    """``nn.Conv2d`` whose forward is ``F.conv2d(x, Q(weight), bias, ...)``.

    ``weight_bits``: 1 (binary), ``'ternary'``, k in [2, 8] (LSQ) or ``None``
    (float); ``weight_quantizer`` (a :class:`WeightQuantizer`) overrides it.
    Each layer needs its own quantizer object (LSQ holds the layer's step).

    >>> import torch
    >>> conv = QuantConv2d(3, 4, 3, padding=1, weight_bits=1)
    >>> conv(torch.randn(2, 3, 8, 8)).shape
    torch.Size([2, 4, 8, 8])
    >>> len(torch.unique(conv.quantized_weight()[0]))
    2
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, *, weight_bits: BitsSpec = 2,
                 weight_quantizer: Optional[WeightQuantizer] = None,
                 per_channel: Optional[bool] = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device=device, dtype=dtype)
        self._set_quantizer(_build_quantizer(self.weight, weight_bits, weight_quantizer, per_channel))

    def forward(self, input: Tensor) -> Tensor:
        # _conv_forward is F.conv2d plus padding_mode handling.
        return self._conv_forward(input, self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._quant_repr()

    @classmethod
    def from_float(cls, module: nn.Conv2d, weight_bits: BitsSpec = 2, *,
                   weight_quantizer: Optional[WeightQuantizer] = None,
                   per_channel: Optional[bool] = None) -> "QuantConv2d":
        """A quantized copy of ``module`` (same weights, bias, device, dtype and
        subclass behaviour, e.g. SpikingJelly's ``step_mode``)."""
        return _from_float(nn.Conv2d, module, weight_bits, weight_quantizer, per_channel)


class QuantLinear(QuantLayerMixin, nn.Linear):
    """``nn.Linear`` whose forward is ``F.linear(x, Q(weight), bias)``.

    Same quantizer arguments as :class:`QuantConv2d`.

    >>> import torch
    >>> fc = QuantLinear(16, 4, weight_bits=2, per_channel=True)
    >>> fc(torch.randn(5, 16)).shape
    torch.Size([5, 4])
    >>> int(torch.unique(fc.quantized_weight()[0]).numel()) <= 4
    True
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None, *, weight_bits: BitsSpec = 2,
                 weight_quantizer: Optional[WeightQuantizer] = None,
                 per_channel: Optional[bool] = None) -> None:
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self._set_quantizer(_build_quantizer(self.weight, weight_bits, weight_quantizer, per_channel))

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._quant_repr()

    @classmethod
    def from_float(cls, module: nn.Linear, weight_bits: BitsSpec = 2, *,
                   weight_quantizer: Optional[WeightQuantizer] = None,
                   per_channel: Optional[bool] = None) -> "QuantLinear":
        """A quantized copy of ``module`` (see :meth:`QuantConv2d.from_float`)."""
        return _from_float(nn.Linear, module, weight_bits, weight_quantizer, per_channel)


_GENERATED: Dict[type, type] = {}


def quantized_class_for(cls: type) -> type:
    """The quantized class for a float ``nn.Conv2d``/``nn.Linear`` (sub)class.

    ``nn.Conv2d`` -> :class:`QuantConv2d`; a subclass ``C`` -> a cached
    ``Quant<C>(C, QuantConv2d)`` so ``C.forward`` (e.g. SpikingJelly's
    step-mode dispatch) still runs and reaches the quantized conv through
    ``super().forward``.  Already-quantized classes are returned unchanged.
    """
    if issubclass(cls, QuantLayerMixin):
        return cls
    if cls is nn.Conv2d:
        return QuantConv2d
    if cls is nn.Linear:
        return QuantLinear
    if issubclass(cls, nn.Conv2d):
        float_base, quant_base = nn.Conv2d, QuantConv2d
    elif issubclass(cls, nn.Linear):
        float_base, quant_base = nn.Linear, QuantLinear
    else:
        raise TypeError(f"only nn.Conv2d / nn.Linear (and subclasses) can be quantized, got {cls.__name__}")
    if cls not in _GENERATED:
        if cls.forward is not float_base.forward and not cls.__module__.startswith("spikingjelly"):
            warnings.warn(
                f"{cls.__module__}.{cls.__qualname__} overrides forward(); its weight is quantized "
                f"only if that forward calls super().forward()", UserWarning, stacklevel=3)
        name = f"Quant{cls.__name__}"
        _GENERATED[cls] = type(name, (cls, quant_base), {
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": f"{cls.__module__}.{cls.__qualname__} with a quantized weight "
                       f"(generated from {quant_base.__name__}).",
            "_mfp_float_cls": cls,
        })
    return _GENERATED[cls]


def _new_converted(float_cls: type):
    cls = quantized_class_for(float_cls)
    return cls.__new__(cls)


def attach_weight_quantizer(module: nn.Module, weight_bits: BitsSpec = 2, *,
                            weight_quantizer: Optional[WeightQuantizer] = None,
                            per_channel: Optional[bool] = None) -> nn.Module:
    """Turn ``module`` (an ``nn.Conv2d``/``nn.Linear`` or subclass) into its
    quantized class in place: same object, same ``Parameter`` objects (an
    existing optimizer keeps working), hooks and attributes kept.  On an
    already-quantized layer it replaces the quantizer."""
    if not isinstance(module, (nn.Conv2d, nn.Linear)):
        raise TypeError(f"expected an nn.Conv2d or nn.Linear, got {type(module).__name__}")
    new_cls = quantized_class_for(type(module))
    # Build first: a bad spec must leave the module untouched.
    q = _build_quantizer(module.weight, weight_bits, weight_quantizer, per_channel)
    module.__class__ = new_cls
    module._set_quantizer(q)
    return module


def _from_float(float_base: type, module: nn.Module, weight_bits, weight_quantizer, per_channel):
    if not isinstance(module, float_base):
        raise TypeError(f"from_float expects an {float_base.__module__}.{float_base.__name__}, "
                        f"got {type(module).__name__}")
    return attach_weight_quantizer(copy.deepcopy(module), weight_bits,
                                   weight_quantizer=weight_quantizer, per_channel=per_channel)
