"""fmnist-seq: one image row per time step, normalised as fmnist."""
from __future__ import annotations

import pytest
import torch
from _data_fakes import write_fmnist_split

from mfp_plugin.data import FMNIST_MEAN, FMNIST_STD, get_dataset
from mfp_plugin.data import fashion_mnist as fm


def test_bundled_rows_are_the_normalised_image_rows():
    seq = get_dataset("fmnist-seq-bundled")
    img = get_dataset("fmnist-bundled")
    assert len(seq) == len(img) == 2000
    for i in (0, 1999):
        x, y = seq[i]
        assert x.shape == (28, 28) and x.dtype == torch.float32 and y == img[i][1]
        raw = img.data[i].float() / 255  # uint8 [28, 28]
        assert torch.allclose(x, (raw - FMNIST_MEAN[0]) / FMNIST_STD[0], atol=1e-6)
        assert torch.equal(x[5], img[i][0][0, 5])  # step 5 = row 5


def test_full_splits_from_idx_files_and_train_augmentation(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "none")
    monkeypatch.delenv("MFP_DATA", raising=False)
    root = write_fmnist_split(tmp_path / "r", "train", 6)
    write_fmnist_split(root, "t10k", 4, seed=1)
    test = get_dataset("fmnist-seq", "test", root)
    assert len(test) == 4 and test[3][0].shape == (28, 28) and test[3][1] == 3
    plain = get_dataset("fmnist-seq", "train", root, augment=False)
    torch.manual_seed(0)
    aug = get_dataset("fmnist-seq", "train", root)  # train: pad-2 crop + flip, as fmnist
    xs = [aug[0][0] for _ in range(6)]
    assert all(x.shape == (28, 28) for x in xs) and any(not torch.equal(x, plain[0][0]) for x in xs)
    # the model's normalisation wins, as for fmnist
    x, _ = get_dataset("fmnist-seq", "test", root, cfg={"mean": [0.0], "std": [1.0], "input_size": [28]})[0]
    assert torch.allclose(x, test.base.data[0].float() / 255)


@pytest.mark.parametrize("kw,match", [
    (dict(T=10), "T = 28"), (dict(split_by="time"), "event datasets"), (dict(cache_root="/tmp"), "event"),
    (dict(input_size=(1, 32, 32)), r"\[28, 28\]"),
])
def test_refused_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        get_dataset("fmnist-seq-bundled", **kw)
    assert get_dataset("fmnist-seq-bundled", T=28)[0][0].shape == (28, 28)


def test_bundled_has_no_train_split():
    with pytest.raises(ValueError, match="train on 'fmnist-seq'"):
        get_dataset("fmnist-seq-bundled", "train")
