"""In-place conversion of a whole model."""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Union

from torch import nn
from torch.nn.modules.linear import NonDynamicallyQuantizableLinear

from .factory import BitsSpec, normalize_bits
from .layers import QuantLayerMixin, attach_weight_quantizer

__all__ = ["quantize_model"]

SkipSpec = Union[None, Callable[[str, nn.Module], bool], Iterable[Union[str, type]]]


def _skip_predicate(skip: SkipSpec) -> Callable[[str, nn.Module], bool]:
    if skip is None:
        return lambda name, m: False
    if callable(skip) and not isinstance(skip, type):
        return skip
    if isinstance(skip, (str, type)):
        skip = [skip]
    names = [s for s in skip if isinstance(s, str)]
    types = tuple(s for s in skip if isinstance(s, type))
    bad = [s for s in skip if not isinstance(s, (str, type))]
    if bad:
        raise TypeError(f"skip entries must be module names (str) or module types, got {bad!r}")

    def pred(name: str, m: nn.Module) -> bool:
        if types and isinstance(m, types):
            return True
        return any(name == s or name.startswith(s + ".") for s in names)

    return pred


def quantize_model(model: nn.Module, weight_bits: BitsSpec = 2, first_last_bits: BitsSpec = 8,
                   per_channel: Optional[bool] = None, skip: SkipSpec = None) -> nn.Module:
    """Quantize every ``nn.Conv2d`` / ``nn.Linear`` of ``model`` in place; return ``model``.

    Subclasses such as SpikingJelly's ``layer.Conv2d`` / ``layer.Linear`` (any
    ``step_mode``) and layers inside ``layer.SeqToANNContainer`` are included;
    each becomes its quantized class in place (see
    :func:`~mfp_plugin.quant.layers.attach_weight_quantizer`), so the float
    weights, ``Parameter`` objects and ``step_mode`` are kept.

    The first and last such layer in ``model.modules()`` order get
    ``first_last_bits`` (``None``: they stay float); the others ``weight_bits``.
    ``skip``: module names (a name also skips its children), module types, or
    a ``callable(name, module) -> bool``; skipped layers are left untouched but
    still count when finding the first and last layer.  Layers that are already
    quantized are left as they are, so a second call changes nothing.
    ``nn.MultiheadAttention``'s ``out_proj`` is not converted (its weight is
    read directly, not through ``forward``).

    >>> import torch
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    >>> net = quantize_model(net, weight_bits=2, first_last_bits=None)
    >>> net[0].weight_bits, net[2].weight_bits
    (None, None)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"quantize_model expects an nn.Module, got {type(model).__name__}")
    weight_bits = normalize_bits(weight_bits)
    first_last_bits = normalize_bits(first_last_bits)
    is_skipped = _skip_predicate(skip)

    layers = [(n, m) for n, m in model.named_modules()
              if isinstance(m, (nn.Conv2d, nn.Linear))
              and not isinstance(m, NonDynamicallyQuantizableLinear)]
    for n, m in layers:
        if isinstance(m, nn.modules.lazy.LazyModuleMixin) and m.has_uninitialized_params():
            raise ValueError(f"layer {n!r} is lazy and not initialised yet; run one forward pass "
                             "before quantize_model")
    last = len(layers) - 1
    for i, (name, m) in enumerate(layers):
        if isinstance(m, QuantLayerMixin) or is_skipped(name, m):
            continue
        bits = first_last_bits if i in (0, last) else weight_bits
        attach_weight_quantizer(m, bits, per_channel=per_channel)
    return model
