"""Neuron-layer benchmark: forward + backward of ``y.sum()`` on a ``[T, N]`` float32 input.

    python -m bench.neuron [--device cpu|cuda] [--T 4 8 16 32] [--N 1048576]
                           [--repeats R] [--json out.json] [--quick] [--plot img.png]

Every row runs the same step -- ``x.grad = None; reset; y = layer(x); y.sum().backward()``
on one ``x`` of shape ``[T, N]`` (``requires_grad=True``) -- and reports the
median wall time of ``--repeats`` calls after ``--warmup`` untimed calls, the
bytes autograd saves for backward (unique storages, see
:class:`bench.common.SavedBytes`) and, on CUDA, ``max_memory_allocated``.
See docs/benchmarks.md.
"""
from __future__ import annotations

import sys
import warnings

import torch

from mfp_plugin.engine import tune_malloc

from . import common
from .reference_qsnn import VanillaQSNN

RELU = "ReLU floor"
VANILLA = "vanilla QSNN loop (bench.reference_qsnn)"
MF = "MFNode (torch)"
MF2 = "MFNode 2-bit transient (torch)"
MF_CUPY = "MFNode (cupy)"
MF_GEMM = "MFNode (torch, GEMM path)"
QLIF = "QLIFNode 2-bit"
SJ_LIF = "SpikingJelly LIFNode (torch)"
SJ_LIF_CUPY = "SpikingJelly LIFNode (cupy)"
SJ_PSN = "SpikingJelly PSN"

ROWS = [MF, MF2, MF_GEMM, MF_CUPY, QLIF, VANILLA, SJ_LIF, SJ_LIF_CUPY, SJ_PSN, RELU]

DEFAULT_T = [4, 8, 16, 32]
DEFAULT_N = 2**20


class _NotAvailable(Exception):
    pass


def _reset(module) -> None:
    """Clear stored state between calls (QLIFNode / SpikingJelly are stateful)."""
    if module is None:
        return
    if hasattr(module, "reset") and callable(module.reset):
        module.reset()
    else:  # pragma: no cover - every stateful row has reset()
        import mfp_plugin

        mfp_plugin.reset_states(module)


def build_layer(name: str, T: int, device: torch.device):
    """``(forward, module)`` of a row; raises :class:`_NotAvailable` with a reason when it cannot run."""
    import mfp_plugin

    if name == RELU:
        return torch.relu, None
    if name == VANILLA:
        m = VanillaQSNN(tau=2.0, v_threshold=1.0, membrane_bits=2)
        return m, None
    if name == MF_GEMM:
        # The torch backend with the fused C scan switched off: the K @ X GEMM on every device.
        from mfp_plugin.backends import cpu_kernel

        m = mfp_plugin.MFNode(tau=2.0).to(device)

        def gemm_only(x):
            cpu_kernel.set_enabled(False)
            try:
                return m(x)
            finally:
                cpu_kernel.set_enabled(None)

        return gemm_only, m
    if name in (MF, MF2, MF_CUPY):
        bits = 2 if name == MF2 else None
        try:
            m = mfp_plugin.MFNode(tau=2.0, membrane_bits=bits, backend="cupy" if name == MF_CUPY else "torch")
        except ImportError as e:
            raise _NotAvailable(f"ImportError: {e}") from None
        if name == MF_CUPY and device.type != "cuda":
            raise _NotAvailable("cupy backend needs a CUDA device")
        return m.to(device), m
    if name == QLIF:
        m = mfp_plugin.QLIFNode(tau=2.0, membrane_bits=2).to(device)
        return m, m
    if name in (SJ_LIF, SJ_LIF_CUPY, SJ_PSN):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from spikingjelly.activation_based import neuron, surrogate
        except Exception as e:  # pragma: no cover - spikingjelly is a dependency
            raise _NotAvailable(f"spikingjelly: {e}") from None
        if name == SJ_PSN:
            if not hasattr(neuron, "PSN"):
                raise _NotAvailable("spikingjelly has no neuron.PSN")
            m = neuron.PSN(T=T, surrogate_function=surrogate.ATan()).to(device)
            return m, m
        kwargs = dict(tau=2.0, step_mode="m", surrogate_function=surrogate.ATan())
        if name == SJ_LIF_CUPY:
            if device.type != "cuda":
                raise _NotAvailable("cupy backend needs a CUDA device")
            try:
                m = neuron.LIFNode(backend="cupy", **kwargs)
            except Exception as e:
                raise _NotAvailable(f"{type(e).__name__}: {e}") from None
        else:
            m = neuron.LIFNode(**kwargs)
        return m.to(device), m
    raise ValueError(f"unknown row {name!r}")


