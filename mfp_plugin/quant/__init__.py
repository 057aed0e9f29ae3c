"""Weight quantization: quantizer objects, quantized layers, model conversion, export.

>>> import torch
>>> from mfp_plugin.quant import QuantConv2d, LSQQuantizer
>>> conv = QuantConv2d(3, 8, 3, weight_quantizer=LSQQuantizer(4, per_channel=True, num_channels=8))
>>> conv(torch.randn(1, 3, 5, 5)).shape
torch.Size([1, 8, 3, 3])
"""
from .base import WeightQuantizer
from .binary import BinaryQuantizer
from .convert import quantize_model
from .export import dequantize, export_layer, export_model, load_exported
from .factory import make_weight_quantizer, normalize_bits
from .layers import (QuantConv2d, QuantLayerMixin, QuantLinear, attach_weight_quantizer,
                     quantized_class_for)
from .lsq import LSQQuantizer
from .size import SizeReport, model_size
from .ternary import TernaryQuantizer

__all__ = [
    "WeightQuantizer", "BinaryQuantizer", "TernaryQuantizer", "LSQQuantizer",
    "make_weight_quantizer", "normalize_bits",
    "QuantConv2d", "QuantLinear", "QuantLayerMixin", "quantized_class_for", "attach_weight_quantizer",
    "quantize_model",
    "export_layer", "export_model", "dequantize", "load_exported",
    "SizeReport", "model_size",
]
