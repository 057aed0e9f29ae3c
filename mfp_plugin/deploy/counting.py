"""Operation counts of the integer engine on real inputs (an ``observe`` callback).

Per weight layer, per image:

* ``synops``: synaptic operations (accumulates) driven by the layer's real
  input events: every input spike times its fan-out, i.e. the number of
  output neurons it reaches (border-aware: a conv ones-kernel "occupancy",
  the definition of SpikingJelly 2.0's ``SynOpCounter``). A pooled spike
  count ``c`` counts as ``c`` events. Counted over all T steps.
* ``snn_macs``: multiply-accumulates the SNN still does: the first layer's
  MAC on the analog (fixed-point) input, once per image for a static input
  (the image is the same at every step), T times for frames.
* ``macs``: the same network as an ANN: outputs x fan-in, one pass for a
  static image, one pass per step for sequences and event frames (an ANN
  reads a sequence one step at a time too; a last-step readout once).
* ``firing_rate``: spikes / (neurons x T), and the neuron count.

Each is counted from the tensors the engine actually processes.
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F

from .network import IntegerNetwork
from .ops import Readout, SpikingLayer

__all__ = ["OpCounter"]


def _fan_in(op) -> int:
    codes = op.info["codes"]
    return int(codes[0].numel())


def _synops(op, x: torch.Tensor) -> int:
    """Sum over input events of their fan-out, for a merged ``[N, ...]`` input."""
    codes = op.info["codes"]
    if op.info["layer_type"] == "linear":
        return int(x.sum(dtype=torch.int64)) * int(codes.shape[0])
    g = op.mac.geometry["groups"]
    # float32 is exact here: each occupancy is a sum of small integers far below 2^24
    ones = torch.ones((g, codes.shape[1], *codes.shape[2:]), dtype=torch.float32)
    occ = F.conv2d(x.to(torch.float32), ones, None, **op.mac.geometry)
    return int(occ.sum(dtype=torch.float64)) * (int(codes.shape[0]) // g)



class OpCounter:
    """Accumulates per-layer counts over batches; :meth:`result` gives per-image figures."""

    def __init__(self, net: IntegerNetwork) -> None:
        self.net = net
        self.images = 0
        self.layers: Dict[str, dict] = {}
        for i, op in enumerate(net.ops):
            if isinstance(op, (SpikingLayer, Readout)):
                analog = i == self._first_weight_index()
                self.layers[op.name] = dict(name=op.name, kind=op.kind, input="analog" if analog else "events",
                                            synops=0, snn_macs=0, macs=0, spikes=0, neuron_steps=0,
                                            neurons=int(torch.tensor(op.out_shape).prod()))

    def _first_weight_index(self) -> int:
        return next(i for i, op in enumerate(self.net.ops) if isinstance(op, (SpikingLayer, Readout)))

    def begin(self, batch: int) -> None:
        self.images += batch

    def __call__(self, i, op, inp, out) -> None:
        if tuple(out.shape[out.dim() - len(op.out_shape):]) != op.out_shape:  # pragma: no cover - a bug guard
            raise RuntimeError(f"{op.name}: output {tuple(out.shape)} does not end in {op.out_shape}")
        rec = self.layers.get(op.name)
        if rec is None:
            return
        T, static = self.net.T, inp.dim() == len(op.in_shape) + 1
        batch = inp.shape[0] if static else inp.shape[1]
        outputs = int(torch.tensor(op.out_shape).prod())
        # the ANN twin: one pass over a static image, one per step over a sequence or event frames
        passes = 1 if self.net.input_type == "static" or getattr(op, "last", False) else T
        rec["macs"] += batch * outputs * _fan_in(op) * passes
        if rec["input"] == "analog":
            rec["snn_macs"] += batch * outputs * _fan_in(op) * (1 if static else T)
        elif getattr(op, "last", False):  # a last-step readout runs its MAC once, on the last step's spikes
            rec["synops"] += _synops(op, inp[-1])
        else:
            rec["synops"] += _synops(op, inp.flatten(0, 1))
        if isinstance(op, SpikingLayer):
            rec["spikes"] += int(out.sum(dtype=torch.int64))
            rec["neuron_steps"] += out.numel()

    def result(self) -> Dict[str, dict]:
        n = max(self.images, 1)
        out = {}
        for name, r in self.layers.items():
            out[name] = dict(name=name, kind=r["kind"], input=r["input"], neurons=r["neurons"],
                             firing_rate=(r["spikes"] / r["neuron_steps"]) if r["neuron_steps"] else None,
                             synops=r["synops"] / n, snn_macs=r["snn_macs"] / n, macs=r["macs"] / n)
        return out
