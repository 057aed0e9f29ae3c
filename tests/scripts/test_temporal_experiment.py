"""scripts/temporal_experiment.py: tasks and rows, resumable runs per seed, the mean ± std report, on fakes."""
from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from _fake_data import write_fake_fmnist

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "temporal_experiment.py"


@pytest.fixture(scope="module")
def fake_fmnist(tmp_path_factory):
    return write_fake_fmnist(tmp_path_factory.mktemp("fmnist"), 64, 32)


def _script(*args, timeout=900):
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


def _commands(*extra):
    p = _script("commands", "--root", "R", *extra)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()


def test_commands_one_recipe_per_task_and_every_row():
    from mfp_plugin.cli import build_parser

    lines = _commands()
    assert len(lines) == 3 * 5 * 6  # seeds x tasks x rows
    by_task = {}
    for line in lines:
        argv = shlex.split(line)[1:]
        args = build_parser().parse_args(argv)  # every command is one `mfp train` accepts
        task = Path(args.output).parent.name
        by_task.setdefault(task, []).append(line)
        assert args.output == f"R/seed{args.seed}/{task}/{Path(args.output).name}"
    assert sorted(by_task) == ["dvs_tau2", "seq_last_tau2", "seq_last_tau4", "seq_tau2", "seq_tau4"]
    for task, group in by_task.items():
        # everything before the neuron options is the task's recipe: identical on every row
        common = {re.sub(r"--output \S+ ", "", line.split("--neuron")[0]).replace(" --seed 1 ", " --seed 0 ")
                  .replace(" --seed 2 ", " --seed 0 ") for line in group}
        assert len(common) == 1, common
    seq2, seq4, dvs = by_task["seq_tau2"][:6], by_task["seq_tau4"][:6], by_task["dvs_tau2"][:6]
    assert all("mf_seq_mlp --data fmnist-seq" in x and "--T 28" in x and "--tau 2.0" in x for x in seq2)
    assert [x.replace("seq_tau2", "seq_tau4").replace("--tau 2.0", "--tau 4.0") for x in seq2] == seq4
    assert all("mf_dvs_net --data fmnist-dvs" in x and "--T 10" in x and "--channels-last" in x for x in dvs)
    # the last-step tasks are the mean-readout ones plus the readout, nothing else
    for tau in ("2", "4"):
        last = by_task[f"seq_last_tau{tau}"][:6]
        assert [x.replace(" --model-kwargs readout=last", "").replace(f"seq_last_tau{tau}", f"seq_tau{tau}")
                for x in last] == by_task[f"seq_tau{tau}"][:6]
        assert all(x.count("--model-kwargs readout=last") == 1 for x in last)
    lif, q2, q4, mf, mf2, ld = seq2
    assert "--neuron lif --weight-bits fp --first-last-bits fp" in lif and "--membrane-bits" not in lif
    for line in (q2, q4, mf, mf2, ld):
        assert "--weight-bits 2 --first-last-bits 8" in line
    assert "--neuron qlif" in q2 and q2.endswith("--membrane-bits 2") and q4.endswith("--membrane-bits 4")
    assert "--neuron mf" in mf and "--membrane-bits" not in mf and "--learnable-decay" not in mf
    assert mf2.endswith("--membrane-bits 2") and ld.endswith("--learnable-decay")


def test_seeds_change_only_the_seed_and_folder():
    base, other = _commands("--seeds", "0"), _commands("--seeds", "7")
    assert [x.replace("--seed 7 ", "--seed 0 ").replace("R/seed7/", "R/seed0/") for x in other] == base


def _final_acc(run: Path, epoch: int) -> float:
    with open(run / "log.csv", newline="") as fh:
        return float(list(csv.DictReader(fh))[epoch - 1]["test_acc"])


