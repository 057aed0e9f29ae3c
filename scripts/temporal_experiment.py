"""Temporal data side by side: memory-free vs vanilla QSNN vs float LIF on sequences and event frames.

    python scripts/temporal_experiment.py run      [--root DIR] [--seeds 0 1 2] [--tasks T ...] [--only ROW ...]
                                                   [--jobs 2] [--threads 1] [--epochs N] [--amp]
    python scripts/temporal_experiment.py report   [--root DIR] [--seeds 0 1 2] [--out docs/results.md]
                                                   [--plot docs/img/temporal_accuracy.png]
    python scripts/temporal_experiment.py commands [--root DIR] [--seeds 0 1 2]   # every train command
    python scripts/temporal_experiment.py estimate [--steps 3] [--tasks T ...] [--only ROW ...] [--jobs 2]

Tasks (one recipe per data set, :data:`RECIPES`):

  seq_last_tau2  mf_seq_mlp on fmnist-seq (Fashion-MNIST read one row per step, T = 28), tau = 2, read out
                 at the last step only (readout="last"): what the classifier uses must reach step 28
                 through the neurons' state -- where history matters
  seq_last_tau4  the same with tau = 4 (a longer memory: beta = 0.75 instead of 0.5)
  seq_tau2       the control: tau = 2, per-step logits averaged over all 28 steps (the zoo's readout),
                 so every row votes as it arrives and little memory is needed
  seq_tau4       the control with tau = 4
  dvs_tau2       mf_dvs_net on fmnist-dvs (simulated saccade events, 2x34x34, T = 10 frames), tau = 2

Rows, identical within a task except for the neuron (first and last layer at
8-bit weights, hidden layers at 2-bit, in every quantized row):

  lif_fp      float LIF SNN (SpikingJelly LIFNode, hard reset to 0), float weights: the reference
  qlif_w2_m2  vanilla QSNN: QLIFNode, 2-bit stored membrane
  qlif_w2_m4  vanilla QSNN: QLIFNode, 4-bit stored membrane
  mf_w2       MF-QSNN: MFNode, exact transient potential
  mf_w2_m2    MF-QSNN: MFNode, 2-bit transient membrane
  mf_w2_ld    MF-QSNN: MFNode, exact potential, learnable decay per layer (initialised from tau)

Runs live in ``ROOT/seed<S>/<task>/<row>/`` (one runs folder per seed; a run
whose ``args.json`` names another seed is refused). ``run`` trains them with
``mfp train`` (``--jobs`` at a time, each on ``--threads`` OpenMP threads),
seed by seed, and resumes any run that has a ``last.pt``: stopping and
re-running the same command continues where it stopped (epoch granularity).
Each run's epochs are also copied into a ledger kept in the repository
(``--ledger``, default ``docs/data/temporal_experiment_runs.json``: per
``seed<S>/<task>/<row>``, the run's ``args.json`` without its paths and its
``log.csv`` rows), by ``run`` when the run ends and by ``report``: the runs folder
is scratch that a lost machine takes with it, the ledger is what the tables are
made from and goes in with the docs. ``report`` reads every run's ``log.csv``
(or its ledger entry, whichever holds more epochs) and writes, per task and row, the
final top-1 as mean +- standard deviation over the seeds that finished, the
seconds per epoch and the neuron state kept between time steps, into the block
between ``<!-- temporal-experiment:begin -->`` and
``<!-- temporal-experiment:end -->`` of ``--out`` (the rest of the file is
kept; a missing file or block is created), and draws the accuracy plot.
``estimate`` times a few training steps of every row here (random inputs of the
task's shape, the recipe's batch size) plus the data loading of one item, and
prints seconds per epoch and the CPU time of the whole experiment.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import statistics
import sys
import time
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from experiment_runs import REPO, hardware, launch_train, replace_block  # this folder is on sys.path when run as a script
DEFAULT_ROOT = REPO / "runs" / "temporal_experiment"
DEFAULT_LEDGER = REPO / "docs" / "data" / "temporal_experiment_runs.json"
SEEDS = (0, 1, 2)

#: data set -> the recipe every row of its tasks shares. ``limit_train``: a seeded subset per epoch (None: all).
RECIPES = {
    "fmnist-seq": dict(epochs=10, batch_size=128, lr=1e-3, optimizer="adam", workers=0, channels_last=False,
                       limit_train=None),
    "fmnist-dvs": dict(epochs=3, batch_size=128, lr=1e-3, optimizer="adam", workers=0, channels_last=True,
                       limit_train=None),
}
#: task -> model, data, T, tau, other builder arguments (``mfp train --model-kwargs``)
TASKS = {
    "seq_last_tau2": dict(model="mf_seq_mlp", data="fmnist-seq", T=28, tau=2.0, model_kwargs={"readout": "last"}),
    "seq_last_tau4": dict(model="mf_seq_mlp", data="fmnist-seq", T=28, tau=4.0, model_kwargs={"readout": "last"}),
    "seq_tau2": dict(model="mf_seq_mlp", data="fmnist-seq", T=28, tau=2.0),
    "seq_tau4": dict(model="mf_seq_mlp", data="fmnist-seq", T=28, tau=4.0),
    "dvs_tau2": dict(model="mf_dvs_net", data="fmnist-dvs", T=10, tau=2.0),
}
#: row -> (label, neuron, weight_bits, first_last_bits, membrane_bits, learnable_decay, state bits between steps)
ROWS = {
    "lif_fp": ("float LIF SNN, hard reset", "lif", "fp", "fp", None, False, 32),
    "qlif_w2_m2": ("vanilla QSNN, 2-bit stored membrane", "qlif", 2, 8, 2, False, 2),
    "qlif_w2_m4": ("vanilla QSNN, 4-bit stored membrane", "qlif", 2, 8, 4, False, 4),
    "mf_w2": ("MF-QSNN, exact transient potential", "mf", 2, 8, None, False, 0),
    "mf_w2_m2": ("MF-QSNN, 2-bit transient membrane", "mf", 2, 8, 2, False, 0),
    "mf_w2_ld": ("MF-QSNN, learnable decay", "mf", 2, 8, None, True, 0),
}
BEGIN, END = "<!-- temporal-experiment:begin -->", "<!-- temporal-experiment:end -->"


def run_dir(root: Path, seed: int, task: str, row: str) -> Path:
    return Path(root) / f"seed{seed}" / task / row


def recipe(task: str) -> dict:
    return RECIPES[TASKS[task]["data"]]


def model_options(task: str, row: str) -> dict:
    """The ``mfp_plugin.engine.model_overrides`` options of one row of one task."""
    _, neuron, wb, flb, mb, ld, _ = ROWS[row]
    return dict(T=TASKS[task]["T"], neuron=neuron, weight_bits=wb, first_last_bits=flb, membrane_bits=mb,
                tau=TASKS[task]["tau"], learnable_decay=ld or None, model_kwargs=TASKS[task].get("model_kwargs"))


def train_argv(task: str, row: str, out: Path, seed: int, epochs: int = None, amp: bool = False) -> list[str]:
    """The ``mfp train`` arguments of one run (fresh start; ``--resume`` replaces them when continuing)."""
    t, r, o = TASKS[task], recipe(task), model_options(task, row)
    argv = ["train", t["model"], "--data", t["data"], "--output", str(out),
            "--epochs", str(epochs or r["epochs"]), "--T", str(t["T"]), "--batch-size", str(r["batch_size"]),
            "--lr", str(r["lr"]), "--optimizer", r["optimizer"], "--seed", str(seed), "--workers", str(r["workers"]),
            "--neuron", o["neuron"], "--weight-bits", str(o["weight_bits"]),
            "--first-last-bits", str(o["first_last_bits"]), "--tau", str(o["tau"]), "--no-progress"]
    if r["limit_train"]:
        argv += ["--limit-train", str(r["limit_train"])]
    if r["channels_last"]:
        argv.append("--channels-last")
    if o["membrane_bits"] is not None:
        argv += ["--membrane-bits", str(o["membrane_bits"])]
    if o["learnable_decay"]:
        argv.append("--learnable-decay")
    if o["model_kwargs"]:
        argv += ["--model-kwargs", *(f"{k}={v}" for k, v in o["model_kwargs"].items())]
    if amp:
        argv.append("--amp")
    return argv


def _select(args) -> list[tuple[int, str, str]]:
    """(seed, task, row) of the runs asked for, seed by seed (a finished seed is a reportable unit)."""
    tasks, rows = args.tasks or list(TASKS), args.only or list(ROWS)
    bad = [t for t in tasks if t not in TASKS] + [r for r in rows if r not in ROWS]
    if bad:
        raise SystemExit(f"error: unknown task(s)/row(s) {bad}; tasks: {', '.join(TASKS)}; rows: {', '.join(ROWS)}")
    return [(s, t, r) for s in args.seeds for t in tasks for r in rows]


def _log(run: Path) -> list[dict]:
    if not (run / "log.csv").is_file():
        return []
    with open(run / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _key(seed: int, task: str, row: str) -> str:
    return f"seed{seed}/{task}/{row}"


def read_ledger(path) -> dict:
    """The ledger at ``path`` ({} where there is none yet); a path that is not a JSON ledger is a usage error."""
    if not path or not Path(path).exists():
        return {}
    try:
        ledger = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SystemExit(f"error: --ledger {path} is not a readable JSON ledger ({exc})") from None
    if not isinstance(ledger, dict):
        raise SystemExit(f"error: --ledger {path} holds a {type(ledger).__name__}, expected an object of runs")
    return ledger


_LEDGER_LOCK = threading.Lock()


def harvest(root: Path, ledger_path, runs) -> dict:
    """Copy the runs' args and epoch logs into the ledger where the folder holds more epochs than the ledger
    (written atomically; the paths of args.json are dropped: they name this machine). Returns the ledger."""
    if not ledger_path:
        return {}
    with _LEDGER_LOCK:
        ledger, updated = read_ledger(ledger_path), 0
        for seed, task, row in runs:
            run, key = run_dir(root, seed, task, row), _key(seed, task, row)
            log, kept = _log(run), ledger.get(key, {})
            if not log or len(log) < len(kept.get("log", [])) or not (run / "args.json").is_file():
                continue
            if len(log) == len(kept.get("log", [])) and ("learnt_beta" in kept or not ROWS[row][5]):
                continue  # nothing new (a learnable-decay run recorded before its decays were: fill them in)
            args = {k: v for k, v in json.loads((run / "args.json").read_text()).items()
                    if k not in ("output", "data_root", "resume", "progress")}
            ledger[key] = {"args": args, "log": log}
            beta = learnt_decays(run / "last.pt")
            if beta:
                ledger[key]["learnt_beta"] = beta
            updated += 1
        if updated:
            from mfp_plugin.atomic_io import atomic_write_bytes

            Path(ledger_path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(ledger_path, (json.dumps(dict(sorted(ledger.items())), indent=1) + "\n").encode())
        return ledger


def learnt_decays(last_pt: Path) -> dict:
    """``{layer: beta}`` of the learnable decays in a run's last.pt (beta = sigmoid(decay_logit), as MFNode
    defines it); empty where the run has none or no last.pt."""
    if not last_pt.is_file():
        return {}
    import torch

    state = torch.load(last_pt, map_location="cpu", weights_only=True)["model"]
    return {k[: -len(".decay_logit")]: round(float(torch.sigmoid(v)), 4)
            for k, v in state.items() if k.endswith(".decay_logit")}


def run_log(root: Path, ledger: dict, seed: int, task: str, row: str) -> list[dict]:
    """The epochs of one run: its folder's log.csv or its ledger entry, whichever holds more."""
    folder, kept = _log(run_dir(root, seed, task, row)), ledger.get(_key(seed, task, row), {}).get("log", [])
    return folder if len(folder) >= len(kept) else kept


