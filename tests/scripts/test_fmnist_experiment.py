"""scripts/fmnist_experiment.py: rows, resumable runs and the report, on a tiny fake Fashion-MNIST."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from _fake_data import write_fake_fmnist

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "fmnist_experiment.py"


@pytest.fixture(scope="module")
def fake_fmnist(tmp_path_factory):
    return write_fake_fmnist(tmp_path_factory.mktemp("fmnist"), 64, 32)


def _script(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


def test_commands_share_one_recipe():
    out = _script("commands", "--runs", "R").stdout.strip().splitlines()
    assert len(out) == 7
    common = [line.split("--neuron")[0].split("--output")[1].split(None, 1)[1] for line in out]
    assert len(set(common)) == 1  # epochs, T, batch, lr, optimizer, seed, workers: identical
    assert "--neuron lif --weight-bits fp --first-last-bits fp" in out[0]
    assert out[1].endswith("--membrane-bits 2") and "--neuron qlif" in out[1]
    assert "--neuron mf --weight-bits 1 --first-last-bits 8" in out[6]


def test_seed_changes_only_the_seed():
    base = _script("commands", "--runs", "R").stdout.strip().splitlines()
    seeded = _script("commands", "--runs", "R", "--seed", "3").stdout.strip().splitlines()
    assert all("--seed 0 " in line for line in base)
    assert [line.replace("--seed 3 ", "--seed 0 ") for line in seeded] == base


def test_run_resume_and_report(fake_fmnist, tmp_path):
    runs = tmp_path / "runs"
    extra = f"--data-root {fake_fmnist} --limit-train 32 --limit-test 16 --batch-size 16"
    p = _script("run", "--runs", str(runs), "--only", "mf_w2", "qlif_w2_m2", "--epochs", "1",
                "--extra-train-args", extra)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "mf_w2: exit 0, 1/1 epochs" in p.stdout and "qlif_w2_m2: exit 0, 1/1 epochs" in p.stdout
    assert (runs / "hardware.json").is_file()
    # a longer schedule continues the same runs from last.pt
    p = _script("run", "--runs", str(runs), "--only", "mf_w2", "--epochs", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "mf_w2: exit 0, 2/2 epochs" in p.stdout
    assert "--resume" in (runs / "mf_w2" / "stdout.log").read_text()
    out_md, plot = tmp_path / "r.md", tmp_path / "p.png"
    out_md.write_text("# Results\n\nhand-written intro\n\n<!-- experiment:begin -->\nold\n<!-- experiment:end -->\n\ntail\n")
    p = _script("report", "--runs", str(runs), "--epochs", "2", "--out", str(out_md), "--plot", str(plot))
    assert p.returncode == 0, p.stdout + p.stderr
    text = out_md.read_text()
    assert text.startswith("# Results\n\nhand-written intro") and text.rstrip().endswith("tail")
    assert "old" not in text and text.count("<!-- experiment:begin -->") == 1
    row = next(line for line in text.splitlines() if line.startswith("| `mf_w2`"))
    assert "| 2/2 |" in row and "0 (layer-by-layer)" in row
    qrow = next(line for line in text.splitlines() if line.startswith("| `qlif_w2_m2`"))
    assert "1/2 **unfinished**" in qrow and "2 bits/neuron" in qrow
    assert "not run" in next(line for line in text.splitlines() if line.startswith("| `lif_fp`"))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a different seed must not resume or report these seed-0 runs as its own
    for cmd in (("run", "--only", "mf_w2", "--epochs", "3"), ("report", "--out", str(out_md), "--plot", "")):
        p = _script(*cmd, "--runs", str(runs), "--seed", "1")
        assert p.returncode != 0 and "mf_w2 (seed 0)" in p.stderr and "own --runs folder" in p.stderr
    assert len((runs / "mf_w2" / "log.csv").read_text().splitlines()) == 1 + 2  # header + the 2 seed-0 epochs


def test_unknown_row_is_refused(tmp_path):
    p = _script("run", "--runs", str(tmp_path), "--only", "nope")
    assert p.returncode != 0 and "unknown row" in p.stderr
