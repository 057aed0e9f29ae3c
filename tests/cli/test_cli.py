"""The ``mfp`` command line: train (CSV/PNG/checkpoints, exact resume), eval, zoo."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import model_zoo
from mfp_plugin.cli import main
from mfp_plugin.cli.checks import neuron_override
from _fake_data import write_fake_fmnist

REPO = Path(__file__).resolve().parents[2]
MODEL = "mf_vgg_small"


@pytest.fixture(scope="module")
def fake_fmnist(tmp_path_factory):
    return write_fake_fmnist(tmp_path_factory.mktemp("fmnist"), 96, 48)


@pytest.fixture(autouse=True)
def keep_rng():
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)


def train_args(root, out, *extra):
    return ["train", MODEL, "--data", "fmnist", "--data-root", str(root), "--epochs", "2",
            "--batch-size", "16", "--T", "2", "--limit-train", "32", "--limit-test", "16",
            "--workers", "0", "--no-progress", "--output", str(out), *extra]


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_train_resume_eval(fake_fmnist, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(fake_fmnist, run, "--stop-after", "1")) == 0
    for name in ("log.csv", "curves.png", "last.pt", "best.safetensors", "args.json"):
        assert (run / name).is_file(), name
    assert not [p for p in run.iterdir() if "tmp" in p.name]  # atomic writes left no temp files
    rows = read_csv(run / "log.csv")
    assert len(rows) == 1 and list(rows[0]) == ["epoch", "train_loss", "train_acc", "test_loss",
                                                "test_acc", "lr", "epoch_seconds"]
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ck = torch.load(run / "last.pt", map_location="cpu", weights_only=True)  # plain tensors/dicts
    assert ck["epoch"] == 1 and {"model", "optimizer", "scheduler", "rng_per_rank", "args"} <= set(ck)
    # best.safetensors holds the same weights (epoch 1 is the best so far) and rebuilds via the zoo
    m = model_zoo.create_model(MODEL, pretrained=str(run / "best.safetensors"))
    assert m.pretrained_cfg["T"] == 2
    assert all(torch.equal(v, ck["model"][k]) for k, v in m.state_dict().items())

    # a different run-defining option is refused on --resume; an existing run is not overwritten
    with pytest.raises(SystemExit, match="--lr"):
        main(["train", "--output", str(run), "--resume", "--lr", "0.5"])
    with pytest.raises(SystemExit, match="--resume"):
        main(train_args(fake_fmnist, run))

    assert main(["train", "--output", str(run), "--resume", "--no-progress"]) == 0
    rows = read_csv(run / "log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[1]["lr"]) == pytest.approx(0.5e-3)  # cosine: half-way at epoch 2 of 2
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 2

    # resuming reproduces an uninterrupted run exactly (CPU, same seed)
    straight = tmp_path / "straight"
    assert main(train_args(fake_fmnist, straight)) == 0
    keys = ["train_loss", "train_acc", "test_loss", "test_acc", "lr"]
    assert [[r[k] for k in keys] for r in read_csv(straight / "log.csv")] == [[r[k] for k in keys] for r in rows]
    a = torch.load(run / "last.pt", weights_only=True)["model"]
    b = torch.load(straight / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    capsys.readouterr()
    out_json = tmp_path / "eval.json"
    assert main(["eval", MODEL, "--checkpoint", str(run / "best.safetensors"), "--data", "fmnist",
                 "--data-root", str(fake_fmnist), "--limit", "24", "--no-progress", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "top-1" in out and "n=24 images" in out and "random" not in out.lower()
    res = json.loads(out_json.read_text())
    assert res["n"] == 24 and 0.0 <= res["top1"] <= 100.0 and res["random_weights"] is False
    assert main(["eval", MODEL, "--checkpoint", str(run / "last.pt"), "--limit", "16",
                 "--no-progress"]) == 0  # data and root come from the run's args
    assert "n=16 images" in capsys.readouterr().out


def test_cpu_amp_runs_under_bfloat16_and_is_part_of_the_run(fake_fmnist, tmp_path, monkeypatch):
    seen = []
    real = torch.nn.Conv2d._conv_forward

    def spy(self, x, w, b):
        seen.append((x.dtype, torch.is_autocast_enabled("cpu")))
        return real(self, x, w, b)

    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", spy)
    run = tmp_path / "amp"
    assert main(train_args(fake_fmnist, run, "--amp", "--stop-after", "1")) == 0
    assert seen and all(on for _, on in seen)  # every conv ran inside CPU autocast
    assert torch.load(run / "last.pt", weights_only=True)["args"]["amp"] is True
    seen.clear()
    assert main(["train", "--output", str(run), "--resume", "--no-progress"]) == 0  # amp comes from the run
    assert seen and all(on for _, on in seen)
    assert [r["epoch"] for r in read_csv(run / "log.csv")] == ["1", "2"]


def test_channels_last_keeps_every_conv_input_nhwc_and_is_part_of_the_run(fake_fmnist, tmp_path, monkeypatch):
    seen = []
    real = torch.nn.Conv2d._conv_forward

    def spy(self, x, w, b):
        seen.append(x.is_contiguous(memory_format=torch.channels_last))
        return real(self, x, w, b)

    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", spy)
    run = tmp_path / "nhwc"
    assert main(train_args(fake_fmnist, run, "--channels-last", "--neuron", "mf", "--stop-after", "1")) == 0
    # Stem conv, BN, direct encoding, MF scans and pooling all hand NHWC on: no layer converts back.
    assert seen and all(seen)
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["args"]["channels_last"] is True
    seen.clear()
    assert main(["train", "--output", str(run), "--resume", "--no-progress"]) == 0
    assert seen and all(seen)
    # The weights load into a default (NCHW) model as they are.
    model = model_zoo.create_model(MODEL, T=2)
    model.load_state_dict(torch.load(run / "last.pt", weights_only=True)["model"])
    seen.clear()
    model(torch.rand(2, 1, 28, 28))
    assert not any(seen[1:])  # without the option, activations after the stem are NCHW


def test_bits_options_accept_fp_and_reject_nonsense(fake_fmnist, tmp_path, capsys):
    from mfp_plugin.engine import model_overrides
    from mfp_plugin.quant import QuantConv2d

    ns = type("A", (), {"weight_bits": "fp", "first_last_bits": "fp", "T": 1})()
    over = model_overrides(ns)
    assert over["weight_bits"] is None and over["first_last_bits"] is None
    m = model_zoo.create_model(MODEL, **over)
    assert not [x for x in m.modules() if isinstance(x, QuantConv2d) and x.weight_quantizer is not None]
    with pytest.raises(SystemExit):
        main(train_args(fake_fmnist, tmp_path / "bad", "--weight-bits", "0"))
    assert "expected an int >= 1, 'ternary' or 'fp'" in capsys.readouterr().err


def test_evaluate_model_records_no_graph():
    from mfp_plugin.engine import evaluate as evaluate_model

    grad_modes = []
    model = model_zoo.create_model(MODEL, T=1)
    model.register_forward_pre_hook(lambda m, i: grad_modes.append(torch.is_grad_enabled()))
    data = [(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))]
    res = evaluate_model(model, data, torch.device("cpu"), progress=False)
    assert res["n"] == 4 and grad_modes == [False]


def test_eval_random_weights_says_so(capsys):
    assert main(["eval", MODEL, "--data", "fmnist-bundled", "--limit", "32", "--T", "1",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    if not model_zoo.list_pretrained(f"{MODEL}.*"):
        assert "no trained weights ship yet" in out and "random" in out
    assert "top-1" in out and "n=32 images" in out


def test_neuron_mapping():
    import mfp_plugin
    from spikingjelly.activation_based import neuron as sjn

    assert neuron_override("qlif", 3) == {"neuron": mfp_plugin.QLIFNode, "neuron_kwargs": {"membrane_bits": 3}}
    assert neuron_override("mf", None)["neuron"] is mfp_plugin.MFNode
    assert neuron_override("lif", None)["neuron"] is sjn.LIFNode
    assert neuron_override("plif", None)["neuron"] is sjn.ParametricLIFNode
    assert neuron_override(None, None) == {}
    with pytest.raises(SystemExit, match="membrane-bits"):
        neuron_override("lif", 2)
    m = model_zoo.create_model(MODEL, T=1, **neuron_override("qlif", 3))
    q = [x for x in m.modules() if isinstance(x, mfp_plugin.QLIFNode)]
    assert q and all(x.membrane_bits == 3 for x in q)


def test_zoo_commands(capsys):
    assert main(["zoo", "info", MODEL]) == 0
    out = capsys.readouterr().out
    assert "input_size" in out and "num_classes" in out
    assert main(["zoo", "list", "--json"]) == 0
    assert MODEL in json.loads(capsys.readouterr().out)
    with pytest.raises(SystemExit):
        main(["zoo", "info", "no_such_model"])


def test_python_dash_m_entry_point():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "mfp_plugin", "zoo", "list", "mf_vgg*"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert MODEL in r.stdout
