"""scripts/publish_checkpoint.py: a finished run becomes a verified, reproducible zoo entry."""
from __future__ import annotations

import importlib.util
import json
import shlex
from pathlib import Path

import pytest
import torch

import model_zoo
from mfp_plugin.cli import build_parser, main as mfp
from mfp_plugin.cli.run_args import TRAIN_DEFAULTS, resolve_run_args
from mfp_plugin.engine import evaluate as evaluate_model
from _fake_data import write_fake_fmnist
from mfp_plugin.data import get_dataset

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "publish_checkpoint.py"
spec = importlib.util.spec_from_file_location("publish_checkpoint", SCRIPT)
pub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pub)


def assert_command_repeats_run(card: dict, run: Path, data_root: Path) -> None:
    """The card's train_command, parsed and resolved as `mfp train` does, defines the same run (the data
    root is the one thing a card cannot know)."""
    argv = shlex.split(card["train_command"])
    assert argv[:2] == ["mfp", "train"]
    replayed = resolve_run_args(build_parser().parse_args(argv[1:] + ["--data-root", str(data_root)]), None)
    saved = json.loads((run / "args.json").read_text())
    differ = {k: (replayed.get(k), saved.get(k)) for k in [*TRAIN_DEFAULTS, "model", "workers"]
              if replayed.get(k) != saved.get(k)}
    assert not differ, f"train_command does not repeat the run: {differ}"


@pytest.fixture(scope="module")
def fake_fmnist(tmp_path_factory):
    return write_fake_fmnist(tmp_path_factory.mktemp("fmnist"), 48, 40, seed=1)


def test_publish_round_trip(fake_fmnist, tmp_path, monkeypatch):
    run = tmp_path / "run"
    common = ["train", "mf_vgg_mini", "--data", "fmnist", "--data-root", str(fake_fmnist), "--epochs", "2",
              "--batch-size", "16", "--T", "2", "--workers", "0", "--no-progress", "--output", str(run),
              "--neuron", "mf", "--membrane-bits", "2", "--weight-bits", "1"]
    assert mfp(common + ["--stop-after", "1"]) == 0
    with pytest.raises(SystemExit, match="stopped at epoch 1 of 2"):
        pub.publish(run, "t1", weights_dir=tmp_path / "w", cfg_dir=tmp_path / "c", data_root=str(fake_fmnist))
    assert mfp(["train", "--output", str(run), "--resume", "--no-progress"]) == 0

    card = pub.publish(run, "t1", weights_dir=tmp_path / "w", cfg_dir=tmp_path / "c", data_root=str(fake_fmnist),
                       hardware="test machine")
    on_disk = json.loads((tmp_path / "c" / "mf_vgg_mini.t1.json").read_text())
    assert on_disk == card
    assert card["weight_bits"] == 1 and card["first_last_bits"] == 8 and card["T"] == 2
    assert card["neuron"] == "mfp_plugin.MFNode" and card["neuron_kwargs"] == {"membrane_bits": 2}
    assert card["training"]["epochs"] == 2 and card["training"]["hardware"] == "test machine"
    assert card["training"]["wall_time_s"] > 0 and "--weight-bits 1" in card["train_command"]
    assert card["eval_command"] == "mfp eval mf_vgg_mini.t1 --data fmnist"
    assert_command_repeats_run(card, run, fake_fmnist)  # incl. --workers 0: it sets the augmentation streams
    assert 0 < card["size_kib"] < 100 and 0 <= card["top1"] <= 100 and 0 <= card["subset_top1"] <= 100

    # Registered, the entry rebuilds the same net, verifies its hash and reproduces its numbers.
    monkeypatch.setattr("model_zoo.pretrained.WEIGHTS_DIR", tmp_path / "w")
    model_zoo.load_pretrained_cfgs(tmp_path / "c")
    try:
        m = model_zoo.create_model("mf_vgg_mini.t1", pretrained=True)
        ref = torch.load(run / "last.pt", weights_only=True)["model"]
        assert all(torch.equal(v, ref[k]) for k, v in m.state_dict().items())
        ds = get_dataset("fmnist", "test", str(fake_fmnist), cfg=m.pretrained_cfg)
        res = evaluate_model(m, torch.utils.data.DataLoader(ds, batch_size=16), torch.device("cpu"), progress=False)
        assert round(res["top1"], 2) == card["top1"]
        (tmp_path / "w" / "mf_vgg_mini.t1.safetensors").write_bytes(b"tampered")
        with pytest.raises(Exception, match="(?i)sha256|checksum"):
            model_zoo.create_model("mf_vgg_mini.t1", pretrained=True)
    finally:
        model_zoo.deregister_pretrained_cfg("mf_vgg_mini.t1")


def test_publish_temporal_run_records_its_data_and_neurons(fake_fmnist, tmp_path, monkeypatch, capsys):
    """A fmnist-seq run: the card names fmnist-seq, its bar is fmnist-seq-bundled, and tau / learnable
    decay travel in neuron_kwargs so that pretrained=True rebuilds the same neurons."""
    run = tmp_path / "run"
    assert mfp(["train", "mf_seq_mlp", "--data", "fmnist-seq", "--data-root", str(fake_fmnist), "--epochs", "1",
                "--batch-size", "16", "--workers", "0", "--no-progress", "--output", str(run), "--tau", "4",
                "--learnable-decay", "--weight-bits", "2"]) == 0
    card = pub.publish(run, "t2", weights_dir=tmp_path / "w", cfg_dir=tmp_path / "c", data_root=str(fake_fmnist))
    assert card["dataset"] == "fmnist-seq" and card["T"] == 28
    assert card["neuron_kwargs"] == {"tau": 4.0, "learnable_decay": True}
    assert "--data fmnist-seq" in card["train_command"] and "--tau 4.0" in card["train_command"]
    assert "--learnable-decay" in card["train_command"]
    assert card["eval_command"] == "mfp eval mf_seq_mlp.t2 --data fmnist-seq"
    assert_command_repeats_run(card, run, fake_fmnist)
    assert "fmnist-seq-bundled" in card["training"]["eval"]

    monkeypatch.setattr("model_zoo.pretrained.WEIGHTS_DIR", tmp_path / "w")
    model_zoo.load_pretrained_cfgs(tmp_path / "c")
    try:
        m = model_zoo.create_model("mf_seq_mlp.t2", pretrained=True)
        ref = torch.load(run / "last.pt", weights_only=True)["model"]
        assert set(m.state_dict()) == set(ref) and all(torch.equal(v, ref[k]) for k, v in m.state_dict().items())
        n = len(get_dataset("fmnist-seq-bundled", "test", T=28))
        capsys.readouterr()
        assert mfp(["eval", "mf_seq_mlp.t2", "--data", "fmnist-seq-bundled", "--no-progress"]) == 0
        assert f"model card top-1 on the bundled {n:,}-image subset: {card['subset_top1']}" in capsys.readouterr().out
    finally:
        model_zoo.deregister_pretrained_cfg("mf_seq_mlp.t2")


def test_publish_refuses_a_dataset_without_a_bundled_subset():
    with pytest.raises(SystemExit, match="cifar10 has no bundled test subset"):
        pub.bundled_subset("cifar10")
