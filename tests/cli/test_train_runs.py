"""Issue 15, training runs: bit-exact resume with DataLoader workers, a run killed while writing its first
checkpoint, the run-folder lock, ``--overwrite`` and file permissions.

Each test reproduces the failure it was written for (they fail on the code
before the engine package: persistent workers, no lock, ``--overwrite`` kept
the old files, ``best.safetensors`` was 0600, a killed first write left
``--resume`` impossible and the temporary file on disk).
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mfp_plugin.cli import main
from _fake_data import write_fake_fmnist

REPO = Path(__file__).resolve().parents[2]
KEYS = ["train_loss", "train_acc", "test_loss", "test_acc", "lr"]


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    return write_fake_fmnist(tmp_path_factory.mktemp("fmnist"), 64, 32)


def argv(root, out, *extra, workers=2):
    return ["train", "mf_vgg_mini", "--data", "fmnist", "--data-root", str(root), "--epochs", "2",
            "--batch-size", "16", "--T", "2", "--limit-train", "32", "--limit-test", "16",
            "--workers", str(workers), "--no-progress", "--output", str(out), *extra]


def weights(run: Path) -> dict:
    return torch.load(run / "last.pt", map_location="cpu", weights_only=True)["model"]


def log(run: Path) -> list:
    with open(run / "log.csv", newline="") as fh:
        return [[r[k] for k in KEYS] for r in csv.DictReader(fh)]


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    differ = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not differ, f"{len(differ)} of {len(wa)} tensors differ: {differ[:5]}"
    assert log(a) == log(b)


@pytest.fixture(scope="module")
def straight(fmnist, tmp_path_factory):
    """Two epochs in one go, two DataLoader workers (augmentation random crop + flip in the workers)."""
    run = tmp_path_factory.mktemp("straight") / "run"
    assert main(argv(fmnist, run)) == 0
    return run


def test_resume_with_two_workers_is_bit_exact(fmnist, straight, tmp_path):
    run = tmp_path / "run"
    assert main(argv(fmnist, run, "--stop-after", "1")) == 0
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 1
    assert main(["train", "--output", str(run), "--resume", "--no-progress"]) == 0
    assert_same_run(run, straight)


def test_a_run_killed_in_its_first_checkpoint_write_restarts(fmnist, straight, tmp_path, monkeypatch, capsys):
    import mfp_plugin.engine.trainer as trainer_module
    from mfp_plugin.atomic_io import temp_path

    run = tmp_path / "run"

    def killed_mid_write(obj, path):  # what SIGKILL during torch.save leaves: half a temporary file
        temp_path(Path(path)).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(trainer_module, "save_torch", killed_mid_write)
        assert main(argv(fmnist, run)) == 130
    left = sorted(p.name for p in run.iterdir())
    assert "last.pt" not in left and any(name.startswith(".last.pt.tmp") for name in left), left
    capsys.readouterr()
    # --resume has no checkpoint to continue: it restarts the run from its args.json, and says so
    assert main(["train", "--output", str(run), "--resume", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "no last.pt" in err and "restarting" in err
    assert not [p.name for p in run.iterdir() if ".tmp" in p.name]  # the stale temporary file is gone
    assert_same_run(run, straight)


def test_a_second_trainer_on_the_same_folder_is_refused(fmnist, tmp_path, capsys):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from mfp_plugin.engine import RunDir; "
         "run = RunDir(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)", str(run)],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        (run / "log.csv").write_text("the other run's log\n")
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            main(argv(fmnist, run, workers=0))
        assert info.value.code == 1
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith("error: ") and "in use" in err[0]
        assert sorted(p.name for p in run.iterdir()) == ["log.csv"]  # nothing of the other run was touched
        assert (run / "log.csv").read_text() == "the other run's log\n"
    finally:
        holder.kill()
        holder.wait()
    assert main(argv(fmnist, run, "--stop-after", "1", "--overwrite", workers=0)) == 0  # the lock died with it


def test_overwrite_deletes_the_previous_runs_files(fmnist, tmp_path, monkeypatch, capsys):
    from mfp_plugin.engine import Trainer

    run = tmp_path / "run"
    assert main(argv(fmnist, run, "--stop-after", "1", workers=0)) == 0
    assert {"last.pt", "best.safetensors", "log.csv", "curves.png"} <= {p.name for p in run.iterdir()}
    (run / "notes.txt").write_text("mine")  # not a run file: kept

    def interrupted(self):  # stop the new run before it writes anything but args.json
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train_epoch", interrupted)
    capsys.readouterr()
    assert main(argv(fmnist, run, "--overwrite", "--lr", "0.01", workers=0)) == 130
    assert sorted(p.name for p in run.iterdir()) == ["args.json", "notes.txt"]
    assert json.loads((run / "args.json").read_text())["lr"] == 0.01
    assert "--overwrite: deleted" in capsys.readouterr().err


def test_every_run_file_gets_the_same_umask_mode(fmnist, tmp_path):
    old = os.umask(0o027)
    try:
        run = tmp_path / "run"
        assert main(argv(fmnist, run, "--stop-after", "1", workers=0)) == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in run.iterdir()}
    assert set(modes) == {"last.pt", "best.safetensors", "log.csv", "curves.png", "args.json"}
    assert set(modes.values()) == {0o640}, {k: oct(v) for k, v in modes.items()}
