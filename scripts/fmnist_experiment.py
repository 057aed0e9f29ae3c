"""Fashion-MNIST side by side: memory-free vs vanilla QSNN vs full precision, one recipe.

    python scripts/fmnist_experiment.py run     [--runs DIR] [--jobs 2] [--epochs 4] [--seed 0] [--only KEY ...]
    python scripts/fmnist_experiment.py report  [--runs DIR] [--seed 0] [--out docs/results.md]
                                                [--plot docs/img/results_accuracy_vs_bits.png]
    python scripts/fmnist_experiment.py commands   # print the seven train commands

Seven rows, identical architecture (``mf_vgg_mini``), T, epochs, optimiser,
schedule, augmentation and seed; only the neuron, its membrane bits and the
weight bits change (first conv and last FC at 8 bits in every quantized row):

  lif_fp      full-precision LIF SNN (SpikingJelly LIFNode, float weights)
  qlif_w2_m2  vanilla QSNN: QLIFNode, 2-bit weights, 2-bit stored membrane
  qlif_w2_m4  vanilla QSNN: QLIFNode, 2-bit weights, 4-bit stored membrane
  mf_w2       MF-QSNN: MFNode, 2-bit weights, exact transient potential
  mf_w2_m2    MF-QSNN: MFNode, 2-bit weights, 2-bit transient membrane
  mf_w1       MF-QSNN: MFNode, binary weights, exact transient potential
  mf_w1_m2    MF-QSNN: MFNode, binary weights, 2-bit transient membrane

``run`` trains every row with ``mfp train`` (``--jobs`` rows at a time, each on
``--threads`` OpenMP threads) and resumes any row that has a ``last.pt``:
stopping and re-running the same command continues where it stopped (at
epoch granularity). ``report`` reads each row's ``log.csv`` and checkpoint and
writes the markdown table and the plot; rows that have not finished are
marked as such, with the epochs done. The table replaces the block between
``<!-- experiment:begin -->`` and ``<!-- experiment:end -->`` in ``--out``
(the rest of the file is kept; a missing file or block is created).
"""
from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from experiment_runs import REPO, hardware, launch_train, replace_block  # this folder is on sys.path when run as a script
MODEL = "mf_vgg_mini"
DEFAULT_RUNS = REPO / "runs" / "fmnist_experiment"

#: The recipe shared by every row.
RECIPE = dict(T=4, epochs=4, batch_size=128, lr=1e-3, optimizer="adam", seed=0, workers=0)

#: key -> (label, neuron, weight_bits, first_last_bits, membrane_bits, state bits between steps, state note)
ROWS = {
    "lif_fp": ("full-precision LIF SNN", "lif", "fp", "fp", None, 32, "float32 membrane"),
    "qlif_w2_m2": ("vanilla QSNN, 2-bit stored membrane", "qlif", 2, 8, 2, 2, "Q_2 membrane"),
    "qlif_w2_m4": ("vanilla QSNN, 4-bit stored membrane", "qlif", 2, 8, 4, 4, "Q_4 membrane"),
    "mf_w2": ("MF-QSNN, 2-bit weights", "mf", 2, 8, None, 0, "none (layer-by-layer)"),
    "mf_w2_m2": ("MF-QSNN, 2-bit weights, 2-bit transient membrane", "mf", 2, 8, 2, 0, "none (layer-by-layer)"),
    "mf_w1": ("MF-QSNN, binary weights", "mf", 1, 8, None, 0, "none (layer-by-layer)"),
    "mf_w1_m2": ("MF-QSNN, binary weights, 2-bit transient membrane", "mf", 1, 8, 2, 0, "none (layer-by-layer)"),
}


def train_argv(key: str, out: Path, epochs: int, amp: bool = False, seed: int = RECIPE["seed"]) -> list[str]:
    """The ``mfp train`` arguments of one row (fresh start; ``--resume`` is added when continuing)."""
    _, neuron, wb, flb, mb, _, _ = ROWS[key]
    argv = ["train", MODEL, "--data", "fmnist", "--output", str(out), "--epochs", str(epochs),
            "--T", str(RECIPE["T"]), "--batch-size", str(RECIPE["batch_size"]), "--lr", str(RECIPE["lr"]),
            "--optimizer", RECIPE["optimizer"], "--seed", str(seed),
            "--workers", str(RECIPE["workers"]), "--neuron", neuron,
            "--weight-bits", str(wb), "--first-last-bits", str(flb), "--no-progress"]
    if mb is not None:
        argv += ["--membrane-bits", str(mb)]
    if amp:
        argv.append("--amp")
    return argv


def _epochs_done(run: Path) -> int:
    log = run / "log.csv"
    if not log.is_file():
        return 0
    with open(log, newline="") as fh:
        return len(list(csv.DictReader(fh)))


