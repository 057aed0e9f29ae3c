"""scripts/plot_history_loss.py: synthetic and trained-layer modes; layer_dynamics against hand values."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import model_zoo
from model_zoo.pretrained import save_checkpoint

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "plot_history_loss.py"
spec = importlib.util.spec_from_file_location("plot_history_loss", SCRIPT)
phl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(phl)


def test_layer_dynamics_hand_computed():
    # tau 2 (beta 0.5), theta 1, 2 bits (Delta = 1): a constant 0.3 input.
    d = phl.layer_dynamics(torch.full((4, 1), 0.3), tau=2.0, theta=1.0, bits=2)
    assert d["h"].flatten().tolist() == pytest.approx([0.3, 0.45, 0.525, 0.5625])
    assert d["h_tilde"].flatten().tolist() == [0.0, 0.0, 1.0, 1.0]   # Q_2 rounds H >= 0.5 up to 1
    assert d["s_mf"].flatten().tolist() == [0.0, 0.0, 1.0, 1.0]
    assert d["u_q"].flatten().tolist() == [0.0, 0.0, 0.0, 0.0]       # 0.3 is rounded away every step
    assert d["s_q"].flatten().tolist() == [0.0, 0.0, 0.0, 0.0]
    assert d["u_fp"].flatten().tolist() == pytest.approx([0.3, 0.45, 0.525, 0.5625])  # float twin keeps it


def test_modes_write_pngs(tmp_path, capsys):
    out = tmp_path / "syn.png"
    assert phl.main(["--out", str(out), "--T", "16"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    torch.manual_seed(0)
    ck = tmp_path / "m.safetensors"
    save_checkpoint(model_zoo.create_model("mf_vgg_mini", T=3), ck)
    out = tmp_path / "trained.png"
    assert phl.main(["--checkpoint", str(ck), "--model", "mf_vgg_mini", "--layer", "features.6",
                     "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "layer features.6: " in capsys.readouterr().out
    for bad in ("nope", "features.4"):  # missing, and a BatchNorm rather than a neuron
        with pytest.raises(SystemExit, match="neuron layers: features.2, features.6, features.9"):
            phl.main(["--checkpoint", str(ck), "--model", "mf_vgg_mini", "--layer", bad, "--out", str(out)])
