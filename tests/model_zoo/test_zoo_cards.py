"""Pretrained cards: a bad card is skipped (never breaks the zoo), every field is type-checked,
and a card cannot switch sha256 verification off."""
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import model_zoo
from model_zoo import PretrainedCfg

GOOD = dict(architecture="mf_vgg_small", tag="good", file="good.safetensors", sha256="ab" * 32,
            T=4, weight_bits=2, first_last_bits=8, mean=[0.286], std=[0.353], input_size=[1, 28, 28],
            num_classes=10, top1=90.0, default=False)


def _write(directory: Path, name: str, card) -> Path:
    p = directory / name
    p.write_text(card if isinstance(card, str) else json.dumps(card))
    return p


_IMPORT_WITH_A_BROKEN_CARD = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import model_zoo
out = {"warnings": [str(w.message) for w in caught if "pretrained config" in str(w.message)],
       "pretrained": model_zoo.list_pretrained()}
try:
    model_zoo.create_model("mf_vgg_small.broken", pretrained=True)
except Exception as e:
    out["error"] = [type(e).__name__, isinstance(e, ValueError), str(e)]
out["other"] = model_zoo.create_model("mf_vgg_small.fmnist_w1", pretrained=True).pretrained_cfg["tag"]
print(json.dumps(out))
"""


def test_malformed_card_does_not_break_import(tmp_path):
    # A copy of the package with one truncated card file next to the shipped ones.
    src = Path(model_zoo.__file__).resolve().parent
    shutil.copytree(src, tmp_path / "model_zoo", ignore=shutil.ignore_patterns("__pycache__"))
    bad = _write(tmp_path / "model_zoo" / "pretrained_cfgs", "mf_vgg_small.broken.json",
                 '{"architecture": "mf_vgg_small", "tag": "broken", "sha256": ')
    # the copy first; the rest (mfp_plugin) from the checkout under test
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{src.parent}", "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", _IMPORT_WITH_A_BROKEN_CARD], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(out["warnings"]) == 1 and str(bad) in out["warnings"][0]
    shipped = sorted(c.stem for c in (src / "pretrained_cfgs").glob("*.json"))  # every good card, the bad one left out
    assert "mf_vgg_small.fmnist_w1" in shipped and out["pretrained"] == shipped
    kind, is_value_error, msg = out["error"]
    assert is_value_error and str(bad) in msg, out["error"]
    assert out["other"] == "fmnist_w1"


@pytest.mark.parametrize("field,value,words", [
    ("sha256", None, "sha256"),
    ("sha256", "ab" * 31, "sha256"),
    ("default", "yes", "default"),
    ("default", 1, "default"),
    ("T", "4", "'T'"),
    ("T", 0, "'T'"),
    ("num_classes", True, "num_classes"),
    ("mean", [0.2, 0.3], "mean"),
    ("mean", "0.286", "mean"),
    ("std", [0.0], "std"),
    ("input_size", [1, 28], "input_size"),
    ("input_size", [0], "input_size"),
    ("top1", 120.0, "top1"),
    ("top1", "93.2", "top1"),
    ("neuron", 5, "neuron"),
    ("neuron_kwargs", [], "neuron_kwargs"),
    ("training", {1: 2}, "training"),
    ("weight_bits", 16, "weight_bits"),
    ("first_last_bits", "nine", "first_last_bits"),
    ("url", "not a url", "url"),
    ("notes", 3, "notes"),
])
def test_card_fields_are_type_checked(field, value, words):
    with pytest.raises((TypeError, ValueError), match=words):
        PretrainedCfg(**{**GOOD, field: value})


def test_card_normalises_bits_and_sequences():
    cfg = PretrainedCfg(**{**GOOD, "weight_bits": "binary", "first_last_bits": "fp"})
    assert (cfg.weight_bits, cfg.first_last_bits) == (1, None)
    assert cfg.mean == (0.286,) and cfg.input_size == (1, 28, 28)
    assert PretrainedCfg.from_dict(cfg.to_dict()) == cfg


def test_sequence_card_takes_features_per_step_and_a_shared_or_per_feature_mean():
    seq = {**GOOD, "input_size": [28], "dataset": "fmnist-seq", "T": 28}
    assert PretrainedCfg(**seq).input_size == (28,)
    assert PretrainedCfg(**{**seq, "mean": [0.1] * 28, "std": [0.3] * 28}).mean == (0.1,) * 28
    with pytest.raises(TypeError, match="'mean' must be a list of 1 or 28 numbers"):
        PretrainedCfg(**{**seq, "mean": [0.1, 0.2]})


def test_card_without_sha256_is_skipped_with_one_warning(tmp_path, empty_card_store):
    _write(tmp_path, "a.json", {**GOOD, "tag": "ok"})
    bad = _write(tmp_path, "b.json", {**GOOD, "tag": "nohash", "sha256": None})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfgs = model_zoo.load_pretrained_cfgs(tmp_path, on_error="warn")
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 1 and str(bad) in msgs[0] and "sha256" in msgs[0]
    assert [c.name for c in cfgs] == ["mf_vgg_small.ok"] == model_zoo.list_pretrained()
    with pytest.raises(ValueError, match=f"{bad}.*sha256"):
        model_zoo.create_model("mf_vgg_small.nohash")
    # strict mode (the default of an explicit call) raises, naming the file
    with pytest.raises(ValueError, match="b.json"):
        model_zoo.load_pretrained_cfgs(tmp_path, register=False)


def test_broken_default_card_is_not_replaced_by_another_tag(tmp_path, empty_card_store):
    _write(tmp_path, "mf_vgg_small.other.json", {**GOOD, "tag": "other"})
    bad = _write(tmp_path, "mf_vgg_small.main.json", {**GOOD, "tag": "main", "default": "true"})
    with pytest.warns(UserWarning, match="default"):
        model_zoo.load_pretrained_cfgs(tmp_path, on_error="warn")
    assert model_zoo.list_pretrained() == ["mf_vgg_small.other"]
    with pytest.raises(ValueError, match=str(bad)):
        model_zoo.create_model("mf_vgg_small", pretrained=True)
    assert model_zoo.pretrained_available("mf_vgg_small.main") is False


def test_card_for_an_unknown_architecture_is_skipped(tmp_path, empty_card_store):
    bad = _write(tmp_path, "x.json", {**GOOD, "architecture": "mf_nonexistent"})
    with pytest.warns(UserWarning, match="mf_nonexistent"):
        assert model_zoo.load_pretrained_cfgs(tmp_path, on_error="warn") == []
    with pytest.raises(ValueError, match=str(bad)):
        model_zoo.load_pretrained_cfgs(tmp_path)


def test_unknown_names_are_key_errors_with_suggestions():
    with pytest.raises(KeyError, match="mf_resnet18") as e:
        model_zoo.create_model("mf_resnet_18")
    assert str(e.value).startswith("unknown model 'mf_resnet_18'")  # no KeyError quoting
    with pytest.raises(KeyError, match=r"unknown pretrained tag 'fmnist_w9'.*fmnist_w1.*fmnist_w2_m2"):
        model_zoo.create_model("mf_vgg_small.fmnist_w9", pretrained=True)
    with pytest.raises(KeyError, match="mf_vgg_small"):
        model_zoo.get_pretrained_cfg("mf_vgg_smal")
