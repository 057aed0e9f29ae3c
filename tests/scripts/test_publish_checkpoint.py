"""scripts/publish_checkpoint.py: a finished run becomes a verified, reproducible zoo entry."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import model_zoo
from mfp_plugin.cli import main as mfp
from mfp_plugin.engine import evaluate as evaluate_model
from _fake_data import write_fake_fmnist
from mfp_plugin.data import get_dataset

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "publish_checkpoint.py"
spec = importlib.util.spec_from_file_location("publish_checkpoint", SCRIPT)
pub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pub)


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
