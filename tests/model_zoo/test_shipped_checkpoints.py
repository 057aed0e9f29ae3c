"""Every shipped checkpoint loads (sha256-verified) and reaches its card's accuracy on the bundled subset.

The bar is the card's ``subset_top1`` (measured by scripts/publish_checkpoint.py on the same images of
the card's dataset's bundled subset, e.g. ``fmnist-bundled``'s 2,000, float32, CPU) minus 5 images (0.25 points of 2,000): spikes of images whose potential lies within
float rounding of a threshold may flip on another CPU or BLAS build.
"""
from __future__ import annotations

import json

import pytest

import model_zoo
from model_zoo.pretrained import WEIGHTS_DIR
from mfp_plugin.cli import main
from mfp_plugin.cli.checks import cfg_dataset
from mfp_plugin.data import DATASETS, get_dataset

SHIPPED = [n for n in model_zoo.list_pretrained()
           if model_zoo.get_pretrained_cfg(n).file and (WEIGHTS_DIR / model_zoo.get_pretrained_cfg(n).file).exists()]
TOLERANCE_IMAGES = 5


def test_every_card_with_a_file_ships_it():
    for name in model_zoo.list_pretrained():
        cfg = model_zoo.get_pretrained_cfg(name)
        if cfg.file and cfg.url is None:
            assert (WEIGHTS_DIR / cfg.file).exists(), f"{name}: {cfg.file} is missing and has no url"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_reaches_its_bar(name, tmp_path, capsys):
    cfg = model_zoo.get_pretrained_cfg(name)
    assert cfg.sha256 and cfg.top1 is not None and cfg.subset_top1 is not None, f"{name}: incomplete card"
    assert cfg.eval_command and cfg.train_command and cfg.training.get("epochs"), f"{name}: no training record"
    # Through `mfp eval`, as a user runs it: loads the shipped file (sha256-verified) and names the
    # card's number for the same images.
    subset = f"{cfg_dataset(dict(dataset=cfg.dataset))}-bundled"
    n = len(get_dataset(subset, "test", **({} if DATASETS[subset]["T"] is None else {"T": cfg.T})))
    out = tmp_path / "eval.json"
    assert main(["eval", name, "--data", subset, "--no-progress", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(pretrained weights)" in printed
    assert f"model card top-1 on the bundled {n:,}-image subset: {cfg.subset_top1}" in printed
    res = json.loads(out.read_text())
    assert res["n"] == n and res["random_weights"] is False
    assert res["top1"] >= cfg.subset_top1 - 100 * TOLERANCE_IMAGES / n, (name, res["top1"], cfg.subset_top1)
