"""Zoo depth on Fashion-MNIST: a pretrained spiking ResNet-20, the vanilla-QSNN twin of the shipped VGG,
and what closes the gap to 94 % -- every run of that plan, as one resumable script.

    python scripts/zoo_depth.py commands [--root DIR]              # every `mfp train` command
    python scripts/zoo_depth.py run      [--root DIR] [--only KEY ...] [--jobs 3] [--threads 4]
    python scripts/zoo_depth.py report   [--root DIR] [--out docs/results.md]
    python scripts/zoo_depth.py publish  [--root DIR] [--only KEY ...] [--hardware TEXT]

``run`` trains the rows (``--jobs`` at a time, ``--threads`` OpenMP threads each;
``mfp train`` picks CUDA when there is one) and resumes any row with a
``last.pt``, so stopping and re-running the same command continues at epoch
granularity. ``report`` writes one table (final top-1 on the full test set,
epochs done, s/epoch, the state kept between steps) between
``<!-- zoo-depth:begin -->`` and ``<!-- zoo-depth:end -->`` of ``--out``.
``publish`` turns each finished row that has a ``tag`` into a zoo checkpoint
with ``scripts/publish_checkpoint.py`` (weights, card, CI subset bar).

Each row is ``mfp train`` on the full Fashion-MNIST splits, seed 0, batch 128,
Adam lr 1e-3 with the cosine schedule -- the recipe of the shipped
``mf_vgg_small.fmnist_w2_m2`` (20 epochs, T = 4, 2-bit weights, 8-bit first and
last layer, ``--amp``) -- and differs from it only where its description says.
On this project's 2-vCPU machine a ``mf_vgg_small`` epoch takes 315-400 s and a
``mf_resnet20`` epoch about 17 min, so the plan is sized for a GPU session.
"""
from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from experiment_runs import REPO, hardware, launch_train, replace_block  # this folder is on sys.path when run as a script

DEFAULT_ROOT = REPO / "runs" / "zoo_depth"
BEGIN, END = "<!-- zoo-depth:begin -->", "<!-- zoo-depth:end -->"

#: the shipped checkpoint's recipe; every row starts from it
BASE = dict(model="mf_vgg_small", epochs=20, T=4, neuron="mf", membrane_bits=2, weight_bits=2, first_last_bits=8,
            amp=True, extra=())

#: key -> (what it is, changes to BASE, zoo tag to publish under or None, goal on the full test set)
ROWS = {
    "resnet20_w2": ("mf_resnet20, 2-bit weights", dict(model="mf_resnet20"), "fmnist_w2_m2", 92.5),
    "resnet20_w1": ("mf_resnet20, binary weights", dict(model="mf_resnet20", weight_bits=1), "fmnist_w1", 92.0),
    "vgg_qlif_w2_m2": ("mf_vgg_small with QLIFNode (2-bit stored membrane): the vanilla-QSNN twin of fmnist_w2_m2",
                       dict(neuron="qlif"), "fmnist_qlif_w2_m2", None),
    "vgg_w2_m2_ls": ("fmnist_w2_m2 + label smoothing 0.1, 30 epochs",
                     dict(epochs=30, extra=("--label-smoothing", "0.1")), None, 93.24),
    "vgg_w2_m2_T8": ("fmnist_w2_m2 at T = 8", dict(T=8), None, 93.24),
    "vgg_w2_ld": ("fmnist_w2_m2 with an exact potential and a learnt decay per layer",
                  dict(membrane_bits=None, extra=("--learnable-decay",)), None, 93.24),
    "vgg_w2_m2_e40": ("fmnist_w2_m2, 40 epochs with 2 warm-up epochs",
                      dict(epochs=40, extra=("--warmup-epochs", "2")), None, 93.24),
}


def spec(key: str) -> dict:
    return {**BASE, **ROWS[key][1]}


def train_argv(key: str, out: Path) -> list[str]:
    """The ``mfp train`` arguments of one row (a fresh start; resuming takes them from ``last.pt``)."""
    s = spec(key)
    argv = ["train", s["model"], "--data", "fmnist", "--output", str(out), "--epochs", str(s["epochs"]),
            "--T", str(s["T"]), "--batch-size", "128", "--lr", "0.001", "--optimizer", "adam", "--seed", "0",
            "--workers", "4", "--neuron", s["neuron"], "--weight-bits", str(s["weight_bits"]),
            "--first-last-bits", str(s["first_last_bits"]), "--no-progress"]
    if s["membrane_bits"] is not None:
        argv += ["--membrane-bits", str(s["membrane_bits"])]
    if s["amp"]:
        argv.append("--amp")
    return argv + list(s["extra"])


