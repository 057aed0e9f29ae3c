"""Agreement of the integer engine with the float model it was compiled from, measured.

For every spiking layer two numbers (fractions of equal spikes over all
neurons, steps and images):

* ``free``: the integer network runs on its own; a flip in one layer can
  cause flips downstream.
* ``local``: the layer is fed the *float* model's spikes of the layer before
  it (through the same integer pooling ops), so only its own rounding shows.

The readout gets the same pair (``argmax_agreement`` / ``argmax_agreement_local``).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

import torch
from torch import nn

from ..integration import reset_states
from ..neuron import MFNode
from .network import IntegerNetwork
from .ops import Readout, ResidualBlock, SpikingLayer

__all__ = ["float_forward", "agreement", "AgreementCounter", "as_loader"]


def _time_major(batch):
    """Collate ``[T, ...]`` samples into ``[T, B, ...]`` (event frames)."""
    return torch.stack([b[0] for b in batch], 1), torch.tensor([int(b[1]) for b in batch])


def as_loader(data, batch_size: int = 100, limit: Optional[int] = None, frames: bool = False):
    """Batches of ``data``: a Dataset of ``(x, y)`` (first ``limit`` items, batched; with
    ``frames=True`` its ``[T, ...]`` samples are stacked to ``[T, B, ...]``), or a
    DataLoader / list of ``(x, y)`` batches (used as they are: frames must be ``[T, B, ...]``).
    Batch-first temporal data (``"sequence"`` / ``"events"`` networks) is batched as it is:
    ``[T, ...]`` samples -> ``[B, T, ...]``, the float model's input."""
    from torch.utils.data import DataLoader, Dataset, Subset

    if isinstance(data, (DataLoader, list, tuple)):
        if limit is not None:
            raise ValueError("limit applies to a Dataset; slice the batches instead")
        return data
    if not isinstance(data, Dataset) and not hasattr(data, "__getitem__"):
        raise TypeError(f"expected a torch Dataset of (input, label) or a DataLoader, got {type(data).__name__}")
    if limit is not None:
        if isinstance(limit, bool) or int(limit) < 1:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        data = Subset(data, range(min(int(limit), len(data))))
    return DataLoader(data, batch_size=int(batch_size), shuffle=False, collate_fn=_time_major if frames else None)


@torch.no_grad()
def float_forward(model: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """``(logits [B, K] averaged over T, {MFNode name: spikes [T, B, ...]})`` of the float model."""
    spikes: Dict[str, torch.Tensor] = {}
    hooks = [mod.register_forward_hook(lambda _m, _i, out, n=name: spikes.__setitem__(n, out.detach()))
             for name, mod in model.named_modules() if isinstance(mod, MFNode)]
    try:
        reset_states(model)
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return (out.mean(0) if out.dim() == 3 else out), spikes


class AgreementCounter:
    """An ``observe`` callback for :meth:`IntegerNetwork.run` that accumulates agreement counts."""

    def __init__(self, net: IntegerNetwork, local: bool = True) -> None:
        self.net, self.local = net, local
        self.equal: Dict[str, int] = {op.name: 0 for op in net.neuron_ops}
        self.equal_local: Dict[str, int] = dict.fromkeys(self.equal, 0)
        self.total: Dict[str, int] = dict.fromkeys(self.equal, 0)
        self.float_rate: Dict[str, float] = dict.fromkeys(self.equal, 0.0)
        self.n = self.top1_float = self.top1_int = self.argmax_equal = self.argmax_equal_local = 0
        self._float: Dict[str, torch.Tensor] = {}
        self._forced: Optional[torch.Tensor] = None
        self._local_logits: Optional[torch.Tensor] = None

    def begin(self, float_spikes: Dict[str, torch.Tensor]) -> None:
        self._float, self._forced, self._local_logits = float_spikes, None, None

    def __call__(self, i, op, inp, out) -> None:
        if self.local:
            forced = inp if i == 0 else self._forced
            y = op.layer(forced)
        if isinstance(op, (SpikingLayer, ResidualBlock)):  # a block: its output neuron sn2
            ref = self._float[op.info["neuron"]]
            self.equal[op.name] += int((out == ref).sum())
            self.total[op.name] += ref.numel()
            self.float_rate[op.name] += float(ref.sum())
            if self.local:
                self.equal_local[op.name] += int((y == ref).sum())
                y = ref.to(torch.uint8)
        if self.local:
            if isinstance(op, Readout):
                self._local_logits = y
            self._forced = y

    def end(self, float_logits: torch.Tensor, int_logits: torch.Tensor, labels: torch.Tensor) -> None:
        pf, pi = float_logits.argmax(1), int_logits.argmax(1)
        self.n += labels.numel()
        self.top1_float += int((pf == labels).sum())
        self.top1_int += int((pi == labels).sum())
        self.argmax_equal += int((pf == pi).sum())
        if self._local_logits is not None:
            self.argmax_equal_local += int((self._local_logits.argmax(1) == pf).sum())

    def result(self) -> dict:
        layers: List[dict] = []
        for op in self.net.neuron_ops:
            tot = max(self.total[op.name], 1)
            layers.append(dict(name=op.name, neuron=op.info["neuron"], spike_agreement=self.equal[op.name] / tot,
                               spike_agreement_local=self.equal_local[op.name] / tot if self.local else None,
                               spikes_differing=tot - self.equal[op.name],
                               firing_rate_float=self.float_rate[op.name] / tot))
        n = max(self.n, 1)
        return dict(n=self.n, top1_float=100.0 * self.top1_float / n, top1_integer=100.0 * self.top1_int / n,
                    argmax_agreement=self.argmax_equal / n,
                    argmax_agreement_local=self.argmax_equal_local / n if self.local else None,
                    spike_agreement=min((l["spike_agreement"] for l in layers), default=1.0),
                    layers=layers)


def agreement(model: nn.Module, net: IntegerNetwork, data, *, batch_size: int = 100,
              limit: Optional[int] = None, local: bool = True, progress: bool = False,
              extra_observers: Iterable = ()) -> dict:
    """Run the float model and the integer engine (layer schedule) side by side on ``data``.

    Returns ``{n, top1_float, top1_integer (percent), argmax_agreement, argmax_agreement_local,
    spike_agreement (the lowest layer's), layers: [{name, neuron, spike_agreement,
    spike_agreement_local, spikes_differing, firing_rate_float}]}``.
    """
    if not isinstance(net, IntegerNetwork):
        raise TypeError(f"net must be an IntegerNetwork (deploy.compile(model)), got {type(net).__name__}")
    loader = as_loader(data, batch_size, limit, frames=net.input_type == "frames")
    counter = AgreementCounter(net, local=local)
    extra = list(extra_observers)
    if progress:
        from tqdm.auto import tqdm
        loader = tqdm(loader, desc="float vs integer", unit="batch")
    was_training = model.training
    model.eval()
    try:
        for x, y in loader:
            logits_f, spikes = float_forward(model, x)
            counter.begin(spikes)

            def observe(i, op, inp, out):
                counter(i, op, inp, out)
                for o in extra:
                    o(i, op, inp, out)
            res = net.run(x, "layer", observe=observe)
            counter.end(logits_f, res.logits_int, torch.as_tensor(y))
    finally:
        model.train(was_training)
    return counter.result()
