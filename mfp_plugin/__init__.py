"""mfp-plugin: memory-free, parallel quantized spiking neural networks (MFP-QSNN).

A plugin for SpikingJelly (2.x and 0.0.0.0.14) and snnTorch. The method's
equations are this project's own definition (docs/method.md), built from the
ICASSP 2025 paper's abstract (arXiv 2503.00040).

>>> import torch, mfp_plugin as mfp
>>> node = mfp.MFNode(tau=2.0, membrane_bits=2)
>>> node(torch.zeros(4, 2, 3)).sum().item()
0.0
"""
from . import functional
from .layers import CausalWindow
from .integration import register, reset_states, set_backend, swap_neurons
from .neuron import MFNode, QLIFNode
from .quant import (BinaryQuantizer, LSQQuantizer, QuantConv2d, QuantLinear, TernaryQuantizer, WeightQuantizer,
                    export_layer, export_model, make_weight_quantizer, quantize_model)

__version__ = "0.1.0"

__all__ = [
    "MFNode", "QLIFNode", "QuantConv2d", "QuantLinear", "quantize_model", "swap_neurons", "register", "reset_states", "set_backend",
    "WeightQuantizer", "BinaryQuantizer", "TernaryQuantizer", "LSQQuantizer", "make_weight_quantizer",
    "export_layer", "export_model", "CausalWindow", "functional", "__version__",
]

