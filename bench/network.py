"""Network benchmark: one training step of a CIFAR-size VGG-11-style spiking net.

    python -m bench.network [--device cpu|cuda] [--T 4 16] [--batch B] [--width W]
                            [--repeats R] [--json out.json] [--quick]

Net (``width`` scales every conv's channel count; 1.0 = VGG-11):
``conv64-M-conv128-M-conv256-conv256-M-conv512-conv512-M-conv512-conv512-M-FC10``
on 3x32x32 inputs, each conv a ``QuantConv2d(k=3, padding=1, bias=False)``
followed by ``BatchNorm2d`` and the neuron; 2-bit weights except the first conv
and the FC (8-bit). Conv/BN/pool/FC run on the merged ``[T*B, ...]`` tensor,
the neuron on ``[T, B, ...]``. Direct encoding: the image is repeated over T.
One step = ``zero_grad; reset; out = net(x); CE(out.mean(0), y).backward(); SGD.step()``.

The "ANN ReLU floor" row is the *same* net with ``nn.ReLU`` applied to the same
``[T*B, ...]`` tensors: identical conv/BN/FC compute, no neuron dynamics.
"""
from __future__ import annotations

import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from mfp_plugin.engine import tune_malloc

from . import common

VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]

ANN = "ANN ReLU floor (same net, nn.ReLU on [T*B])"
MF = "MFNode (torch)"
MF2 = "MFNode 2-bit transient (torch)"
MF_CUPY = "MFNode (cupy)"
QLIF = "QLIFNode 2-bit"
SJ_LIF = "SpikingJelly LIFNode (torch)"

ROWS = [MF, MF2, MF_CUPY, QLIF, SJ_LIF, ANN]


class _NotAvailable(Exception):
    pass


def make_neuron(name: str, device: torch.device):
    """A fresh neuron module for a row (multi-step, ``[T, B, ...]``), or ``None`` for the ANN floor."""
    import mfp_plugin

    if name == ANN:
        return None
    if name in (MF, MF2, MF_CUPY):
        if name == MF_CUPY and device.type != "cuda":
            raise _NotAvailable("cupy backend needs a CUDA device")
        try:
            return mfp_plugin.MFNode(tau=2.0, membrane_bits=2 if name == MF2 else None,
                                     backend="cupy" if name == MF_CUPY else "torch")
        except ImportError as e:
            raise _NotAvailable(f"ImportError: {e}") from None
    if name == QLIF:
        return mfp_plugin.QLIFNode(tau=2.0, membrane_bits=2)
    if name == SJ_LIF:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from spikingjelly.activation_based import neuron, surrogate
        return neuron.LIFNode(tau=2.0, step_mode="m", surrogate_function=surrogate.ATan())
    raise ValueError(f"unknown row {name!r}")