def _check_seeds(root: Path, runs, ledger: dict = None) -> None:
    """Refuse a run folder (or ledger entry) trained with another seed than its ``seed<S>`` folder says."""
    mixed = []
    for seed, task, row in runs:
        args_json = run_dir(root, seed, task, row) / "args.json"
        trained = json.loads(args_json.read_text()).get("seed") if args_json.is_file() else seed
        if trained != seed:
            mixed.append(f"{task}/{row} in seed{seed}/ (seed {trained})")
        kept = (ledger or {}).get(_key(seed, task, row), {}).get("args", {})
        if kept and kept.get("seed") != seed:
            mixed.append(f"{task}/{row} in the ledger's seed{seed}/ (seed {kept.get('seed')})")
    if mixed:
        raise SystemExit(f"error: runs trained with another seed than their folder: {', '.join(mixed)}; "
                         "each seed keeps its own seed<S>/ folder")


def _run_one(root: Path, seed: int, task: str, row: str, args) -> tuple[str, int]:
    out = run_dir(root, seed, task, row)
    out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs or recipe(task)["epochs"]
    name = f"seed{seed}/{task}/{row}"
    if len(_log(out)) >= epochs:
        return name, 0
    argv = train_argv(task, row, out, seed, args.epochs, args.amp) + shlex.split(args.extra_train_args or "")
    rc = launch_train(out, argv, epochs, args.threads)
    harvest(root, args.ledger, [(seed, task, row)])
    return name, rc


