"""Memory of a compiled network: weights at stored bits, neuron state, peak activation buffer.

All figures are bits per image (a batch of one).

* ``weights``: int codes at their stored width, plus what the integer engine
  adds: the ``[T, C]`` threshold table (at its accumulator width), one sign
  bit per channel, the readout's multipliers and biases.
* ``state``: what neurons keep *between time steps*, for the MF engine and,
  on the same layers, a QLIF net (b-bit stored membrane per neuron) and a
  float LIF net (32 bits per neuron):

  - ``stream`` (one step through every layer): every neuron of every layer
    holds its state across steps. MF: one accumulator per neuron at its
    proven width (``acc_bits``); a static first layer needs none (it fires on
    its one MAC against a per-step threshold). A causal window
    (:class:`~.ops.DelayWindow`) adds its shift register, ``(k-1)d`` past
    inputs at their width, whatever the neuron.
  - ``layer`` (layer-asynchronous): one layer is live at a time and nothing
    per neuron survives it; the figure is the largest live layer's state
    while it runs its T steps (accumulators vectorised over the layer's
    neurons). A QLIF/LIF net run layer by layer keeps its membranes the same way.

* ``peak_activation``: the largest input + output buffer of any op:
  ``layer``: whole T-step spike trains in and out (the static image once);
  ``stream``: one step in and out (plus the static image, read every step).
"""
from __future__ import annotations

from typing import Dict, List

from .fixed_point import signed_bits
from .network import IntegerNetwork
from .ops import DelayWindow, Readout, SpikingLayer

__all__ = ["memory_report"]


def _numel(shape) -> int:
    n = 1
    for v in shape:
        n *= int(v)
    return n


def _value_bits(bound: int, signed: bool) -> int:
    return signed_bits(bound) if signed else max(1, int(bound).bit_length())


def _weights(net: IntegerNetwork) -> List[dict]:
    rows = []
    for op in net.ops:
        if isinstance(op, SpikingLayer):
            C = op.thresholds.shape[1]
            rows.append(dict(name=op.name, codes_bits=op.info["codes"].numel() * op.info["weight_bits"],
                             table_bits=op.thresholds.numel() * op.info["acc_bits"] + C))
        elif isinstance(op, Readout):
            table = (op.M.numel() * signed_bits(int(op.M.abs().max()))
                     + op.B.numel() * signed_bits(int(op.B.abs().max())))
            rows.append(dict(name=op.name, codes_bits=op.info["codes"].numel() * op.info["weight_bits"],
                             table_bits=table))
    return rows


def _state(net: IntegerNetwork, qlif_bits: int, lif_bits: int) -> Dict[str, Dict[str, int]]:
    per = [(_numel(op.out_shape), 0 if op.static else op.info["acc_bits"]) for op in net.spiking_layers]
    # shift registers: every schedule that runs step by step needs them, whatever the neuron
    delay = sum(op.history * _numel(op.in_shape) * (net.input_bits if i == 0 else _value_bits(op.in_bound, False))
                for i, op in enumerate(net.ops) if isinstance(op, DelayWindow))
    return {
        "layer": dict(mf=max((n * b for n, b in per), default=0), qlif=max((n * qlif_bits for n, _ in per), default=0),
                      float_lif=max((n * lif_bits for n, _ in per), default=0)),
        "stream": dict(mf=sum(n * b for n, b in per) + delay, qlif=sum(n * qlif_bits for n, _ in per) + delay,
                       float_lif=sum(n * lif_bits for n, _ in per) + delay),
    }


def _peak(net: IntegerNetwork) -> Dict[str, int]:
    T, static = net.T, net.input_type == "static"
    image = _numel(net.input_shape) * net.input_bits
    peak_layer = peak_stream = 0
    for i, op in enumerate(net.ops):
        in_bits = net.input_bits if i == 0 else _value_bits(op.in_bound, signed=False)
        out_bits = op.info["acc_bits"] if isinstance(op, Readout) else _value_bits(op.out_bound, signed=False)
        n_in, n_out = _numel(op.in_shape), _numel(op.out_shape)
        steps_in = 1 if (i == 0 and static) else T
        steps_out = 1 if isinstance(op, Readout) else T
        peak_layer = max(peak_layer, steps_in * n_in * in_bits + steps_out * n_out * out_bits)
        held = image if (static and i > 0) else 0
        peak_stream = max(peak_stream, n_in * in_bits + n_out * out_bits + held)
    return dict(layer=peak_layer, stream=peak_stream)


def memory_report(net: IntegerNetwork, qlif_bits: int = 2, lif_bits: int = 32,
                  float_model=None) -> dict:
    """``{weights: {bits, kib, layers}, state_bits: {layer|stream: {mf, qlif, float_lif}},
    peak_activation_bits: {layer, stream}, acc_bits: {layer: bits}, float_model_kib}``."""
    if isinstance(qlif_bits, bool) or not isinstance(qlif_bits, int) or qlif_bits < 2:
        raise ValueError(f"qlif_bits must be an int >= 2 (the stored membrane width), got {qlif_bits!r}")
    net.require_chain("memory_report")
    rows = _weights(net)
    bits = sum(r["codes_bits"] + r["table_bits"] for r in rows)
    out = dict(weights=dict(bits=bits, kib=bits / 8 / 1024, codes_bits=sum(r["codes_bits"] for r in rows),
                            table_bits=sum(r["table_bits"] for r in rows), layers=rows),
               state_bits=_state(net, qlif_bits, lif_bits), qlif_bits=qlif_bits, lif_bits=lif_bits,
               peak_activation_bits=_peak(net),
               acc_bits={op.name: op.info["acc_bits"] for op in net.ops if isinstance(op, (SpikingLayer, Readout))},
               acc_dtype={op.name: str(op.acc_dtype).replace("torch.", "") for op in net.spiking_layers})
    out["acc_dtype"][net.readout.name] = "int64"
    if float_model is not None:
        from ..quant import model_size
        out["float_model_kib"] = model_size(float_model).total_kib
    return out