class SeqNeuron(nn.Module):
    """``[T*B, ...]`` -> neuron on ``[T, B, ...]`` -> ``[T*B, ...]``; or ReLU on ``[T*B, ...]``."""

    def __init__(self, neuron: nn.Module | None, T: int):
        super().__init__()
        self.neuron = neuron if neuron is not None else nn.ReLU()
        self.T = T
        self.is_ann = neuron is None

    def forward(self, x):
        if self.is_ann:
            return self.neuron(x)
        y = self.neuron(x.reshape(self.T, x.shape[0] // self.T, *x.shape[1:]))
        return y.reshape(x.shape)


class SpikingVGG(nn.Module):
    def __init__(self, neuron_factory, T: int, width: float = 1.0, num_classes: int = 10, cfg=VGG11,
                 weight_bits: int = 2, edge_bits: int = 8):
        from mfp_plugin import QuantConv2d, QuantLinear

        super().__init__()
        self.T = T
        layers, c_in, first = [], 3, True
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            c_out = max(4, int(round(v * width)))
            layers += [
                QuantConv2d(c_in, c_out, 3, padding=1, bias=False, weight_bits=edge_bits if first else weight_bits),
                nn.BatchNorm2d(c_out),
                SeqNeuron(neuron_factory(), T),
            ]
            c_in, first = c_out, False
        self.features = nn.Sequential(*layers)
        self.fc = QuantLinear(c_in, num_classes, weight_bits=edge_bits)

    def forward(self, img):
        """``img`` ``[B, 3, 32, 32]`` -> logits ``[T, B, classes]`` (direct encoding)."""
        B = img.shape[0]
        x = img.unsqueeze(0).expand(self.T, *img.shape).reshape(self.T * B, *img.shape[1:])
        x = self.features(x).flatten(1)
        return self.fc(x).reshape(self.T, B, -1)


def _reset(net):
    """Clear every neuron's stored state (QLIFNode / SpikingJelly LIFNode keep theirs between calls)."""
    for m in net.modules():
        if isinstance(m, SeqNeuron) and not m.is_ann and hasattr(m.neuron, "reset"):
            m.neuron.reset()


def prepare_row(name: str, T: int, batch: int, width: float, device, warmup: int = 3, seed: int = 0):
    """Build a row's net, warm it up, measure saved bytes (and CUDA peak); ``(row, step)``, step None if n/a."""
    device = torch.device(device)
    row = {"row": name, "T": T, "batch": batch, "width": width, "status": "ok", "note": None,
           "median_ms": None, "saved_mib": None, "cuda_peak_mib": None}
    try:
        make_neuron(name, device)  # availability check
    except _NotAvailable as e:
        row.update(status="n/a", note=str(e))
        return row, None
    torch.manual_seed(seed)
    net = SpikingVGG(lambda: make_neuron(name, device), T, width).to(device).train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(batch, 3, 32, 32, generator=g).to(device)
    target = torch.randint(0, 10, (batch,), generator=g).to(device)

    def forward_loss():
        _reset(net)
        return F.cross_entropy(net(img).mean(0), target)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = forward_loss()
        loss.backward()
        opt.step()

    try:
        common.warm_up(step, device, warmup)
        opt.zero_grad(set_to_none=True)
        saved = common.measure_saved_bytes(forward_loss)
        peak = common.cuda_peak_mib(step, device)
    except Exception as e:
        row.update(status="n/a", note=f"{type(e).__name__}: {e}")
        return row, None
    row["saved_bytes"] = saved
    row["saved_mib"] = saved / common.MIB
    row["cuda_peak_mib"] = peak
    row["params"] = sum(p.numel() for p in net.parameters())
    return row, step


def add_ratios(rows: list[dict]) -> None:
    by = {(r["row"], r["T"], r["batch"]): r for r in rows}
    for r in rows:
        ann = by.get((ANN, r["T"], r["batch"]), {})
        ql = by.get((QLIF, r["T"], r["batch"]), {})
        r["ratio_vs_ann"] = common.ratio(r.get("median_ms"), ann.get("median_ms"))
        r["ratio_vs_qlif"] = common.ratio(r.get("median_ms"), ql.get("median_ms"))
        r["saved_ratio_vs_qlif"] = common.ratio(r.get("saved_mib"), ql.get("saved_mib"))
        r["cuda_peak_ratio_vs_qlif"] = common.ratio(r.get("cuda_peak_mib"), ql.get("cuda_peak_mib"))


def run(Ts=(4, 16), batch=32, width=1.0, device="cpu", repeats=5, warmup=3, rows=None, progress=True, seed=0,
        repeat_budget_s=None) -> dict:
    device = torch.device(device)
    rows = list(ROWS if rows is None else rows)
    results = []
    from tqdm import tqdm

    with tqdm(total=len(Ts) * len(rows), desc="network rows", disable=not progress, file=sys.stderr) as pbar:
        for T in Ts:
            block, steps = [], {}
            for name in rows:
                pbar.set_postfix_str(f"T={T} {name}")
                row, step = prepare_row(name, T, batch, width, device, warmup, seed)
                block.append(row)
                if step is not None:
                    steps[name] = step
                pbar.update(1)
            # Round-robin timing: load changes on a shared machine hit every row alike.
            timings = common.time_interleaved(steps, device, repeats, repeat_budget_s)
            for row in block:
                if row["row"] in timings:
                    row.update(timings[row["row"]])
            results += block
            del steps
    add_ratios(results)
    return {
        "benchmark": "network",
        "env": common.environment(device),
        "config": {"T": list(Ts), "batch": batch, "width": width, "repeats": repeats, "warmup": warmup,
                   "repeat_budget_s": repeat_budget_s, "input": [3, 32, 32], "classes": 10, "cfg": VGG11,
                   "weight_bits": {"first_conv": 8, "hidden": 2, "fc": 8}, "optimizer": "SGD(lr=1e-3, momentum=0.9)",
                   "step": "zero_grad; reset; CE(net(x).mean(0), y).backward(); opt.step()",
                   "timing": "round-robin over rows per T (bench.common.time_interleaved)"},
        "rows": results,
    }


def columns(device) -> list[tuple[str, str]]:
    cols = [("row", "row"), ("T", "T"), ("batch", "batch"), ("median_ms", "step ms"), ("ratio_vs_ann", "x ANN"),
            ("ratio_vs_qlif", "x QLIF")]
    if torch.device(device).type == "cuda":
        cols += [("cuda_peak_mib", "CUDA peak MiB"), ("cuda_peak_ratio_vs_qlif", "peak / QLIF")]
    else:
        cols += [("saved_mib", "saved MiB"), ("saved_ratio_vs_qlif", "saved / QLIF")]
    return cols


def table(payload: dict) -> str:
    return common.format_table(payload["rows"], columns(payload["env"]["device"]))


def main(argv=None) -> dict:
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument("--T", type=int, nargs="+", default=None, help="time steps (default 4 16)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 32 CPU / 128 CUDA; --quick 8)")
    p.add_argument("--width", type=float, default=None, help="channel-width factor (default 1.0; --quick 0.25)")
    p.add_argument("--rows", nargs="+", default=None, choices=ROWS, metavar="ROW", help="subset of rows")
    p.add_argument("--budget", type=float, default=None,
                   help="stop a row's timed repeats after this many seconds (>= 1 repeat); --quick: 8")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    malloc_tuned = False if args.no_malloc_tune else tune_malloc()
    torch.manual_seed(args.seed)
    device = common.device_arg(args.device)
    Ts = args.T or [4, 16]
    batch = args.batch or (8 if args.quick else (128 if device.type == "cuda" else 32))
    width = args.width or (0.25 if args.quick else 1.0)
    repeats = args.repeats or (3 if args.quick else 5)
    budget = args.budget if args.budget is not None else (8.0 if args.quick else None)
    payload = run(Ts, batch, width, device, repeats, args.warmup, args.rows, progress=not args.no_progress,
                  seed=args.seed, repeat_budget_s=budget)
    payload["config"]["quick"] = args.quick
    payload["config"]["malloc_tuned"] = malloc_tuned
    env = payload["env"]
    print(f"\n# network benchmark (VGG-11-style, width x{width}, batch {batch}): {env['device_name']} "
          f"({env['device']}), torch {env['torch']}, {env['threads']} threads, median of <= {repeats} "
          f"(warmup <= {args.warmup}, repeat budget {budget} s)\n")
    print(table(payload))
    common.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