def cmd_run(args) -> int:
    root = Path(args.root)
    runs = _select(args)
    _check_seeds(root, runs, read_ledger(args.ledger))
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "hardware.json").exists():
        (root / "hardware.json").write_text(json.dumps(hardware(args.threads, args.jobs), indent=2) + "\n")
    print(f"{len(runs)} runs, {args.jobs} at a time, {args.threads} thread(s) each; logs in "
          f"{root}/seed<S>/<task>/<row>/stdout.log", flush=True)
    failed = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_run_one, root, s, t, r, args) for s, t, r in runs]
        for f, (s, t, r) in zip(futures, runs):
            name, rc = f.result()
            print(f"{name}: exit {rc}, {len(_log(run_dir(root, s, t, r)))}/{args.epochs or recipe(t)['epochs']} "
                  "epochs", flush=True)
            if rc != 0:
                failed.append(name)
    return 1 if failed else 0


# ---------------------------------------------------------------------------- report
def neurons_per_step(task: str) -> int:
    """Spiking neurons one sample drives per time step (to express the state in KiB per sample)."""
    import torch

    import model_zoo

    t = TASKS[task]
    model = model_zoo.create_model(t["model"], T=2).eval()
    counts = []
    hooks = [m.register_forward_hook(lambda m, i, o: counts.append(o[0].numel()))  # o: [T, B=1, ...]
             for m in model.modules() if type(m).__name__ in ("MFNode", "QLIFNode", "LIFNode")]
    size = tuple(model.pretrained_cfg["input_size"])
    with torch.no_grad():
        model(torch.zeros(1, 2, *size))
    for h in hooks:
        h.remove()
    return int(sum(counts))