def _check_seeds(runs: Path, keys, seed: int) -> None:
    """Refuse rows whose existing run was trained with another seed: resuming or reporting them would mix seeds."""
    mixed = []
    for key in keys:
        args_json = runs / key / "args.json"
        if args_json.is_file():
            recorded = json.loads(args_json.read_text()).get("seed")
            if recorded != seed:
                mixed.append(f"{key} (seed {recorded})")
    if mixed:
        raise SystemExit(f"error: --seed {seed} but {runs} holds runs of another seed: {', '.join(mixed)}; "
                         "give each seed its own --runs folder")


def _run_row(key: str, runs: Path, epochs: int, threads: int, amp: bool, extra: list[str],
             seed: int = RECIPE["seed"]) -> tuple[str, int]:
    out = runs / key
    out.mkdir(parents=True, exist_ok=True)
    if _epochs_done(out) >= epochs:
        return key, 0
    rc = launch_train(out, train_argv(key, out, epochs, amp, seed) + extra, epochs, threads)
    return key, rc


def cmd_run(args) -> int:
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    keys = args.only or list(ROWS)
    unknown = [k for k in keys if k not in ROWS]
    if unknown:
        raise SystemExit(f"error: unknown row(s) {unknown}; rows: {', '.join(ROWS)}")
    _check_seeds(runs, keys, args.seed)
    hw_path = runs / "hardware.json"
    if not hw_path.exists():
        hw_path.write_text(json.dumps(hardware(args.threads, args.jobs), indent=2) + "\n")
    print(f"{len(keys)} rows, {args.jobs} at a time, {args.threads} thread(s) each, {args.epochs} epochs; "
          f"logs in {runs}/<row>/stdout.log", flush=True)
    failed = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_run_row, k, runs, args.epochs, args.threads, args.amp,
                               shlex.split(args.extra_train_args or ""), args.seed) for k in keys]
        for f in futures:
            key, rc = f.result()
            done = _epochs_done(runs / key)
            print(f"{key}: exit {rc}, {done}/{args.epochs} epochs", flush=True)
            if rc != 0:
                failed.append(key)
    return 1 if failed else 0


# ---------------------------------------------------------------------------- report
def _row_result(key: str, runs: Path, epochs: int, seed: int = RECIPE["seed"]) -> dict:
    label, neuron, wb, flb, mb, state_bits, state_note = ROWS[key]
    run = runs / key
    res = dict(key=key, label=label, neuron=neuron, weight_bits=wb, first_last_bits=flb, membrane_bits=mb,
               state_bits=state_bits, state_note=state_note, epochs_done=_epochs_done(run), epochs=epochs)
    if res["epochs_done"]:
        with open(run / "log.csv", newline="") as fh:
            log = list(csv.DictReader(fh))
        res["top1_final"] = float(log[-1]["test_acc"])
        res["top1_best"] = max(float(r["test_acc"]) for r in log)
        res["epoch_seconds"] = sum(float(r["epoch_seconds"]) for r in log) / len(log)
        res["curve"] = [float(r["test_acc"]) for r in log]
    import model_zoo
    from mfp_plugin.engine import model_overrides
    from mfp_plugin.quant import model_size

    options = dict(T=RECIPE["T"], weight_bits=wb, first_last_bits=flb, neuron=neuron, membrane_bits=mb)
    model = model_zoo.create_model(MODEL, **model_overrides(options))
    size = model_size(model)
    res["size_kib"] = size.total_kib
    res["weight_kib"] = size.weight_bits / 8 / 1024
    res["neurons"] = _neurons_per_sample(model)
    res["command"] = shlex.join(["mfp", *train_argv(key, runs / key, epochs, seed=seed)])
    return res


def _neurons_per_sample(model) -> int:
    """Spiking neurons per time step for one 28x28 image (to express the state in bits per sample)."""
    import torch

    counts = []
    # multi-step outputs are [T, B=1, ...]: o[0] is one time step of the one sample
    hooks = [m.register_forward_hook(lambda m, i, o: counts.append(o[0].numel()))
             for m in model.modules() if type(m).__name__ in ("MFNode", "QLIFNode", "LIFNode")]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return int(sum(counts))