def test_run_resume_report_and_seed_guard(fake_fmnist, tmp_path):
    root, ledger = tmp_path / "runs", tmp_path / "ledger.json"
    extra = f"--data-root {fake_fmnist} --limit-train 32 --limit-test 16 --batch-size 16"
    p = _script("run", "--root", str(root), "--ledger", str(ledger), "--seeds", "0", "1", "--tasks", "seq_tau2",
                "dvs_tau2", "--only", "mf_w2", "qlif_w2_m2", "--epochs", "1", "--extra-train-args", extra)
    assert p.returncode == 0, p.stdout + p.stderr
    for s in (0, 1):
        for t in ("seq_tau2", "dvs_tau2"):
            for r in ("mf_w2", "qlif_w2_m2"):
                assert f"seed{s}/{t}/{r}: exit 0, 1/1 epochs" in p.stdout
    dvs_args = json.loads((root / "seed0" / "dvs_tau2" / "mf_w2" / "args.json").read_text())
    assert dvs_args["T"] == 10 and dvs_args["channels_last"] is True and dvs_args["tau"] == 2.0
    assert (root / "hardware.json").is_file()
    # a longer schedule continues a run from its last.pt
    kept = json.loads(ledger.read_text())  # every finished run is in the ledger, without this machine's paths
    assert sorted(kept) == sorted(f"seed{s}/{t}/{r}" for s in (0, 1) for t in ("seq_tau2", "dvs_tau2")
                                  for r in ("mf_w2", "qlif_w2_m2"))
    assert kept["seed1/seq_tau2/mf_w2"]["args"]["seed"] == 1 and "output" not in kept["seed1/seq_tau2/mf_w2"]["args"]
    assert len(kept["seed1/seq_tau2/mf_w2"]["log"]) == 1
    p = _script("run", "--root", str(root), "--ledger", str(ledger), "--seeds", "0", "--tasks", "seq_tau2",
                "--only", "mf_w2", "--epochs", "2")
    assert p.returncode == 0 and "seed0/seq_tau2/mf_w2: exit 0, 2/2 epochs" in p.stdout, p.stdout + p.stderr
    assert "--resume" in (root / "seed0" / "seq_tau2" / "mf_w2" / "stdout.log").read_text()

    out_md, plot = tmp_path / "results.md", tmp_path / "temporal.png"
    fmnist_block = "<!-- experiment:begin -->\nthe Fashion-MNIST table\n<!-- experiment:end -->"
    out_md.write_text(f"# Results\n\n{fmnist_block}\n\n<!-- temporal-experiment:begin -->\nold\n"
                      "<!-- temporal-experiment:end -->\n\ntail\n")
    accs = [_final_acc(root / f"seed{s}" / "seq_tau2" / "mf_w2", 1) for s in (0, 1)]
    # the runs folder is scratch: with seed 1's run gone, the ledger still gives its epochs
    shutil.rmtree(root / "seed1" / "seq_tau2" / "mf_w2")
    p = _script("report", "--root", str(root), "--ledger", str(ledger), "--seeds", "0", "1", "--epochs", "1",
                "--out", str(out_md), "--plot", str(plot))
    assert p.returncode == 0, p.stdout + p.stderr
    text = out_md.read_text()
    assert text.startswith(f"# Results\n\n{fmnist_block}\n\n") and text.rstrip().endswith("tail")
    assert "old" not in text and text.count("<!-- temporal-experiment:begin -->") == 1
    seq_table = text.split("**seq_tau2**")[1].split("**seq_tau4**")[0]
    row = next(x for x in seq_table.splitlines() if x.startswith("| `mf_w2`"))
    assert f"| {statistics.fmean(accs):.2f} ± {statistics.stdev(accs):.2f} | 2/2 |" in row
    assert "0 (layer-by-layer)" in row
    qrow = next(x for x in seq_table.splitlines() if x.startswith("| `qlif_w2_m2`"))
    assert "2 bits/neuron (0.12 KiB/sample)" in qrow  # 512 neurons per step x 2 bits
    assert "| not run | 0/2 **unfinished** |" in next(x for x in seq_table.splitlines() if x.startswith("| `lif_fp`"))
    assert "**dvs_tau2**: `mf_dvs_net` on fmnist-dvs, T = 10" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a run folder, or a ledger entry, holding another seed's run is refused, by run and by report
    args_json = root / "seed1" / "seq_tau2" / "qlif_w2_m2" / "args.json"
    args_json.write_text(json.dumps({**json.loads(args_json.read_text()), "seed": 5}))
    kept = json.loads(ledger.read_text())
    kept["seed0/dvs_tau2/mf_w2"]["args"]["seed"] = 7
    ledger.write_text(json.dumps(kept))
    for cmd in (("run", "--tasks", "seq_tau2", "dvs_tau2", "--only", "qlif_w2_m2", "mf_w2", "--epochs", "2"),
                ("report", "--out", str(out_md), "--plot", "")):
        p = _script(*cmd, "--root", str(root), "--ledger", str(ledger), "--seeds", "0", "1")
        assert p.returncode != 0 and "seq_tau2/qlif_w2_m2 in seed1/ (seed 5)" in p.stderr, p.stderr
        assert "dvs_tau2/mf_w2 in the ledger's seed0/ (seed 7)" in p.stderr
    assert len((root / "seed1" / "seq_tau2" / "qlif_w2_m2" / "log.csv").read_text().splitlines()) == 1 + 1