def row_result(root: Path, task: str, row: str, seeds, epochs: int, ledger: dict = None) -> dict:
    """One table row: the finished seeds' final and best top-1, their mean and std, s/epoch, progress."""
    label, neuron, wb, flb, mb, ld, state_bits = ROWS[row]
    res = dict(task=task, row=row, label=label, neuron=neuron, weight_bits=wb, first_last_bits=flb,
               membrane_bits=mb, learnable_decay=ld, state_bits=state_bits, epochs=epochs, seeds=list(seeds),
               finished={}, progress={}, epoch_seconds=[])
    for s in seeds:
        log = run_log(root, ledger or {}, s, task, row)
        res["progress"][s] = len(log)
        res["epoch_seconds"] += [float(r["epoch_seconds"]) for r in log]
        if len(log) >= epochs:
            res["finished"][s] = float(log[epochs - 1]["test_acc"])
    accs = list(res["finished"].values())
    res["mean"] = statistics.fmean(accs) if accs else None
    res["std"] = statistics.stdev(accs) if len(accs) > 1 else None
    res["s_per_epoch"] = statistics.fmean(res["epoch_seconds"]) if res["epoch_seconds"] else None
    return res


def _cells(r: dict, neurons: int) -> list[str]:
    wb = "fp32" if r["weight_bits"] == "fp" else f"{r['weight_bits']} ({r['first_last_bits']})"
    mem = ("float32, stored" if r["neuron"] == "lif" else f"{r['membrane_bits']}-bit, stored" if r["neuron"] == "qlif"
           else f"{r['membrane_bits']}-bit, transient" if r["membrane_bits"] else "exact, transient")
    if r["learnable_decay"]:
        mem += ", learnt decay"
    state = ("0 (layer-by-layer)" if r["state_bits"] == 0 else
             f"{r['state_bits']} bits/neuron ({r['state_bits'] * neurons / 8 / 1024:.2f} KiB/sample)")
    n, k = len(r["finished"]), len(r["seeds"])
    if r["mean"] is None:
        acc = "not run" if not any(r["progress"].values()) else "unfinished"
    else:
        acc = f"{r['mean']:.2f}" + (f" ± {r['std']:.2f}" if r["std"] is not None else "")
    seeds = f"{n}/{k}" + ("" if n == k else " **unfinished**")
    sec = "-" if r["s_per_epoch"] is None else f"{r['s_per_epoch']:.0f}"
    return [f"`{r['row']}` {r['label']}", r["neuron"], wb, mem, state, acc, seeds, sec]


