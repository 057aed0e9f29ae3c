"""QuantConv2d / QuantLinear: forward, from_float, state_dict, export."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mfp_plugin.quant import (LSQQuantizer, QuantConv2d, QuantLinear, TernaryQuantizer, dequantize,
                              export_layer, export_model, load_exported)

SPECS = [1, 2, 4, 8, "ternary"]


@pytest.mark.parametrize("spec", SPECS + [None])
def test_forward_uses_quantized_weight(spec):
    torch.manual_seed(0)
    conv = QuantConv2d(3, 4, 3, stride=2, padding=1, weight_bits=spec)
    fc = QuantLinear(6, 5, weight_bits=spec, per_channel=True)
    x, y = torch.randn(2, 3, 7, 7), torch.randn(2, 3, 6)
    ref_c = F.conv2d(x, conv.quantized_weight(), conv.bias, stride=2, padding=1)
    assert torch.equal(conv(x), ref_c)
    assert torch.equal(fc(y), F.linear(y, fc.quantized_weight(), fc.bias))
    if spec is None:
        assert conv.quantized_weight() is conv.weight
    else:
        assert not torch.equal(conv.quantized_weight(), conv.weight)
    assert f"weight_bits={spec!r}" in repr(conv)


@pytest.mark.parametrize("spec", [1, 2, "ternary"])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_channels_last_weights_give_channels_last_outputs(spec, in_channels):
    # A 1-channel kernel is both NCHW- and NHWC-contiguous; the quantized copy must keep the
    # weight's strides or the conv falls back to NCHW for the rest of a channels-last network.
    torch.manual_seed(0)
    conv = QuantConv2d(in_channels, 8, 3, padding=1, weight_bits=spec)
    x = torch.randn(2, in_channels, 6, 6)
    ref = conv(x)
    conv.to(memory_format=torch.channels_last)
    w = conv.quantized_weight()
    assert w.stride() == conv.weight.stride() and torch.equal(w, conv.weight_quantizer(conv.weight))
    y = conv(x.contiguous(memory_format=torch.channels_last))
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    torch.testing.assert_close(y, ref)
    y.sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_padding_mode_and_gradients_reach_weight_and_step():
    torch.manual_seed(1)
    conv = QuantConv2d(2, 3, 3, padding=1, padding_mode="circular", weight_bits=4)
    x = torch.randn(1, 2, 5, 5)
    ref = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), conv.quantized_weight(), conv.bias)
    assert torch.equal(conv(x), ref)
    conv(x).square().sum().backward()
    assert conv.weight.grad.abs().sum() > 0
    assert conv.weight_quantizer.scale.grad.abs().sum() > 0


def test_from_float_keeps_weights_dtype_and_rejects_wrong_type():
    torch.manual_seed(2)
    src = nn.Conv2d(2, 3, 3, bias=True).double()
    q = QuantConv2d.from_float(src, weight_bits=2)
    assert type(q) is QuantConv2d and q is not src
    assert q.weight.dtype == torch.float64 and q.weight_quantizer.scale.dtype == torch.float64
    assert torch.equal(q.weight, src.weight) and torch.equal(q.bias, src.bias)
    assert q.weight.data_ptr() != src.weight.data_ptr()  # a copy
    assert type(src) is nn.Conv2d  # source untouched
    fc = QuantLinear.from_float(nn.Linear(4, 2), "ternary")
    assert isinstance(fc.weight_quantizer, TernaryQuantizer) and fc.weight_bits == "ternary"
    with pytest.raises(TypeError, match="Conv2d"):
        QuantConv2d.from_float(nn.Linear(2, 2))
    own = LSQQuantizer(3, per_channel=True, num_channels=3)
    assert QuantConv2d.from_float(src, weight_quantizer=own).weight_quantizer is own


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (1.5, ValueError),
                                     ("foo", ValueError), ((4,), TypeError)])
def test_layers_reject_bad_bits(bad, exc):
    with pytest.raises(exc, match="expected"):
        QuantConv2d(1, 1, 1, weight_bits=bad)
    with pytest.raises(exc, match="expected"):
        QuantLinear(1, 1, weight_bits=bad)
    with pytest.raises(TypeError, match="WeightQuantizer"):
        QuantLinear(1, 1, weight_quantizer=nn.Identity())


def test_state_dict_round_trip_does_not_reinit_step():
    torch.manual_seed(3)
    a = QuantConv2d(2, 4, 3, weight_bits=4, per_channel=True)
    x = torch.randn(1, 2, 6, 6)
    a(x)  # initialises the step from the data
    with torch.no_grad():  # a step that the data-driven init would never produce
        a.weight_quantizer.scale.mul_(1.7)
    sd = a.state_dict()
    assert "weight_quantizer.scale" in sd and "weight_quantizer.initialized" in sd
    b = QuantConv2d(2, 4, 3, weight_bits=4, per_channel=True)
    b.load_state_dict(sd)
    out = b(x)
    assert torch.equal(b.weight_quantizer.scale, a.weight_quantizer.scale)
    assert torch.equal(out, a(x)) and torch.equal(b.quantized_weight(), a.quantized_weight())


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("spec", SPECS)
def test_export_round_trip_exact(spec, per_channel):
    torch.manual_seed(4)
    conv = QuantConv2d(3, 4, 3, weight_bits=spec, per_channel=per_channel)
    e = export_layer(conv)
    assert e["codes"].dtype == torch.int8 and e["layer_type"] == "conv2d"
    assert e["bits"] == (2 if spec == "ternary" else spec) and e["weight_bits"] == spec
    assert torch.equal(dequantize(e), conv.quantized_weight())
    assert torch.equal(e["bias"], conv.bias)

    fresh = QuantConv2d(3, 4, 3, weight_bits=spec, per_channel=per_channel)
    load_exported(fresh, e)
    assert torch.equal(fresh.bias, conv.bias)
    assert torch.equal(export_layer(fresh)["codes"], e["codes"])
    if isinstance(fresh.weight_quantizer, LSQQuantizer):
        assert torch.equal(fresh.quantized_weight(), conv.quantized_weight())
    else:  # binary/ternary recompute the channel mean: equal up to float rounding
        torch.testing.assert_close(fresh.quantized_weight(), conv.quantized_weight(), rtol=1e-6, atol=0)


def test_export_errors_and_export_model():
    with pytest.raises(ValueError, match="full precision"):
        export_layer(QuantLinear(2, 2, weight_bits=None))
    with pytest.raises(TypeError):
        export_layer(nn.Linear(2, 2))
    e = export_layer(QuantLinear(3, 2, weight_bits=2, bias=False))
    assert e["bias"] is None and e["layer_type"] == "linear"
    with pytest.raises(ValueError, match="shape"):
        load_exported(QuantLinear(4, 2, weight_bits=2, bias=False), e)
    with pytest.raises(ValueError, match="linear"):
        load_exported(QuantConv2d(3, 2, 1, weight_bits=2, bias=False), e)
    net = nn.Sequential(QuantLinear(3, 4, weight_bits=2), nn.ReLU(), QuantLinear(4, 2, weight_bits=None))
    ex = export_model(net)
    assert list(ex) == ["0"] and torch.equal(dequantize(ex["0"]), net[0].quantized_weight())
