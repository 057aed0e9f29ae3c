"""Model options: argparse spellings -> create_model kwargs; 'not given' (None) never means float ('fp')."""
from __future__ import annotations

import argparse

import pytest

import model_zoo
import mfp_plugin
from mfp_plugin.engine import model_overrides, neuron_override
from mfp_plugin.engine.options import add_model_options
from mfp_plugin.quant import QuantConv2d


def parse(*argv):
    p = argparse.ArgumentParser()
    add_model_options(p)
    return p.parse_args(list(argv))


def quantized_convs(model):
    return [m.weight_quantizer for m in model.modules() if isinstance(m, QuantConv2d)]


def test_not_given_keeps_the_model_and_fp_means_float():
    assert model_overrides(parse()) == {}
    fp = model_overrides(parse("--weight-bits", "fp", "--first-last-bits", "float"))
    assert fp == {"weight_bits": None, "first_last_bits": None}
    assert all(q is None for q in quantized_convs(model_zoo.create_model("mf_vgg_mini", T=1, **fp)))
    default = model_zoo.create_model("mf_vgg_mini", T=1, **model_overrides(parse()))
    assert all(q is not None for q in quantized_convs(default))  # the model's own 2/8-bit weights


@pytest.mark.parametrize("text,value", [("1", 1), ("binary", 1), ("2", 2), ("8", 8), ("ternary", "ternary"),
                                        ("1.58", "ternary"), ("32", "fp"), ("FP", "fp")])
def test_bits_spellings(text, value):
    assert parse("--weight-bits", text).weight_bits == value


@pytest.mark.parametrize("argv", [["--weight-bits", "0"], ["--weight-bits", "9"], ["--weight-bits", "two"],
                                  ["--T", "0"], ["--membrane-bits", "1"], ["--neuron", "izh"]])
def test_bad_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as info:
        parse(*argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and ("expected" in err or "invalid choice" in err), err


def test_neuron_override_builds_the_requested_neurons():
    over = model_overrides({"neuron": "qlif", "membrane_bits": 3, "T": 2, "num_classes": 4})
    m = model_zoo.create_model("mf_vgg_mini", **over)
    q = [x for x in m.modules() if isinstance(x, mfp_plugin.QLIFNode)]
    assert q and all(x.membrane_bits == 3 for x in q) and m.T == 2 and m.num_classes == 4
    assert neuron_override(None, 2) == {"neuron_kwargs": {"membrane_bits": 2}}
    with pytest.raises(ValueError, match="lif"):
        neuron_override("lif", 2)
    with pytest.raises(ValueError, match=">= 2"):
        neuron_override("mf", 1)
    with pytest.raises(ValueError, match="--T"):
        model_overrides({"T": 0})


def test_fallback_fills_only_what_is_not_given():
    over = model_overrides({"T": 3}, fallback={"T": 8, "weight_bits": 1, "neuron": "mf"})
    assert over["T"] == 3 and over["weight_bits"] == 1 and over["neuron"] is mfp_plugin.MFNode
