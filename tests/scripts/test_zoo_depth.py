"""scripts/zoo_depth.py: every row is a valid `mfp train` that differs from the shipped recipe only as it says."""
from __future__ import annotations

import csv
import os
import shlex
import subprocess
import sys
from pathlib import Path

from mfp_plugin.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "zoo_depth.py"


def _script(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)


def test_rows_are_the_shipped_recipe_changed_only_where_they_say():
    p = _script("commands", "--root", "R")
    assert p.returncode == 0, p.stderr
    lines = {}
    for x in p.stdout.strip().splitlines():
        argv = shlex.split(x)
        lines[Path(argv[argv.index("--output") + 1]).name] = x
    shipped = "mf_vgg_small --data fmnist --output R/{} --epochs 20 --T 4 --batch-size 128 --lr 0.001 " \
              "--optimizer adam --seed 0 --workers 4 --neuron {} --weight-bits {} --first-last-bits 8 " \
              "--no-progress --membrane-bits 2 --amp"
    assert lines["vgg_qlif_w2_m2"] == "mfp train " + shipped.format("vgg_qlif_w2_m2", "qlif", 2)
    assert lines["resnet20_w2"] == "mfp train " + shipped.format("resnet20_w2", "mf", 2).replace(
        "mf_vgg_small", "mf_resnet20")
    assert "--weight-bits 1 " in lines["resnet20_w1"] and "mf_resnet20" in lines["resnet20_w1"]
    assert lines["vgg_w2_m2_ls"].endswith("--amp --label-smoothing 0.1") and "--epochs 30" in lines["vgg_w2_m2_ls"]
    assert "--membrane-bits" not in lines["vgg_w2_ld"] and lines["vgg_w2_ld"].endswith("--learnable-decay")
    for line in lines.values():
        build_parser().parse_args(shlex.split(line)[1:])  # every one is a command `mfp train` accepts


def test_report_marks_unfinished_rows_and_publish_skips_them(tmp_path):
    run = tmp_path / "resnet20_w2"
    run.mkdir()
    with open(run / "log.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_seconds"])
        w.writerow([1, 0.5, 80.0, 0.4, 85.5, 0.001, 120.0])
        w.writerow([2, 0.4, 85.0, 0.35, 87.25, 0.001, 100.0])
    out = tmp_path / "results.md"
    out.write_text("# Results\n\ntail\n")
    p = _script("report", "--root", str(tmp_path), "--out", str(out))
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    assert text.startswith("# Results\n\ntail\n") and "<!-- zoo-depth:begin -->" in text
    row = next(x for x in text.splitlines() if x.startswith("| `resnet20_w2`"))
    assert "| 87.25 **unfinished** | 92.5 | 2/20 | 110 |" in row
    assert "| not run |" in next(x for x in text.splitlines() if x.startswith("| `resnet20_w1`"))
    p = _script("publish", "--root", str(tmp_path), "--only", "resnet20_w2", "vgg_w2_m2_T8")
    assert p.returncode == 0 and "resnet20_w2: unfinished, not published" in p.stdout
    assert "vgg_w2_m2_T8: no tag, not published" in p.stdout
    assert _script("run", "--only", "resnet50").returncode != 0
