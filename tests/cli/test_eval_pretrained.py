"""``mfp eval`` with released weights names the tag it loaded, warns when model options change the network
the weights were trained as, and ``mfp zoo list --pretrained`` marks each architecture's default tag."""
from __future__ import annotations

import json

import pytest

import model_zoo
from mfp_plugin.cli import main

ARCH = "mf_vgg_small"


def run_eval(capsys, tmp_path, *extra):
    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["eval", ARCH, "--data", "fmnist-bundled", "--limit", "16", "--no-progress",
                 "--json", str(out), *extra]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err, json.loads(out.read_text())


def test_the_resolved_tag_is_printed_and_in_the_json(capsys, tmp_path):
    default = model_zoo.get_pretrained_cfg(ARCH)
    assert default.default  # the card that says it is the default
    out, err, res = run_eval(capsys, tmp_path)
    assert f"model {default.name} (pretrained weights) on fmnist-bundled/test" in out
    assert res["pretrained_tag"] == default.name and res["random_weights"] is False
    assert "warning" not in err


def test_overrides_of_pretrained_weights_warn_and_drop_the_card_number(capsys, tmp_path):
    card = model_zoo.get_pretrained_cfg(ARCH)
    assert card.T == 4
    out, err, res = run_eval(capsys, tmp_path, "--T", "2", "--membrane-bits", "3")
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and card.name in warning[0]
    assert "--T 2 (trained with 4)" in warning[0] and "--membrane-bits 3 (trained with 2)" in warning[0]
    assert "overridden" in out and "model card top-1" not in out
    assert res["pretrained_tag"] == card.name and res["overrides"]["T"] == 2


def test_an_override_equal_to_the_training_value_does_not_warn(capsys, tmp_path):
    _, err, _ = run_eval(capsys, tmp_path, "--T", "4", "--weight-bits", "2")
    assert "warning" not in err


def test_help_states_the_pretrained_default_the_right_way_round(capsys):
    with pytest.raises(SystemExit) as info:
        main(["eval", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "default: True" not in text and "(default: None)" not in text
    assert "--no-pretrained evaluate randomly initialised weights instead of the released ones" in text


def test_zoo_list_marks_the_default_tag(capsys):
    assert main(["zoo", "list", "--pretrained"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line[2:].startswith(ARCH + ".")]
    tags = model_zoo.list_pretrained(f"{ARCH}.*")
    assert len(lines) == len(tags) >= 2
    for line in lines:
        name = line[2:].split()[0]
        assert line.startswith("* ") == model_zoo.get_pretrained_cfg(name).default, line
