"""``deploy.report``: accuracy, spike agreement, firing rates, SynOps, energy and memory, counted on data.

One pass over the data runs the float model and the integer engine (layer
schedule) side by side; the counters observe the integer engine's real
tensors. The stream schedule is checked against the layer schedule on the
first batch (``schedules_agree``).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .agreement import AgreementCounter, as_loader, float_forward
from .compiler import compile_model
from .counting import OpCounter
from .energy import CONVENTION, E_AC_PJ, E_MAC_PJ, energy_per_image
from .memory import memory_report
from .network import IntegerNetwork
from .ops import SpikingLayer

__all__ = ["report", "format_table"]


def _model_qlif_bits(net: IntegerNetwork) -> int:
    bits = [op.info["membrane_bits"] for op in net.spiking_layers if op.info["membrane_bits"]]
    return int(bits[0]) if bits else 2


def _schedules_agree(net: IntegerNetwork, x: torch.Tensor) -> bool:
    a = net.run(x, "layer", trace=True)
    b = net.run(x, "stream", trace=True)
    return torch.equal(a.logits_int, b.logits_int) and all(torch.equal(a.outputs[k], b.outputs[k]) for k in a.outputs)


def report(model: nn.Module, data, *, net: Optional[IntegerNetwork] = None, batch_size: int = 100,
           limit: Optional[int] = None, e_ac: float = E_AC_PJ, e_mac: float = E_MAC_PJ,
           qlif_bits: Optional[int] = None, progress: bool = False, name: Optional[str] = None,
           **compile_kwargs) -> dict:
    """Measure ``model`` (float) and its integer engine on ``data`` (a Dataset of ``(x, y)`` or a DataLoader).

    ``net``: an already compiled engine (else ``deploy.compile(model, **compile_kwargs)``).
    ``qlif_bits``: the QLIF membrane width for the memory comparison (default: the
    model's ``membrane_bits``, else 2). Returns a JSON-ready dict with at least
    ``top1_float``, ``top1_integer``, ``spike_agreement``, ``energy_pj_per_image``
    (``snn``, ``ann``) and ``layers`` (``name``, ``firing_rate``, ``synops``, ``macs``, ...).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    net = compile_model(model, **compile_kwargs) if net is None else net
    if not isinstance(net, IntegerNetwork):
        raise TypeError(f"net must be an IntegerNetwork, got {type(net).__name__}")
    net.require_chain("report")
    loader = as_loader(data, batch_size, limit, frames=net.input_type == "frames")
    agree, count = AgreementCounter(net, local=True), OpCounter(net)
    schedules_agree = None
    it = loader
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(loader, desc="deploy report", unit="batch")
    was_training = model.training
    model.eval()
    try:
        for x, y in it:
            logits_f, spikes = float_forward(model, x)
            agree.begin(spikes)
            count.begin(net.batch_size(x))

            def observe(i, op, inp, out):
                agree(i, op, inp, out)
                count(i, op, inp, out)
            res = net.run(x, "layer", observe=observe)
            agree.end(logits_f, res.logits_int, torch.as_tensor(y))
            if schedules_agree is None:
                schedules_agree = _schedules_agree(net, net.take(x, 8))
    finally:
        model.train(was_training)
    if count.images == 0:
        raise ValueError("the data yielded no images")
    a, counts = agree.result(), count.result()
    by_name = {l["name"]: l for l in a["layers"]}
    layers = []
    for op in net.ops:
        if op.name not in counts:
            continue
        row = dict(counts[op.name], out_shape=list(op.out_shape), weight_bits=op.info["weight_bits"],
                   acc_bits=op.info["acc_bits"])
        if isinstance(op, SpikingLayer):
            ag = by_name[op.name]
            row.update(neuron=op.info["neuron"], firing_rate_float=ag["firing_rate_float"],
                       spike_agreement=ag["spike_agreement"], spike_agreement_local=ag["spike_agreement_local"],
                       spikes_differing=ag["spikes_differing"], static=op.static)
        else:
            row.update(argmax_agreement=a["argmax_agreement"], argmax_agreement_local=a["argmax_agreement_local"])
        layers.append(row)
    energy = energy_per_image(layers, e_ac, e_mac)
    energy["convention"] = CONVENTION
    qb = _model_qlif_bits(net) if qlif_bits is None else qlif_bits
    return dict(model=name, n_images=a["n"], T=net.T, input_type=net.input_type,
                top1_float=a["top1_float"], top1_integer=a["top1_integer"],
                argmax_agreement=a["argmax_agreement"], argmax_agreement_local=a["argmax_agreement_local"],
                spike_agreement=a["spike_agreement"], schedules_agree=schedules_agree,
                synops_per_image=sum(l["synops"] for l in layers),
                macs_per_image=dict(snn=sum(l["snn_macs"] for l in layers), ann=sum(l["macs"] for l in layers)),
                energy_pj_per_image=energy, memory=memory_report(net, qb, float_model=model),
                compile=dict(input_frac_bits=net.input_frac_bits, input_bits=net.input_bits),
                layers=layers)


def _si(v: float) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.2f}{unit}"
    return f"{v:.0f}"


