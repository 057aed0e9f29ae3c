"""Bit widths go through the one parser (mfp_plugin.quant.normalize_bits); zoo models reset
their neurons with mfp_plugin.reset_states at the start of every forward."""
import pytest
import torch

import mfp_plugin
import model_zoo
import model_zoo.layers


@pytest.mark.parametrize("arg", ["weight_bits", "first_last_bits"])
def test_out_of_range_bits_are_rejected_by_name(arg):
    for arch in ("mf_vgg_small", "mf_resnet20"):
        with pytest.raises(ValueError, match=rf"^{arg}: .*16"):
            model_zoo.create_model(arch, T=1, **{arg: 16})
    with pytest.raises(TypeError, match=rf"^{arg}: "):
        model_zoo.create_model("mf_vgg_small", T=1, **{arg: [2]})


@pytest.mark.parametrize("spec,expected", [("2", 2), ("binary", 1), ("fp", None), (32, None), (1.58, "ternary")])
def test_bit_specs_as_the_command_line_gives_them(spec, expected):
    m = model_zoo.create_model("mf_vgg_small", T=1, weight_bits=spec, first_last_bits=spec)
    assert m.weight_bits == expected and m.first_last_bits == expected
    assert m.pretrained_cfg["weight_bits"] == expected
    assert m.features[0].weight_bits == expected and m.features[3].weight_bits == expected
    assert m(torch.rand(1, 1, 28, 28)).shape == (1, 10)


def test_forward_resets_with_mfp_plugin_reset_states(monkeypatch):
    assert not hasattr(model_zoo.layers, "reset_model_state"), "one reset: mfp_plugin.reset_states"
    calls = []
    real = mfp_plugin.reset_states
    monkeypatch.setattr(model_zoo.layers, "reset_states", lambda m: calls.append(m) or real(m))
    m = model_zoo.create_model("mf_vgg_small", T=2).eval()
    with torch.no_grad():
        m(torch.rand(1, 1, 28, 28))
        m.forward_steps(torch.rand(1, 1, 28, 28))
    assert calls == [m, m]
