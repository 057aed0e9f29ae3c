"""Integer-only deployment of memory-free quantized SNNs.

* :func:`compile` turns a trained chain of ``QuantConv2d``/``QuantLinear`` +
  BatchNorm + ``MFNode`` (+ pooling, flatten) into an :class:`IntegerNetwork`:
  int8 weight codes, integer MACs, per-channel integer thresholds, the exp
  decay as a shift, two schedules (``"layer"``, ``"stream"``).
* :func:`agreement` measures it against the float model; :func:`report`
  counts firing rates, synaptic operations, energy and memory on real inputs
  (:func:`format_table`, :func:`plot_report`).
* :func:`to_nir` exports it to the Neuromorphic Intermediate Representation.

See ``docs/deployment.md``.

>>> import torch, torch.nn as nn, mfp_plugin as mfp
>>> from mfp_plugin import deploy
>>> net = nn.Sequential(mfp.QuantLinear(8, 6, weight_bits=2), nn.BatchNorm1d(6), mfp.MFNode(membrane_bits=2),
...                     mfp.QuantLinear(6, 3, weight_bits=8)).eval()
>>> eng = deploy.compile(net, T=4, input_shape=(8,))
>>> x = torch.randn(4, 5, 8)                                  # [T, B, N]
>>> a, b = eng.run(x, "layer", trace=True), eng.run(x, "stream", trace=True)
>>> torch.equal(a.logits_int, b.logits_int)
True
"""
from .agreement import agreement, float_forward
from .compiler import DEFAULT_INPUT_BITS, DEFAULT_INPUT_FRAC_BITS
from .compiler import compile_model as compile  # noqa: A001 - the public name asked for
from .counting import OpCounter
from .energy import E_AC_PJ, E_MAC_PJ, energy_per_image
from .errors import UnsupportedLayerError
from .linearize import Chain, linearize
from .memory import memory_report
from .network import SCHEDULES, IntegerNetwork, RunResult
from .nir_export import to_nir
from .plot import plot_report
from .report import format_table, report

__all__ = ["compile", "IntegerNetwork", "RunResult", "UnsupportedLayerError", "SCHEDULES",
           "agreement", "float_forward", "report", "format_table", "plot_report", "to_nir",
           "energy_per_image", "memory_report", "OpCounter", "linearize", "Chain",
           "E_AC_PJ", "E_MAC_PJ", "DEFAULT_INPUT_FRAC_BITS", "DEFAULT_INPUT_BITS"]
