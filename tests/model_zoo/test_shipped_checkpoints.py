"""Every shipped checkpoint loads (sha256-verified) and reaches its card's accuracy on the bundled subset.

The bar is the card's ``subset_top1`` (measured by scripts/publish_checkpoint.py on the same 2,000
images, float32, CPU) minus 0.25 points (5 images): spikes of images whose potential lies within
float rounding of a threshold may flip on another CPU or BLAS build.
"""
from __future__ import annotations

import pytest
import torch

import model_zoo
from model_zoo.pretrained import WEIGHTS_DIR
from mfp_plugin.cli.evaluate import evaluate_model
from mfp_plugin.data import get_dataset

SHIPPED = [n for n in model_zoo.list_pretrained()
           if model_zoo.get_pretrained_cfg(n).file and (WEIGHTS_DIR / model_zoo.get_pretrained_cfg(n).file).exists()]
TOLERANCE = 0.25


def test_every_card_with_a_file_ships_it():
    for name in model_zoo.list_pretrained():
        cfg = model_zoo.get_pretrained_cfg(name)
        if cfg.file and cfg.url is None:
            assert (WEIGHTS_DIR / cfg.file).exists(), f"{name}: {cfg.file} is missing and has no url"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_reaches_its_bar(name):
    cfg = model_zoo.get_pretrained_cfg(name)
    assert cfg.sha256 and cfg.top1 is not None and cfg.subset_top1 is not None, f"{name}: incomplete card"
    assert cfg.eval_command and cfg.train_command and cfg.training.get("epochs"), f"{name}: no training record"
    model = model_zoo.create_model(name, pretrained=True)  # verifies the sha256
    ds = get_dataset("fmnist-bundled", "test", cfg=model.pretrained_cfg)
    loader = torch.utils.data.DataLoader(ds, batch_size=250, shuffle=False)
    res = evaluate_model(model, loader, torch.device("cpu"), progress=False)
    assert res["n"] == 2000
    assert res["top1"] >= cfg.subset_top1 - TOLERANCE, (name, res["top1"], cfg.subset_top1)