def format_table(rep: dict) -> str:
    """A plain-text table of a :func:`report` dict."""
    head = f"{'layer':<14}{'out shape':<15}{'rate':>7}{'SynOps':>10}{'SNN MACs':>10}{'ANN MACs':>10}" \
           f"{'agree':>10}{'local':>10}{'acc':>5}"
    lines = [f"model {rep.get('model') or '?'}: {rep['n_images']} images, T = {rep['T']}", head, "-" * len(head)]
    for l in rep["layers"]:
        rate = "-" if l.get("firing_rate") is None else f"{l['firing_rate']:.3f}"
        ag = l.get("spike_agreement", l.get("argmax_agreement"))
        lo = l.get("spike_agreement_local", l.get("argmax_agreement_local"))
        fmt = lambda v: "-" if v is None else f"{100 * v:.3f}%"  # noqa: E731
        lines.append(f"{l['name']:<14}{'x'.join(map(str, l['out_shape'])):<15}{rate:>7}{_si(l['synops']):>10}"
                     f"{_si(l['snn_macs']):>10}{_si(l['macs']):>10}{fmt(ag):>10}{fmt(lo):>10}{l['acc_bits']:>5}")
    e, m = rep["energy_pj_per_image"], rep["memory"]
    st, pk = m["state_bits"], m["peak_activation_bits"]
    kib = lambda b: f"{b / 8192:.1f} KiB"  # noqa: E731
    lines += [
        "",
        f"top-1 float {rep['top1_float']:.2f} %, integer {rep['top1_integer']:.2f} %; argmax agreement "
        f"{100 * rep['argmax_agreement']:.2f} %; lowest layer spike agreement {100 * rep['spike_agreement']:.4f} %"
        f"; schedules agree: {rep['schedules_agree']}",
        f"energy per image: SNN {e['snn'] / 1e6:.2f} uJ, ANN {e['ann'] / 1e6:.2f} uJ (x{e['ratio']:.2f}); "
        f"{e['e_ac_pj']} pJ/AC, {e['e_mac_pj']} pJ/MAC, a 45 nm convention",
        f"weights {kib(m['weights']['bits'])} (codes {kib(m['weights']['codes_bits'])}, thresholds/tables "
        f"{kib(m['weights']['table_bits'])})",
        f"state between steps  layer: MF {kib(st['layer']['mf'])}, QLIF-{m['qlif_bits']} "
        f"{kib(st['layer']['qlif'])}, float LIF {kib(st['layer']['float_lif'])}",
        f"                     stream: MF {kib(st['stream']['mf'])}, QLIF-{m['qlif_bits']} "
        f"{kib(st['stream']['qlif'])}, float LIF {kib(st['stream']['float_lif'])}",
        f"peak activation buffer  layer {kib(pk['layer'])}, stream {kib(pk['stream'])}",
    ]
    return "\n".join(lines)
