"""What the experiment scripts share: launching one resumable `mfp train` run, the hardware record,
and rewriting a marked block of a markdown file.

Imported by ``scripts/fmnist_experiment.py`` and ``scripts/temporal_experiment.py`` (run as
scripts, so this folder is on ``sys.path``).
"""
from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def launch_train(out: Path, argv: list[str], epochs: int, threads: int) -> int:
    """Run ``mfp train`` with ``argv`` into ``out`` (or ``--resume`` it where ``out/last.pt`` exists: every
    run-defining option then comes from last.pt), appending its output to ``out/stdout.log``."""
    if (out / "last.pt").is_file():
        argv = ["train", "--output", str(out), "--resume", "--epochs", str(epochs), "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with open(out / "stdout.log", "a") as log:
        log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(['mfp', *argv])}\n")
        log.flush()
        return subprocess.call([sys.executable, "-m", "mfp_plugin", *argv], stdout=log, stderr=subprocess.STDOUT,
                               env=env, cwd=REPO)


def hardware(threads: int, jobs: int) -> dict:
    """The machine an experiment ran on (CPU model, cores, threads per run, concurrent runs, versions)."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "threads_per_run": threads, "concurrent_runs": jobs,
            "torch": torch.__version__, "python": platform.python_version()}


def replace_block(text: str, block: str, begin: str, end: str) -> str:
    """``text`` with the part from ``begin`` to ``end`` replaced by ``block`` (appended when absent).

    >>> replace_block("a\\n<!-- b -->old<!-- e -->\\nz", "<!-- b -->new<!-- e -->", "<!-- b -->", "<!-- e -->")
    'a\\n<!-- b -->new<!-- e -->\\nz'
    """
    i, j = text.find(begin), text.find(end)
    if i == -1 or j == -1 or j < i:
        return (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
    return text[:i] + block + text[j + len(end):]