def make_input(T: int, N: int, device, seed: int = 0) -> torch.Tensor:
    """Uniform currents in [0, 1.5) (every neuron model here fires on some steps), ``requires_grad``."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, N, generator=g) * 1.5).to(device).requires_grad_(True)


def prepare_row(name: str, x: torch.Tensor, warmup: int = 3) -> tuple[dict, object]:
    """Build a row on input ``x``, warm it up, measure saved bytes (and CUDA peak).

    Returns ``(row, step)``; ``step`` is ``None`` when the row is n/a (reason in ``row["note"]``).
    """
    device = x.device
    T, N = x.shape
    row = {"row": name, "T": T, "N": N, "status": "ok", "note": None,
           "median_ms": None, "saved_mib": None, "cuda_peak_mib": None}
    try:
        fwd, module = build_layer(name, T, device)
    except _NotAvailable as e:
        row.update(status="n/a", note=str(e))
        return row, None

    def step():
        x.grad = None
        _reset(module)
        y = fwd(x)
        y.sum().backward()

    try:
        common.warm_up(step, device, warmup)
        x.grad = None
        _reset(module)
        saved = common.measure_saved_bytes(lambda: fwd(x))
        _reset(module)
        peak = common.cuda_peak_mib(step, device)
    except Exception as e:  # a backend that constructs but fails to run
        row.update(status="n/a", note=f"{type(e).__name__}: {e}")
        return row, None
    finally:
        x.grad = None
    row["saved_bytes"] = saved
    row["saved_mib"] = saved / common.MIB
    row["cuda_peak_mib"] = peak
    return row, step


def bench_T(names, T: int, N: int, device, repeats: int, warmup: int, seed: int = 0,
            repeat_budget_s: float | None = None, pbar=None) -> list[dict]:
    """All rows at one (T, N) on one shared input; timed round-robin (:func:`common.time_interleaved`)."""
    x = make_input(T, N, device, seed)
    rows, steps = [], {}
    for name in names:
        if pbar is not None:
            pbar.set_postfix_str(f"T={T} {name}")
        row, step = prepare_row(name, x, warmup)
        rows.append(row)
        if step is not None:
            steps[name] = step
        if pbar is not None:
            pbar.update(1)
    timings = common.time_interleaved(steps, device, repeats, repeat_budget_s)
    for row in rows:
        if row["row"] in timings:
            row.update(timings[row["row"]])
    x.grad = None
    return rows


def add_ratios(rows: list[dict]) -> None:
    """ratio vs ReLU (time), speed-up vs the vanilla loop (time), saved-bytes ratio vs the vanilla loop."""
    by = {(r["row"], r["T"], r["N"]): r for r in rows}
    for r in rows:
        relu = by.get((RELU, r["T"], r["N"]), {})
        van = by.get((VANILLA, r["T"], r["N"]), {})
        r["ratio_vs_relu"] = common.ratio(r.get("median_ms"), relu.get("median_ms"))
        r["speedup_vs_vanilla"] = common.ratio(van.get("median_ms"), r.get("median_ms"))
        r["saved_ratio_vs_vanilla"] = common.ratio(r.get("saved_mib"), van.get("saved_mib"))


def check_targets(rows: list[dict], T: int = 16, N: int = DEFAULT_N) -> dict:
    """The issue's targets at (T, N): speed-up >= 8x vs the loop, <= 4x ReLU, saved <= 1/3 of the loop's."""
    out = {}
    by = {(r["row"], r["T"], r["N"]): r for r in rows}
    for name in (MF, MF2):
        r = by.get((name, T, N))
        if r is None or r.get("median_ms") is None:
            continue
        sp, rr, sv = r["speedup_vs_vanilla"], r["ratio_vs_relu"], r["saved_ratio_vs_vanilla"]
        out[name] = {
            "T": T, "N": N,
            "speedup_vs_vanilla": sp, "speedup_target": 8.0, "speedup_met": sp is not None and sp >= 8.0,
            "ratio_vs_relu": rr, "relu_target": 4.0, "relu_met": rr is not None and rr <= 4.0,
            "saved_ratio_vs_vanilla": sv, "saved_target": 1 / 3, "saved_met": sv is not None and sv <= 1 / 3,
        }
    return out


def run(Ts=DEFAULT_T, N=DEFAULT_N, device="cpu", repeats=5, warmup=3, rows=None, progress=True, seed=0,
        repeat_budget_s=None) -> dict:
    """Run every (T, row); return the JSON payload (``env``, ``config``, ``rows``, ``targets``)."""
    device = torch.device(device)
    names = list(ROWS if rows is None else rows)
    results = []
    from tqdm import tqdm

    with tqdm(total=len(Ts) * len(names), desc="neuron rows", disable=not progress, file=sys.stderr) as pbar:
        for T in Ts:
            results += bench_T(names, T, N, device, repeats, warmup, seed, repeat_budget_s, pbar)
    add_ratios(results)
    target_T = 16 if 16 in Ts else Ts[-1]
    return {
        "benchmark": "neuron",
        "env": common.environment(device),
        "config": {"T": list(Ts), "N": N, "repeats": repeats, "warmup": warmup, "repeat_budget_s": repeat_budget_s,
                   "dtype": "float32", "timing": "round-robin over rows per T (bench.common.time_interleaved)",
                   "step": "x.grad=None; reset; y=layer(x); y.sum().backward()"},
        "rows": results,
        "targets": check_targets(results, target_T, N),
    }


COLUMNS = [
    ("row", "row"), ("T", "T"), ("N", "N"), ("median_ms", "median ms"), ("ratio_vs_relu", "x ReLU"),
    ("speedup_vs_vanilla", "speed-up vs loop"), ("saved_mib", "saved MiB"),
    ("saved_ratio_vs_vanilla", "saved / loop"), ("cuda_peak_mib", "CUDA peak MiB"),
]


def table(payload: dict) -> str:
    return common.format_table(payload["rows"], COLUMNS)


def targets_text(payload: dict) -> str:
    lines = []
    for name, t in payload["targets"].items():
        lines.append(
            f"{name} @ T={t['T']}, N={t['N']}: speed-up vs loop {common.fmt(t['speedup_vs_vanilla'])}x "
            f"(target >= 8: {'met' if t['speedup_met'] else 'MISSED'}); "
            f"{common.fmt(t['ratio_vs_relu'])}x ReLU (target <= 4: {'met' if t['relu_met'] else 'MISSED'}); "
            f"saved {common.fmt(t['saved_ratio_vs_vanilla'], 3)} of loop (target <= 0.333: "
            f"{'met' if t['saved_met'] else 'MISSED'})"
        )
    return "\n".join(lines)


def plot(payload: dict, path: str) -> None:
    """Median time vs T per row (log-log), matplotlib Agg."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = [n for n in dict.fromkeys(r["row"] for r in payload["rows"])]
    for name in names:
        pts = [(r["T"], r["median_ms"]) for r in payload["rows"] if r["row"] == name and r.get("median_ms")]
        if not pts:
            continue
        ts, ms = zip(*pts)
        ax.plot(ts, ms, marker="o", label=name)
    env = payload["env"]
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("T (time steps)")
    ax.set_ylabel("forward + backward, median ms")
    ax.set_title(f"neuron layer, N={payload['config']['N']}, {env['device']} ({env['threads']} threads), "
                 f"torch {env['torch']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument("--T", type=int, nargs="+", default=None, help="time steps (default 4 8 16 32)")
    p.add_argument("--N", type=int, default=None, help="neurons per step (default 2^20)")
    p.add_argument("--rows", nargs="+", default=None, choices=ROWS, metavar="ROW", help="subset of rows")
    p.add_argument("--plot", default=None, help="write a time-vs-T PNG here")
    p.add_argument("--budget", type=float, default=None,
                   help="stop a row's timed repeats after this many seconds (>= 1 repeat); --quick: 8")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    malloc_tuned = False if args.no_malloc_tune else tune_malloc()
    torch.manual_seed(args.seed)
    device = common.device_arg(args.device)
    Ts = args.T or DEFAULT_T
    N = args.N or DEFAULT_N
    repeats = args.repeats or (3 if args.quick else 7)
    budget = args.budget if args.budget is not None else (8.0 if args.quick else None)
    payload = run(Ts, N, device, repeats, args.warmup, args.rows, progress=not args.no_progress, seed=args.seed,
                  repeat_budget_s=budget)
    payload["config"]["quick"] = args.quick
    payload["config"]["malloc_tuned"] = malloc_tuned
    env = payload["env"]
    print(f"\n# neuron benchmark: {env['device_name']} ({env['device']}), torch {env['torch']}, "
          f"{env['threads']} threads, N={N}, median of <= {repeats} (warmup <= {args.warmup}, "
          f"repeat budget {budget} s)\n")
    print(table(payload))
    print()
    print(targets_text(payload))
    common.write_json(args.json, payload)
    if args.plot:
        plot(payload, args.plot)
    return payload


if __name__ == "__main__":
    main()
