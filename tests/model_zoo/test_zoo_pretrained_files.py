"""Pretrained weights on disk: missing, present, corrupt or truncated files give clear errors."""
import shutil

import pytest
import torch

import model_zoo
from model_zoo import ChecksumError, PretrainedCfg
from model_zoo.pretrained import WEIGHTS_DIR

DEFAULT_FILE = "mf_vgg_small.fmnist_w2_m2.safetensors"


def test_missing_shipped_weights_raise_file_not_found(tmp_path, monkeypatch):
    monkeypatch.setattr("model_zoo.pretrained.WEIGHTS_DIR", tmp_path)  # the shipped files are "absent"
    with pytest.raises(FileNotFoundError, match=DEFAULT_FILE) as e:
        model_zoo.create_model("mf_vgg_small", pretrained=True)
    assert str(tmp_path) in str(e.value)
    assert model_zoo.pretrained_available("mf_vgg_small") is False
    # the card is still there: the architecture with the tag's settings builds (random weights)
    assert model_zoo.create_model("mf_vgg_small.fmnist_w2_m2").T == 4


def test_pretrained_available_and_default_tag(tmp_path, monkeypatch, empty_card_store):
    assert model_zoo.pretrained_available("mf_vgg_small") is False  # store hidden: no card
    with pytest.raises(KeyError, match="available tags: none"):
        model_zoo.pretrained_available("mf_vgg_small.fmnist_w1")
    monkeypatch.undo()
    assert model_zoo.pretrained_available("mf_vgg_small") is True
    assert model_zoo.pretrained_available("mf_vgg_small.fmnist_w1") is True
    assert model_zoo.pretrained_available("mf_resnet18") is False
    assert model_zoo.default_pretrained_tag("mf_vgg_small") == "fmnist_w2_m2"
    assert model_zoo.default_pretrained_tag("mf_vgg_small.fmnist_w1") == "fmnist_w2_m2"
    assert model_zoo.default_pretrained_tag("mf_resnet18") is None
    with pytest.raises(KeyError, match="mf_vgg_small"):
        model_zoo.pretrained_available("mf_vgg_smal")
    # a url-only card: available once cached, or when downloads are allowed
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cfg = PretrainedCfg(architecture="mf_vgg_small", tag="url_only", url="https://example.invalid/u.safetensors",
                        sha256="ab" * 32)
    model_zoo.register_pretrained_cfg(cfg)
    try:
        assert model_zoo.pretrained_available("mf_vgg_small.url_only") is False
        assert model_zoo.pretrained_available("mf_vgg_small.url_only", allow_download=True) is True
        (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
        (tmp_path / "hub" / "checkpoints" / "u.safetensors").write_bytes(b"x")
        assert model_zoo.pretrained_available("mf_vgg_small.url_only") is True
    finally:
        model_zoo.deregister_pretrained_cfg("mf_vgg_small.url_only")


def _damaged(tmp_path, how):
    data = (WEIGHTS_DIR / DEFAULT_FILE).read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "header_cut": data[:40], "zeros": bytes(4096),
               "empty": b""}[how]
    p = tmp_path / f"{how}.safetensors"
    p.write_bytes(damaged)
    return p


@pytest.mark.parametrize("how", ["truncated", "header_cut", "zeros", "empty"])
def test_corrupt_checkpoint_is_a_value_error_naming_the_file(tmp_path, how):
    p = _damaged(tmp_path, how)
    with pytest.raises(ValueError, match=str(p)):
        model_zoo.create_model("mf_vgg_small", pretrained=str(p))
    with pytest.raises(ValueError, match=str(p)):
        model_zoo.load_state_dict_file(p)


def test_corrupt_checkpoint_with_known_hash_is_a_checksum_error(tmp_path, monkeypatch):
    digest = model_zoo.sha256_file(WEIGHTS_DIR / DEFAULT_FILE)
    p = _damaged(tmp_path, "truncated")
    with pytest.raises(ChecksumError, match=str(p)):
        model_zoo.create_model("mf_vgg_small", pretrained=str(p), checkpoint_sha256=digest)
    # a truncated shipped file: the card's sha256 catches it
    shutil.copy(p, tmp_path / DEFAULT_FILE)
    monkeypatch.setattr("model_zoo.pretrained.WEIGHTS_DIR", tmp_path)
    with pytest.raises(ChecksumError, match=DEFAULT_FILE):
        model_zoo.create_model("mf_vgg_small", pretrained=True)


def test_pretrained_argument_type_is_checked():
    # pretrained=1 used to build random weights silently (1 == True, but `1 is not True`)
    with pytest.raises(TypeError, match="pretrained"):
        model_zoo.create_model("mf_vgg_small", pretrained=1)