def _decay_note(task: str, ledger: dict, seeds, epochs: int) -> str:
    """The decays the learnable-decay row ended with (finished runs only), per seed and layer, against the tau
    they started from."""
    entries = {s: ledger.get(_key(s, task, r), {}) for s in seeds for r in ROWS if ROWS[r][5]}
    found = {s: e["learnt_beta"] for s, e in entries.items() if e.get("learnt_beta") and len(e["log"]) >= epochs}
    if not found:
        return ""
    per_seed = "; ".join(f"seed {s}: " + ", ".join(f"{layer} {b:.3f} (tau {1 / (1 - b):.1f})" for layer, b in beta.items())
                         for s, beta in found.items())
    tau = TASKS[task]["tau"]
    return (f"\n\nLearnt decay of `mf_w2_ld` after its last epoch, per layer (beta, and tau = 1/(1 - beta); "
            f"it started at beta = {1 - 1 / tau:g}, tau = {tau:g}): {per_seed}.")


def _shown(path: Path) -> Path:
    """``path`` relative to the repository where it lies inside it (the docs name no machine's folders)."""
    try:
        return Path(path).resolve().relative_to(REPO)
    except ValueError:
        return Path(path)


def cmd_report(args) -> int:
    root = Path(args.root)
    every = [(s, t, r) for s in args.seeds for t in TASKS for r in ROWS]
    _check_seeds(root, every, read_ledger(args.ledger))
    ledger = harvest(root, args.ledger, every)
    results = {t: [row_result(root, t, r, args.seeds, args.epochs or recipe(t)["epochs"], ledger) for r in ROWS]
               for t in TASKS}
    hw = json.loads((root / "hardware.json").read_text()) if (root / "hardware.json").exists() else {}
    parts = []
    for task, rows in results.items():
        t, rc = TASKS[task], recipe(task)
        neurons = neurons_per_step(task)
        readout = (t.get("model_kwargs") or {}).get("readout", "mean")
        head = (f"**{task}**: `{t['model']}` on {t['data']}, T = {t['T']}, tau = {t['tau']:g}, "
                f"readout: {'the last step' if readout == 'last' else 'mean over T'}, "
                f"{rows[0]['epochs']} epochs, batch {rc['batch_size']}, Adam lr {rc['lr']:g} (cosine), "
                f"seeds {', '.join(map(str, args.seeds))}; {neurons:,} neurons per sample and step")
        table = ["| row | neuron | weight bits (first/last) | membrane | state kept between steps | "
                 "top-1 final %, mean ± std | seeds | s / epoch |", "|---|---|---|---|---|---|---|---|"]
        table += ["| " + " | ".join(_cells(r, neurons)) + " |" for r in rows]
        parts.append(head + "\n\n" + "\n".join(table) + _decay_note(task, ledger, args.seeds, rows[0]["epochs"]))
    cmds = "\n".join(shlex.join(["mfp", *train_argv(t, r, _shown(run_dir(root, s, t, r)), s, args.epochs)])
                     for s in args.seeds for t in TASKS for r in ROWS)
    block = (f"{BEGIN}\n<!-- written by `python scripts/temporal_experiment.py report`; do not edit by hand -->\n\n"
             + "\n\n".join(parts) + f"\n\nHardware: {json.dumps(hw)}\n\n"
             f"Commands (`run` issues them; `--resume` continues):\n\n```bash\n{cmds}\n```\n{END}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(replace_block(out.read_text() if out.exists() else "", block, BEGIN, END))
    print("\n\n".join(parts))
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.out} and {args.plot}")
    return 0


