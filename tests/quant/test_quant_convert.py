"""quantize_model on plain torch models and SpikingJelly layer wrappers.

The SpikingJelly tests use whichever generation is importable; run once
normally (2.x) and once with ``PYTHONPATH=/work/sj014`` (0.0.0.0.14).
"""
import copy
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mfp_plugin.quant import (BinaryQuantizer, LSQQuantizer, QuantConv2d, QuantLinear, dequantize,
                              export_layer, quantize_model)


def _plain_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, bias=False),
                         nn.Flatten(), nn.Linear(4 * 3 * 3, 3))


def test_quantize_plain_sequential():
    net = _plain_net()
    params = [net[0].weight, net[2].weight, net[4].weight]
    values = [p.detach().clone() for p in params]
    out = quantize_model(net, weight_bits=2, first_last_bits=8)
    assert out is net
    assert type(net[0]) is QuantConv2d and type(net[4]) is QuantLinear
    assert [net[i].weight_bits for i in (0, 2, 4)] == [8, 2, 8]
    for p, v, i in zip(params, values, (0, 2, 4)):  # same Parameter objects, same values
        assert net[i].weight is p and torch.equal(p, v)
    x = torch.randn(2, 2, 5, 5)
    h = F.relu(F.conv2d(x, net[0].quantized_weight(), net[0].bias, padding=1))
    h = F.conv2d(h, net[2].quantized_weight()).flatten(1)
    assert torch.equal(net(x), F.linear(h, net[4].quantized_weight(), net[4].bias))
    quantizers = [net[i].weight_quantizer for i in (0, 2, 4)]
    quantize_model(net, weight_bits=1, first_last_bits=4)  # idempotent: nothing re-wrapped
    assert [net[i].weight_quantizer for i in (0, 2, 4)] == quantizers
    assert [net[i].weight_bits for i in (0, 2, 4)] == [8, 2, 8]


def test_first_last_none_skip_and_per_channel():
    net = _plain_net()
    ref = copy.deepcopy(net)
    quantize_model(net, weight_bits=1, first_last_bits=None, per_channel=False)
    assert net[0].weight_bits is None and net[4].weight_bits is None
    assert isinstance(net[2].weight_quantizer, BinaryQuantizer) and not net[2].weight_quantizer.per_channel
    x = torch.randn(1, 2, 5, 5)
    ref[2].weight.data = net[2].quantized_weight().detach()
    assert torch.equal(net(x), ref(x))

    net2 = _plain_net()
    quantize_model(net2, weight_bits=3, first_last_bits=8, skip=["2"], per_channel=True)
    assert type(net2[2]) is nn.Conv2d  # skipped: untouched
    assert net2[4].weight_bits == 8 and net2[0].weight_quantizer.scale.shape == (4,)


def test_bad_arguments_leave_model_untouched():
    net = _plain_net()
    for bad, exc in [(0, ValueError), (-1, ValueError), (1.5, ValueError), ("foo", ValueError),
                     ([2], TypeError)]:
        with pytest.raises(exc, match="expected"):
            quantize_model(net, weight_bits=bad)
        with pytest.raises(exc, match="expected"):
            quantize_model(net, first_last_bits=bad)
    assert type(net[0]) is nn.Conv2d and type(net[2]) is nn.Conv2d
    with pytest.raises(TypeError, match="nn.Module"):
        quantize_model(torch.randn(3))


# --- SpikingJelly wrappers (2.x or 0.0.0.0.14, whichever is importable) ---
sj_layer = pytest.importorskip("spikingjelly.activation_based.layer")


def _sj_net():
    torch.manual_seed(1)
    return nn.Sequential(
        sj_layer.Conv2d(2, 4, 3, padding=1, step_mode="m"),
        sj_layer.SeqToANNContainer(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()),
        nn.Flatten(2),
        sj_layer.Linear(4 * 5 * 5, 3, step_mode="m"),
    )


def _sj_reference(net, x):
    T, B = x.shape[:2]
    h = F.conv2d(x.flatten(0, 1), net[0].quantized_weight(), net[0].bias, padding=1)
    h = F.relu(F.conv2d(h, net[1][0].quantized_weight(), net[1][0].bias, padding=1))
    h = h.reshape(T, B, -1)
    return F.linear(h, net[3].quantized_weight(), net[3].bias)


def test_spikingjelly_wrappers_multi_and_single_step():
    net = _sj_net()
    w0 = net[0].weight
    before = [m.weight.detach().clone() for m in (net[0], net[1][0], net[3])]
    quantize_model(net, weight_bits=2, first_last_bits=8)
    convs = (net[0], net[1][0], net[3])
    assert isinstance(net[0], sj_layer.Conv2d) and isinstance(net[0], QuantConv2d)
    assert isinstance(net[3], sj_layer.Linear) and isinstance(net[3], QuantLinear)
    assert type(net[1][0]) is QuantConv2d
    assert net[0].step_mode == "m" and net[3].step_mode == "m"
    assert [m.weight_bits for m in convs] == [8, 2, 8]
    assert net[0].weight is w0
    assert all(torch.equal(m.weight, b) for m, b in zip(convs, before))
    assert "step_mode=m" in repr(net[0]) and "weight_bits=8" in repr(net[0])

    x = torch.randn(2, 3, 2, 5, 5)  # [T, B, C, H, W]
    assert torch.equal(net(x), _sj_reference(net, x))
    with pytest.raises(ValueError):  # SpikingJelly's own shape check still runs
        net[0](torch.randn(3, 2, 5, 5))

    net[0].step_mode = "s"
    xs = torch.randn(3, 2, 5, 5)
    assert torch.equal(net[0](xs), F.conv2d(xs, net[0].quantized_weight(), net[0].bias, padding=1))

    net[0].step_mode = "m"
    again = [m.weight_quantizer for m in convs]
    quantize_model(net)
    assert [m.weight_quantizer for m in convs] == again
    assert type(net[0]).__mro__.count(sj_layer.Conv2d) == 1


def test_spikingjelly_converted_model_copies_pickles_and_exports():
    net = quantize_model(_sj_net(), weight_bits="ternary", first_last_bits=4)
    x = torch.randn(2, 1, 2, 5, 5)
    y = net(x)
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert type(clone[0]) is type(net[0]) and clone[0].step_mode == "m"
        assert isinstance(clone[0].weight_quantizer, LSQQuantizer)
        assert torch.equal(clone(x), y)
    e = export_layer(net[0])
    assert torch.equal(dequantize(e), net[0].quantized_weight())
    sd = net.state_dict()
    fresh = quantize_model(_sj_net(), weight_bits="ternary", first_last_bits=4)
    fresh.load_state_dict(sd)
    assert torch.equal(fresh(x), y)


def test_from_float_on_spikingjelly_wrapper_keeps_step_mode():
    src = sj_layer.Conv2d(2, 3, 3, step_mode="m")
    q = QuantConv2d.from_float(src, weight_bits=1)
    assert isinstance(q, sj_layer.Conv2d) and q.step_mode == "m" and type(src) is sj_layer.Conv2d
    x = torch.randn(2, 2, 2, 4, 4)
    ref = F.conv2d(x.flatten(0, 1), q.quantized_weight(), q.bias).reshape(2, 2, 3, 2, 2)
    assert torch.equal(q(x), ref)