def cmd_report(args) -> int:
    runs = Path(args.runs)
    _check_seeds(runs, ROWS, args.seed)
    results = [_row_result(k, runs, args.epochs, args.seed) for k in ROWS]
    hw = json.loads((runs / "hardware.json").read_text()) if (runs / "hardware.json").exists() else {}
    lines = [
        "| row | neuron | weight bits (first/last) | membrane | state kept between steps | top-1 final (best) % | "
        "model size KiB | epochs | s / epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        wb = "fp32" if r["weight_bits"] == "fp" else f"{r['weight_bits']} ({r['first_last_bits']})"
        mem = ("float32, stored" if r["neuron"] == "lif" else
               f"{r['membrane_bits']}-bit, stored" if r["neuron"] == "qlif" else
               f"{r['membrane_bits']}-bit, transient" if r["membrane_bits"] else "exact, transient")
        state = f"{r['state_bits']} bits/neuron ({r['state_bits'] * r['neurons'] / 8 / 1024:.1f} KiB/sample)"
        if r["state_bits"] == 0:
            state = "0 (layer-by-layer)"
        if r["epochs_done"]:
            acc = f"{r['top1_final']:.2f} ({r['top1_best']:.2f})"
            ep = f"{r['epochs_done']}/{r['epochs']}" + ("" if r["epochs_done"] >= r["epochs"] else " **unfinished**")
            sec = f"{r['epoch_seconds']:.0f}"
        else:
            acc, ep, sec = "not run", f"0/{r['epochs']}", "-"
        lines.append(f"| `{r['key']}` {r['label']} | {r['neuron']} | {wb} | {mem} | {state} | {acc} | "
                     f"{r['size_kib']:.1f} | {ep} | {sec} |")
    table = "\n".join(lines)
    cmds = "\n".join(r["command"] for r in results)
    block = (f"{BEGIN}\n<!-- written by `python scripts/fmnist_experiment.py report`; do not edit by hand -->\n\n"
             f"{table}\n\nHardware: {json.dumps(hw)}\n\nCommands (`run` issues them; `--resume` continues):\n\n"
             f"```bash\n{cmds}\n```\n{END}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(replace_block(out.read_text() if out.exists() else "", block, BEGIN, END))
    print(table)
    if args.plot:
        _plot(results, args.plot)
        print(f"wrote {args.out} and {args.plot}")
    return 0


BEGIN, END = "<!-- experiment:begin -->", "<!-- experiment:end -->"


def _plot(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in results if r["epochs_done"]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    styles = {"lif": ("k", "s"), "qlif": ("C3", "o"), "mf": ("C0", "^")}
    for r in done:
        color, marker = styles[r["neuron"]]
        hollow = r["neuron"] == "mf" and r["membrane_bits"] is None
        kw = dict(color=color, marker=marker, s=60, facecolors="none" if hollow else color)
        axes[0].scatter(r["size_kib"], r["top1_final"], **kw)
        axes[0].annotate(r["key"], (r["size_kib"], r["top1_final"]), fontsize=7, xytext=(4, 2),
                         textcoords="offset points")
        axes[1].scatter(r["state_bits"], r["top1_final"], **kw)
        axes[1].annotate(r["key"], (r["state_bits"], r["top1_final"]), fontsize=7, xytext=(4, 2),
                         textcoords="offset points")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("model size, KiB (weights at their bit widths)")
    axes[1].set_xlabel("neuron state kept between time steps, bits per neuron")
    axes[1].set_xticks([0, 2, 4, 32])
    for ax in axes:
        ax.set_ylabel("Fashion-MNIST top-1 %, final epoch")
        ax.grid(alpha=0.3)
    unfinished = [r["key"] for r in done if r["epochs_done"] < r["epochs"]]
    title = f"{MODEL}, T={RECIPE['T']}, same recipe on every row"
    if unfinished:
        title += f" (unfinished: {', '.join(unfinished)})"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "report", "commands"):
        p = sub.add_parser(name)
        p.add_argument("--runs", default=str(DEFAULT_RUNS), help="folder of the row runs [runs/fmnist_experiment]")
        p.add_argument("--epochs", type=int, default=RECIPE["epochs"], help=f"epochs per row [{RECIPE['epochs']}]")
        p.add_argument("--seed", type=int, default=RECIPE["seed"],
                       help=f"seed of every row [{RECIPE['seed']}]; give each seed its own --runs folder")
        if name == "run":
            p.add_argument("--jobs", type=int, default=2, help="rows trained at the same time [2]")
            p.add_argument("--threads", type=int, default=1, help="OpenMP threads per row [1]")
            p.add_argument("--only", nargs="+", metavar="KEY", help="a subset of rows")
            p.add_argument("--amp", action="store_true", help="bfloat16 autocast on CPU (all rows alike)")
            p.add_argument("--extra-train-args", default=None,
                           help="appended to every fresh `mfp train` (smoke tests: changes the recipe)")
        if name == "report":
            p.add_argument("--out", default=str(REPO / "docs" / "results.md"))
            p.add_argument("--plot", default=str(REPO / "docs" / "img" / "results_accuracy_vs_bits.png"))
    args = ap.parse_args(argv)
    if args.cmd == "commands":
        for k in ROWS:
            print(shlex.join(["mfp", *train_argv(k, Path(args.runs) / k, args.epochs, seed=args.seed)]))
        return 0
    return cmd_run(args) if args.cmd == "run" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