def plot(results: dict, path: str) -> None:
    """One panel per task: every seed's final top-1 (dots) and the mean +- std (bar) of each row. Panels of
    the same data set share their y range, so that a 1-point gap looks like one point everywhere."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"lif": "k", "qlif": "C3", "mf": "C0"}
    spans = {}
    for task, rows in results.items():
        accs = [a for r in rows for a in r["finished"].values()]
        lo, hi = spans.get(TASKS[task]["data"], (float("inf"), float("-inf")))
        spans[TASKS[task]["data"]] = (min([lo, *accs]), max([hi, *accs]))
    ncols = min(3, len(results))
    nrows = math.ceil(len(results) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.2 * nrows), squeeze=False)
    for ax in axes.flat[len(results):]:
        ax.remove()
    for ax, (task, rows) in zip(axes.flat, results.items()):
        for i, r in enumerate(rows):
            accs = list(r["finished"].values())
            ax.scatter([i] * len(accs), accs, s=14, color=colors[r["neuron"]], alpha=0.6)
            if r["mean"] is not None:
                ax.errorbar(i, r["mean"], yerr=r["std"] or 0.0, fmt="_", ms=16, capsize=4, color=colors[r["neuron"]])
        ax.set_xticks(range(len(rows)), [r["row"] for r in rows], rotation=45, ha="right", fontsize=8)
        t = TASKS[task]
        lo, hi = spans[t["data"]]
        if lo <= hi:
            ax.set_ylim(lo - 2, hi + 2)
        if not any(r["finished"] for r in rows):
            ax.text(0.5, 0.5, "no finished run yet", ha="center", va="center", transform=ax.transAxes, color="0.4")
            if lo > hi:
                ax.set_yticks([])
        readout = (t.get("model_kwargs") or {}).get("readout", "mean")
        ax.set_title(f"{task}: {t['model']}, T={t['T']}, tau={t['tau']:g}, readout {readout}", fontsize=9)
        ax.set_xlabel("row (neuron, membrane)")
        ax.set_ylabel(f"{t['data']} top-1 %, final epoch")
        ax.grid(alpha=0.3)
    fig.suptitle("temporal data: final top-1 per seed (dots), mean ± std (bars)", fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


# ---------------------------------------------------------------------------- estimate
def _time_steps(task: str, row: str, steps: int, amp: bool) -> tuple[float, float]:
    """Median seconds of one training step (recipe batch) and of one test batch (twice that), random inputs."""
    import torch
    from torch import nn

    import model_zoo
    from mfp_plugin import reset_states
    from mfp_plugin.engine import autocast_dtype, model_overrides

    torch.manual_seed(0)
    r = recipe(task)
    model = model_zoo.create_model(TASKS[task]["model"], **model_overrides(model_options(task, row)))
    if r["channels_last"]:
        model.to(memory_format=torch.channels_last)
    shape = (TASKS[task]["T"], *model.pretrained_cfg["input_size"])
    x, y = torch.rand(r["batch_size"], *shape), torch.randint(0, 10, (r["batch_size"],))
    opt, dtype = torch.optim.Adam(model.parameters(), lr=r["lr"]), autocast_dtype(torch.device("cpu"))

    def step():
        reset_states(model)
        with torch.autocast("cpu", dtype=dtype, enabled=amp):
            loss = nn.functional.cross_entropy(model.train()(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    times = []
    for _ in range(steps + 1):  # the first step warms up (allocations, the C kernel's build)
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    xe = torch.rand(2 * r["batch_size"], *shape)
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype, enabled=amp):
        t0 = time.perf_counter()
        model.eval()(xe)
        t_eval = time.perf_counter() - t0
    return statistics.median(times[1:]), t_eval


def _item_seconds(data: str, n: int = 200) -> float:
    """Seconds to load one augmented training item: from the train split when its files are here and
    need no generating (sequences), else from the bundled test subset with the train augmentation."""
    from mfp_plugin.data import DATASETS, get_dataset

    ds = None
    if DATASETS[data]["kind"] == "sequence":  # fmnist-dvs would simulate its events first (minutes): never here
        try:
            ds = get_dataset(data, "train")
        except FileNotFoundError:
            pass
    ds = ds if ds is not None else get_dataset(f"{data}-bundled", augment=True)
    ds[0]  # the first access loads the file: not a per-item cost
    n = min(n, len(ds) - 1)
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        ds[i]
    return (time.perf_counter() - t0) / n


def cmd_estimate(args) -> int:
    import torch

    from mfp_plugin.engine import tune_malloc

    torch.set_num_threads(args.threads)
    tune_malloc()
    runs = _select(argparse.Namespace(seeds=[0], tasks=args.tasks, only=args.only))
    items = {d: _item_seconds(d) for d in {TASKS[t]["data"] for _, t, _ in runs}}
    total = 0.0
    data = ", ".join(f"{d} {1e3 * s:.2f} ms/item" for d, s in items.items())
    print(f"{'task':<9} {'row':<11} {'ms/step':>8} {'ms/test batch':>13} {'s/epoch':>8} {'epochs':>6}  "
          f"(recipe batch, 60,000 train + 10,000 test samples; data {data})")
    for _, task, row in runs:
        r = recipe(task)
        t_step, t_eval = _time_steps(task, row, args.steps, args.amp)
        n_train = min(60000, r["limit_train"] or 60000)
        per_epoch = (math.ceil(n_train / r["batch_size"]) * t_step + math.ceil(10000 / (2 * r["batch_size"])) * t_eval
                     + (n_train + 10000) * items[TASKS[task]["data"]])
        epochs = args.epochs or r["epochs"]
        total += per_epoch * epochs * len(args.seeds)
        print(f"{task:<9} {row:<11} {1e3 * t_step:8.0f} {1e3 * t_eval:13.0f} {per_epoch:8.0f} {epochs:6d}", flush=True)
    print(f"total: {total / 3600:.1f} CPU-hours at {args.threads} thread(s) per run for {len(args.seeds)} seed(s) "
          f"-> about {total / 3600 / args.jobs:.1f} h wall with {args.jobs} runs at a time "
          "(on as many free cores; measured while this machine ran other work: a spread of 1.5x is usual)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "report", "commands", "estimate"):
        p = sub.add_parser(name)
        p.add_argument("--root", default=str(DEFAULT_ROOT), help="folder of the runs [runs/temporal_experiment]")
        p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="[0 1 2]")
        p.add_argument("--epochs", type=int, default=None, help="epochs of every run [each data set's recipe]")
        if name in ("run", "report"):
            p.add_argument("--ledger", default=str(DEFAULT_LEDGER),
                           help="the runs' record kept in the repo; '' for none [docs/data/temporal_experiment_runs.json]")
        if name in ("run", "estimate"):
            p.add_argument("--tasks", nargs="+", metavar="TASK", help=f"a subset of {', '.join(TASKS)}")
            p.add_argument("--only", nargs="+", metavar="ROW", help=f"a subset of {', '.join(ROWS)}")
            p.add_argument("--jobs", type=int, default=2, help="runs trained at the same time [2]")
            p.add_argument("--threads", type=int, default=1, help="OpenMP threads per run [1]")
            p.add_argument("--amp", action="store_true", help="bfloat16 autocast on CPU (all runs alike)")
        if name == "run":
            p.add_argument("--extra-train-args", default=None,
                           help="appended to every fresh `mfp train` (smoke tests: changes the recipe)")
        if name == "estimate":
            p.add_argument("--steps", type=int, default=3, help="timed training steps per row [3]")
        if name == "report":
            p.add_argument("--out", default=str(REPO / "docs" / "results.md"))
            p.add_argument("--plot", default=str(REPO / "docs" / "img" / "temporal_accuracy.png"))
    args = ap.parse_args(argv)
    if args.cmd == "commands":
        for s in args.seeds:
            for t in TASKS:
                for r in ROWS:
                    print(shlex.join(["mfp", *train_argv(t, r, run_dir(Path(args.root), s, t, r), s, args.epochs)]))
        return 0
    return {"run": cmd_run, "report": cmd_report, "estimate": cmd_estimate}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
