"""``mfp train`` data-parallel under torchrun: 2 CPU processes, gloo backend."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from mfp_plugin.data import write_idx

REPO = Path(__file__).resolve().parents[2]


def test_torchrun_two_processes_gloo(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "fmnist"
    for split, n in (("train", 64), ("t10k", 32)):
        write_idx(data / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(data / f"{split}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "mfp_plugin", "train", "mf_vgg_small", "--data", "fmnist", "--data-root", str(data),
           "--epochs", "1", "--batch-size", "8", "--T", "1", "--limit-train", "32",
           "--limit-test", "16", "--workers", "0", "--device", "cpu", "--no-progress",
           "--output", str(out)]
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count("epoch 1/1:") == 1  # only rank 0 reports
    assert "2 process(es) on cpu [gloo]" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["args.json", "best.safetensors", "curves.png",
                                                    "last.pt", "log.csv"]
    with open(out / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    ck = torch.load(out / "last.pt", weights_only=True)
    assert ck["epoch"] == 1 and ck["world_size"] == 2 and len(ck["rng_per_rank"]) == 2
    assert not any(k.startswith("module.") for k in ck["model"])  # saved unwrapped
