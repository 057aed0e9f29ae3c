"""Integer export of quantized layers: int8 codes plus float scales.

``dequantize(export_layer(layer))`` is ``torch.equal`` to
``layer.quantized_weight()``.

>>> import torch
>>> from mfp_plugin.quant import QuantLinear
>>> fc = QuantLinear(8, 3, weight_bits=4)
>>> e = export_layer(fc)
>>> e["codes"].dtype, torch.equal(dequantize(e), fc.quantized_weight())
(torch.int8, True)
"""
from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from .layers import QuantLayerMixin
from .lsq import LSQQuantizer

__all__ = ["export_layer", "dequantize", "load_exported", "export_model"]

_REQUIRED = ("codes", "scale", "bits", "bias", "layer_type")


def _layer_type(layer: nn.Module) -> str:
    if isinstance(layer, nn.Conv2d):
        return "conv2d"
    if isinstance(layer, nn.Linear):
        return "linear"
    raise TypeError(f"expected a quantized conv2d/linear layer, got {type(layer).__name__}")


def export_layer(layer: nn.Module) -> Dict[str, Any]:
    """``{codes: int8, scale: float (broadcasts to codes), bits, weight_bits,
    num_levels, quantizer, per_channel, bias (or None), layer_type}``.

    ``bits`` is the storage width of one code (ternary: 2; its
    ``weight_bits`` is ``'ternary'``).  A float layer (no quantizer) has no
    integer form: ``ValueError``.
    """
    if not isinstance(layer, QuantLayerMixin):
        raise TypeError(f"export_layer expects a quantized layer (QuantConv2d/QuantLinear or a "
                        f"quantize_model-converted layer), got {type(layer).__name__}")
    q = layer.weight_quantizer
    if q is None:
        raise ValueError("layer has weight_bits=None (full precision): nothing to export as integers")
    codes, scale = q.quantize_to_int(layer.weight)
    return {
        "codes": codes,
        "scale": scale,
        "bits": q.bits,
        "weight_bits": q.bits_spec,
        "num_levels": q.num_levels,
        "quantizer": type(q).__name__,
        "per_channel": q.per_channel,
        "bias": None if layer.bias is None else layer.bias.detach().clone(),
        "layer_type": _layer_type(layer),
    }


def dequantize(exported: Dict[str, Any]) -> torch.Tensor:
    """``codes * scale`` in the scale's dtype: the layer's quantized weight."""
    missing = [k for k in ("codes", "scale") if k not in exported]
    if missing:
        raise ValueError(f"exported layer lacks {missing}; expected keys {list(_REQUIRED)}")
    codes, scale = exported["codes"], exported["scale"]
    if codes.dtype != torch.int8:
        raise TypeError(f"exported codes must be torch.int8, got {codes.dtype}")
    return codes.to(scale.dtype) * scale


@torch.no_grad()
def load_exported(layer: nn.Module, exported: Dict[str, Any]) -> nn.Module:
    """Write an export back into a quantized layer of the same shape and kind.

    ``layer.weight`` becomes ``dequantize(exported)`` and bias is copied; an LSQ
    layer also takes the exported step (marked initialised), so its
    ``quantized_weight()`` equals the export exactly.  Binary/ternary scales
    are recomputed from the weight as a channel mean, equal up to float
    rounding of that mean (codes are identical).
    """
    missing = [k for k in _REQUIRED if k not in exported]
    if missing:
        raise ValueError(f"exported layer lacks {missing}; expected keys {list(_REQUIRED)}")
    if not isinstance(layer, QuantLayerMixin) or layer.weight_quantizer is None:
        raise TypeError("load_exported needs a quantized layer with a weight quantizer")
    if exported["layer_type"] != _layer_type(layer):
        raise ValueError(f"export is a {exported['layer_type']}, layer is a {_layer_type(layer)}")
    q = layer.weight_quantizer
    if "quantizer" in exported and exported["quantizer"] != type(q).__name__:
        raise ValueError(f"export was made by {exported['quantizer']}, layer uses {type(q).__name__}")
    w = dequantize(exported)
    if w.shape != layer.weight.shape:
        raise ValueError(f"export weight shape {tuple(w.shape)} != layer weight shape "
                         f"{tuple(layer.weight.shape)}")
    if (exported["bias"] is None) != (layer.bias is None):
        raise ValueError("export and layer disagree on having a bias")
    layer.weight.copy_(w)
    if layer.bias is not None:
        layer.bias.copy_(exported["bias"])
    if isinstance(q, LSQQuantizer):
        s = exported["scale"].reshape(-1)
        if s.numel() != q.scale.numel():
            raise ValueError(f"export has {s.numel()} step(s), layer quantizer has {q.scale.numel()}")
        q.scale.copy_(s)
        q.initialized.fill_(True)
    return layer


def export_model(model: nn.Module) -> Dict[str, Dict[str, Any]]:
    """``{module name: export_layer(module)}`` for every quantized layer with a quantizer."""
    return {name: export_layer(m) for name, m in model.named_modules()
            if isinstance(m, QuantLayerMixin) and m.weight_quantizer is not None}
