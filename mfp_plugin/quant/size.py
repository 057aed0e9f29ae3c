"""Storage size of a model at its stored bit widths.

Weights of quantized layers count at their code width (``q.bits``: 1 for
binary, 2 for ternary and 2-bit LSQ, k for k-bit LSQ); every other tensor the
model needs at inference -- full-precision weights, biases, quantizer scales,
BatchNorm affine parameters and running statistics, neuron parameters --
counts at its own dtype width (float32: 32 bits). Integer and boolean
buffers are training bookkeeping (BatchNorm's ``num_batches_tracked``, LSQ's
``initialized`` flag) and are not counted.

>>> import torch
>>> from mfp_plugin.quant import QuantLinear
>>> fc = QuantLinear(100, 10, weight_bits=2)        # 1000 weights, 10 biases, 1 LSQ step
>>> r = model_size(torch.nn.Sequential(fc))
>>> r.weight_bits, r.other_bits, r.total_bytes
(2000, 352, 294.0)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

from torch import nn

from .layers import QuantLayerMixin

__all__ = ["SizeReport", "model_size"]


@dataclass
class SizeReport:
    """Bits of a model at its stored widths (see the module docstring)."""

    weight_bits: int = 0        # quantized weights, at their code width
    other_bits: int = 0         # everything else, at its dtype width
    per_tensor: Dict[str, int] = field(default_factory=dict)  # name -> bits

    @property
    def total_bits(self) -> int:
        return self.weight_bits + self.other_bits

    @property
    def total_bytes(self) -> float:
        return self.total_bits / 8

    @property
    def total_kib(self) -> float:
        """Kibibytes (1 KB = 1024 bytes here)."""
        return self.total_bytes / 1024


def model_size(model: nn.Module) -> SizeReport:
    """Storage of ``model``'s inference tensors (parameters and buffers), quantized weights at their bits."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model_size expects an nn.Module, got {type(model).__name__}")
    report = SizeReport()
    quantized = set()
    for name, module in model.named_modules():
        if isinstance(module, QuantLayerMixin) and module.weight_quantizer is not None:
            bits = module.weight.numel() * int(module.weight_quantizer.bits)
            key = f"{name}.weight" if name else "weight"
            report.per_tensor[key] = bits
            report.weight_bits += bits
            quantized.add(id(module.weight))
    seen = set(quantized)
    buffers = [(n, b) for n, b in model.named_buffers() if b.is_floating_point()]
    for name, t in list(model.named_parameters()) + buffers:
        if id(t) in seen:
            continue
        seen.add(id(t))
        bits = t.numel() * t.element_size() * 8
        report.per_tensor[name] = bits
        report.other_bits += bits
    return report