def _keys(only) -> list[str]:
    bad = [k for k in only or () if k not in ROWS]
    if bad:
        raise SystemExit(f"error: unknown row(s) {bad}; rows: {', '.join(ROWS)}")
    return list(only or ROWS)


def _log(run: Path) -> list[dict]:
    if not (run / "log.csv").is_file():
        return []
    with open(run / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def cmd_commands(args) -> int:
    for key in _keys(args.only):
        print(shlex.join(["mfp", *train_argv(key, Path(args.root) / key)]))
    return 0


def cmd_run(args) -> int:
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "hardware.json").exists():
        (root / "hardware.json").write_text(json.dumps(hardware(args.threads, args.jobs), indent=2) + "\n")

    def one(key: str) -> int:
        out = root / key
        out.mkdir(parents=True, exist_ok=True)
        epochs = spec(key)["epochs"]
        if len(_log(out)) >= epochs:
            return 0
        return launch_train(out, train_argv(key, out), epochs, args.threads)

    keys = _keys(args.only)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        codes = list(pool.map(one, keys))
    for key, rc in zip(keys, codes):
        print(f"{key}: exit {rc}, {len(_log(root / key))}/{spec(key)['epochs']} epochs", flush=True)
    return 1 if any(codes) else 0


def cmd_report(args) -> int:
    root = Path(args.root)
    hw = json.loads((root / "hardware.json").read_text()) if (root / "hardware.json").exists() else {}
    lines = ["| row | what | top-1 % (final epoch, 10,000 test images) | goal | epochs | s / epoch | state between steps |",
             "|---|---|---|---|---|---|---|"]
    for key in ROWS:
        what, _, _, goal = ROWS[key]
        log, s = _log(root / key), spec(key)
        acc = f"{float(log[-1]['test_acc']):.2f}" if log else "not run"
        if log and len(log) < s["epochs"]:
            acc += " **unfinished**"
        sec = f"{sum(float(r['epoch_seconds']) for r in log) / len(log):.0f}" if log else "-"
        state = "2 bits/neuron, stored" if s["neuron"] == "qlif" else "0 (layer-by-layer)"
        lines.append(f"| `{key}` | {what} | {acc} | {goal or '-'} | {len(log)}/{s['epochs']} | {sec} | {state} |")
    cmds = "\n".join(shlex.join(["mfp", *train_argv(k, root / k)]) for k in ROWS)
    block = (f"{BEGIN}\n<!-- written by `python scripts/zoo_depth.py report`; do not edit by hand -->\n\n"
             + "\n".join(lines) + f"\n\nHardware: {json.dumps(hw)}\n\n```bash\n{cmds}\n```\n{END}")
    out = Path(args.out)
    out.write_text(replace_block(out.read_text() if out.exists() else "", block, BEGIN, END))
    print("\n".join(lines))
    return 0


def cmd_publish(args) -> int:
    failed = []
    for key in _keys(args.only):
        tag = ROWS[key][2]
        run = Path(args.root) / key
        if tag is None or len(_log(run)) < spec(key)["epochs"]:
            print(f"{key}: {'no tag' if tag is None else 'unfinished'}, not published")
            continue
        cmd = [sys.executable, str(REPO / "scripts" / "publish_checkpoint.py"), str(run), "--tag", tag]
        if args.hardware:
            cmd += ["--hardware", args.hardware]
        rc = subprocess.call(cmd, cwd=REPO)
        print(f"{key}: published as {spec(key)['model']}.{tag}" if rc == 0 else f"{key}: publish failed ({rc})")
        if rc:
            failed.append(key)
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("commands", "run", "report", "publish"):
        p = sub.add_parser(name)
        p.add_argument("--root", default=str(DEFAULT_ROOT), help="folder of the runs [runs/zoo_depth]")
        if name != "report":
            p.add_argument("--only", nargs="+", metavar="KEY", help=f"a subset of {', '.join(ROWS)}")
        if name == "run":
            p.add_argument("--jobs", type=int, default=3, help="rows trained at the same time [3]")
            p.add_argument("--threads", type=int, default=4, help="OpenMP threads per row [4]")
        if name == "report":
            p.add_argument("--out", default=str(REPO / "docs" / "results.md"))
        if name == "publish":
            p.add_argument("--hardware", default=None, help="recorded in the cards")
    args = ap.parse_args(argv)
    return {"commands": cmd_commands, "run": cmd_run, "report": cmd_report, "publish": cmd_publish}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
