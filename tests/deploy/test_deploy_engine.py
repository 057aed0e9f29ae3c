"""The integer engine against the float model and a plain loop of the equations."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mfp_plugin as mfp
from _deploy_models import TimeSeq, exact_frames, exact_model, random_model
from _reference import mf_reference
from mfp_plugin import deploy
from mfp_plugin.deploy import agreement, float_forward


def _float_spikes(model, x):
    logits, spikes = float_forward(model, x)
    return logits, list(spikes.values())


def test_exact_model_bit_exact_against_the_float_model_both_schedules():
    model, x = exact_model(), exact_frames()
    net = deploy.compile(model, T=4, input_shape=(2, 8, 8))
    logits_f, spikes_f = _float_spikes(model, x)
    for schedule in deploy.SCHEDULES:
        res = net.run(x, schedule, trace=True)
        outs = [res.outputs[op.name] for op in net.spiking_layers]
        assert len(outs) == len(spikes_f) == 3
        for a, b in zip(outs, spikes_f):
            assert torch.equal(a.float(), b), schedule
        # per-tensor readout scale, dyadic bias: the integer logits are the float logits exactly
        assert torch.equal(res.logits, logits_f.double()), schedule
    # the exact case is not trivial: every layer has spikes and silences, channel 2 of layer 1 always fires
    for s in spikes_f:
        assert 0 < s.mean() < 1
    assert bool(spikes_f[0][:, :, 2].eq(1).all()) and bool(spikes_f[2][..., 5].eq(0).all())


def test_first_layer_matches_a_plain_loop_of_the_equations():
    model, x = exact_model(), exact_frames()
    conv, bn, node = model[0], model[1], model[2]
    # currents by hand in float64: conv with codes * scale, BN as (y - mean) / sqrt(var) * gamma + beta
    w = conv.quantized_weight().double()
    y = F.conv2d(x.flatten(0, 1).double(), w, conv.bias.double(), padding=1)
    sh = (1, -1, 1, 1)
    cur = (y - bn.running_mean.double().view(sh)) / bn.running_var.double().sqrt().view(sh) \
        * bn.weight.double().view(sh) + bn.bias.double().view(sh)
    s_ref, _, _ = mf_reference(cur.unflatten(0, (4, -1)), 0.5, theta=1.0, bits=2)
    net = deploy.compile(model, T=4, input_shape=(2, 8, 8))
    out = net.run(x, "stream", trace=True).outputs[net.spiking_layers[0].name]
    assert torch.equal(out.double(), s_ref.detach())


def test_static_input_first_layer_is_exact():
    model = exact_model()
    x = exact_frames(T=1, B=4)[0]
    net = deploy.compile(model, T=4, input_type="static", input_shape=(2, 8, 8))
    assert net.spiking_layers[0].static and net.spiking_layers[0].frac_bits == 0
    logits_f, spikes_f = _float_spikes(model, torch.stack([x] * 4))
    for schedule in deploy.SCHEDULES:
        res = net.run(x, schedule, trace=True)
        for op, b in zip(net.spiking_layers, spikes_f):
            assert torch.equal(res.outputs[op.name].float(), b)
        assert torch.equal(res.logits, logits_f.double())


def test_schedules_and_mac_kernels_agree_on_a_float_valued_model():
    model = random_model()
    x = torch.randn(4, 6, 2, 8, 8)
    fast = deploy.compile(model, T=4, input_shape=(2, 8, 8))
    ref = deploy.compile(model, T=4, input_shape=(2, 8, 8), mac="int")
    assert ref.spiking_layers[0].mac.kernel_dtype == torch.int64
    a = fast.run(x, "layer", trace=True)
    b = fast.run(x, "stream", trace=True)
    c = ref.run(x, "layer", trace=True)
    assert a.outputs.keys() == b.outputs.keys() == c.outputs.keys()
    for k in a.outputs:
        assert torch.equal(a.outputs[k], b.outputs[k]) and torch.equal(a.outputs[k], c.outputs[k]), k
    assert torch.equal(a.logits_int, b.logits_int) and torch.equal(a.logits_int, c.logits_int)


def test_negative_gamma_agrees_with_the_float_model():
    model = random_model(seed=3, neg_gamma=True)
    assert (model[1].weight < 0).any()
    gen = torch.Generator().manual_seed(5)
    net = deploy.compile(model, T=4, input_shape=(2, 8, 8))
    x = torch.randn(4, 20, 2, 8, 8, generator=gen)
    _, spikes = _float_spikes(model, x)
    res = net.run(x, "layer", trace=True)
    for op, b in zip(net.spiking_layers, spikes):
        # float rounding of the float model may flip a spike whose potential is within ~1e-7 of theta'
        assert (res.outputs[op.name].float() == b).float().mean() >= 0.9995
        assert 0.01 < b.mean() < 0.99


def test_layer_agreement_is_reported_per_layer():
    model = exact_model()

    class Frames(torch.utils.data.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return exact_frames(T=4, B=6)[:, i], i % 3

    net = deploy.compile(model, T=4, input_shape=(2, 8, 8))
    # a Dataset of [T, ...] frame samples is batched time-major, [T, B, ...]
    r = agreement(model, net, Frames(), batch_size=4)
    assert r["n"] == 6 and r["spike_agreement"] == 1.0 and r["argmax_agreement"] == 1.0
    assert [l["spike_agreement_local"] for l in r["layers"]] == [1.0, 1.0, 1.0]


def test_spikingjelly_model_after_swap_and_quantize():
    sj = pytest.importorskip("spikingjelly.activation_based")
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(0)
    net = nn.Sequential(
        # decay_input=False: threshold 1 after the swap (True would carry as tau * 1, see swap_neurons)
        layer.Conv2d(1, 6, 3, padding=1, bias=False), layer.BatchNorm2d(6), neuron.LIFNode(decay_input=False),
        layer.MaxPool2d(2), layer.Flatten(), layer.Linear(6 * 4 * 4, 12), neuron.LIFNode(decay_input=False),
        layer.Dropout(0.5), layer.Linear(12, 4))
    functional.set_step_mode(net, "m")
    mfp.swap_neurons(net, mfp.MFNode, membrane_bits=2)
    mfp.quantize_model(net, weight_bits=2, first_last_bits=8)
    functional.set_step_mode(net, "m")
    with torch.no_grad():
        net[1].running_var.uniform_(0.3, 1.0)
        net[1].bias.uniform_(0.2, 1.0)
        net(torch.rand(4, 2, 1, 8, 8))
    net.eval()
    eng = deploy.compile(net, T=4, input_shape=(1, 8, 8))
    assert [op.kind for op in eng.ops] == ["spiking", "maxpool", "flatten", "spiking", "readout"]
    x = torch.rand(4, 16, 1, 8, 8)
    r = agreement(net, eng, [(x, torch.zeros(16, dtype=torch.long))])
    # the only rounding is the fixed-point input (2^-17): nothing flips on these images
    assert [l["spike_agreement_local"] for l in r["layers"]] == [1.0, 1.0]
    assert r["spike_agreement"] == 1.0 and r["argmax_agreement"] == 1.0
    assert 0.05 < r["layers"][1]["firing_rate_float"] < 0.95
    a, b = eng.run(x, "layer", trace=True), eng.run(x, "stream", trace=True)
    assert torch.equal(a.logits_int, b.logits_int)


# ---------------------------------------------------------------------------- errors
def _chain(*mods):
    return TimeSeq(*mods).eval()


@pytest.mark.parametrize("mods, layer, words", [
    (lambda: [nn.Conv2d(2, 4, 3), mfp.MFNode(), nn.Flatten(), mfp.QuantLinear(4 * 36, 2)], "'0'", "float weights"),
    (lambda: [mfp.QuantConv2d(2, 4, 3), mfp.QLIFNode(), nn.Flatten(), mfp.QuantLinear(4 * 36, 2)], "'1'", "QLIFNode"),
    (lambda: [mfp.QuantConv2d(2, 4, 3), mfp.MFNode(kernel="learnable", T=4), nn.Flatten(),
              mfp.QuantLinear(4 * 36, 2)], "'1'", "learnable"),
    (lambda: [mfp.QuantConv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), mfp.QuantLinear(4 * 36, 2)], "'1'", "unknown module"),
    (lambda: [mfp.QuantConv2d(2, 4, 3), nn.MaxPool2d(2), mfp.MFNode(), nn.Flatten(), mfp.QuantLinear(36, 2)],
     "'1'", "current"),
    (lambda: [mfp.QuantConv2d(2, 4, 3), mfp.QuantConv2d(4, 4, 1), mfp.MFNode(), nn.Flatten(),
              mfp.QuantLinear(4 * 36, 2)], "'1'", "second weight layer"),
    (lambda: [mfp.QuantConv2d(2, 4, 3), mfp.MFNode()], "", "readout"),
    (lambda: [mfp.QuantConv2d(2, 4, 3), mfp.MFNode(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
              mfp.QuantLinear(64, 2)], "'2'", "unequal windows"),
])
def test_unsupported_layers_are_named(mods, layer, words):
    model = _chain(*mods())
    with pytest.raises(deploy.UnsupportedLayerError) as e:
        deploy.compile(model, T=4, input_shape=(2, 8, 8))
    assert words in str(e.value) and (not layer or f"layer {layer}" in str(e.value))
    assert isinstance(e.value, TypeError)


def test_a_model_with_a_custom_forward_is_refused():
    class Branchy(nn.Module):  # neither a chain nor a zoo layout
        def __init__(self):
            super().__init__()
            self.a, self.b = mfp.QuantLinear(4, 2), mfp.QuantLinear(4, 2)

        def forward(self, x):
            return self.a(x) + self.b(x)

    with pytest.raises(deploy.UnsupportedLayerError, match="chains"):
        deploy.compile(Branchy(), T=2, input_shape=(4,))


def test_bad_inputs():
    net = deploy.compile(exact_model(), T=4, input_shape=(2, 8, 8))
    with pytest.raises(ValueError, match=r"\[T=4, B, 2, 8, 8\]"):
        net(torch.zeros(4, 2, 3, 8, 8))
    with pytest.raises(ValueError, match="T=4"):
        net(torch.zeros(3, 2, 2, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        net(torch.zeros(4, 2, 2, 8, 8, dtype=torch.int32))
    with pytest.raises(ValueError, match="schedule"):
        net.run(torch.zeros(4, 2, 2, 8, 8), "async")
    with pytest.raises(ValueError, match="input_shape"):
        deploy.compile(exact_model(), T=4)
    with pytest.raises(ValueError, match="T must be"):
        deploy.compile(exact_model(), T=0, input_shape=(2, 8, 8))
    with pytest.raises(ValueError, match="expects \\[2, H, W\\]"):
        deploy.compile(exact_model(), T=4, input_shape=(3, 8, 8))
    with pytest.raises(ValueError, match="input_frac_bits"):
        deploy.compile(exact_model(), T=4, input_shape=(2, 8, 8), input_frac_bits=-1)
    with pytest.raises(ValueError, match="mac"):
        deploy.compile(exact_model(), T=4, input_shape=(2, 8, 8), mac="fast")


@pytest.mark.parametrize("kw, exact", [(dict(tau=4.0), True), (dict(tau=3.0, learnable_decay=True), False)])
def test_other_decays(kw, exact):
    """beta = 3/4 is (3 * acc) >> 2, exact; a learned beta is rounded to 16 bits and marked inexact."""
    torch.manual_seed(0)
    model = TimeSeq(mfp.QuantLinear(12, 16, weight_bits=4), nn.BatchNorm1d(16), mfp.MFNode(membrane_bits=2, **kw),
                    mfp.QuantLinear(16, 16, weight_bits=2), mfp.MFNode(**kw), mfp.QuantLinear(16, 3, weight_bits=8))
    with torch.no_grad():
        model[1].bias.uniform_(0.3, 1.0)
        model(torch.randn(6, 2, 12))
    model.eval()
    net = deploy.compile(model, T=6, input_shape=(12,))
    op = net.spiking_layers[1]
    assert op.info["decay_exact"] is exact and (op.m, op.q) == ((3, 2) if exact else (op.m, 16))
    x = torch.randn(6, 64, 12)
    r = agreement(model, net, [(x, torch.zeros(64, dtype=torch.long))])
    assert min(l["spike_agreement_local"] for l in r["layers"]) >= (0.999 if exact else 0.99)
    assert torch.equal(net.run(x, "layer").logits_int, net.run(x, "stream").logits_int)