def test_estimate_prints_seconds_per_epoch_and_the_total():
    p = _script("estimate", "--steps", "1", "--seeds", "0", "1", "--tasks", "seq_tau2", "--only", "mf_w2", "lif_fp")
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {m.group(1): float(m.group(2)) for m in re.finditer(r"^seq_tau2\s+(\w+)\s+\d+\s+\d+\s+(\d+)\s+10$",
                                                               p.stdout, re.M)}
    assert set(rows) == {"mf_w2", "lif_fp"} and all(v > 0 for v in rows.values())
    total = float(re.search(r"total: ([\d.]+) CPU-hours .* for 2 seed\(s\)", p.stdout).group(1))
    assert total == pytest.approx(2 * 10 * sum(rows.values()) / 3600, abs=0.051)


def test_unknown_task_or_row_is_refused(tmp_path):
    for extra in (("--tasks", "nope"), ("--only", "nope")):
        p = _script("run", "--root", str(tmp_path), *extra)
        assert p.returncode != 0 and "unknown task(s)/row(s) ['nope']" in p.stderr
    assert not any(tmp_path.iterdir())


def test_learnt_decay_is_read_from_last_pt_and_reported(tmp_path, monkeypatch):
    import importlib

    import torch

    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    te = importlib.import_module("temporal_experiment")
    # beta = sigmoid(logit): logit 0 -> 0.5 (tau 2), logit ln 3 -> 0.75 (tau 4); other tensors are ignored
    torch.save({"model": {"features.2.decay_logit": torch.tensor(0.0), "features.5.decay_logit":
                          torch.tensor(float(torch.log(torch.tensor(3.0)))), "features.2.weight": torch.ones(2)}},
               tmp_path / "last.pt")
    assert te.learnt_decays(tmp_path / "last.pt") == {"features.2": 0.5, "features.5": 0.75}
    assert te.learnt_decays(tmp_path / "missing.pt") == {}
    beta = {"features.2": 0.5, "features.5": 0.75}
    ledger = {"seed1/seq_last_tau2/mf_w2_ld": {"learnt_beta": beta, "log": [{}] * 10},
              "seed0/seq_last_tau2/mf_w2_ld": {"learnt_beta": beta, "log": [{}] * 9}}  # seed 0 unfinished
    note = te._decay_note("seq_last_tau2", ledger, [0, 1], 10)
    assert "started at beta = 0.5, tau = 2" in note
    assert "seed 1: features.2 0.500 (tau 2.0), features.5 0.750 (tau 4.0)" in note and "seed 0" not in note
    assert te._decay_note("seq_tau2", ledger, [0, 1], 10) == ""


@pytest.mark.parametrize("content, expected", [("not json", "is not a readable JSON ledger"),
                                               ("[1, 2]", "holds a list, expected an object of runs"),
                                               (None, "is not a readable JSON ledger")])  # None: a folder
def test_a_bad_ledger_is_one_error_line(tmp_path, content, expected):
    ledger = tmp_path / "ledger.json"
    if content is None:
        ledger.mkdir()
    else:
        ledger.write_text(content)
    p = _script("report", "--root", str(tmp_path / "runs"), "--ledger", str(ledger), "--out",
                str(tmp_path / "r.md"), "--plot", "")
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and p.stderr.startswith(f"error: --ledger {ledger} ")
    assert expected in p.stderr and not (tmp_path / "r.md").exists()
