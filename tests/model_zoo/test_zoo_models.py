"""Every registered zoo model: shapes, gradients, bit widths, neurons, input checks."""
import pytest
import torch
from torch import nn

import mfp_plugin
import model_zoo
from spikingjelly.activation_based import neuron as sj_neuron

# Per-model settings that keep each build + forward + backward small on CPU.
# VGG-11/13/16 keep their full conv stack; the 4096-wide ImageNet head is
# shrunk (hidden_features) because building 100M random head weights would
# dominate the suite; the default head is checked on the meta device below.
# ``size``: the image side, or (batch-first temporal models) the whole per-sample input shape.
SMALL = {
    "mf_resnet18": dict(size=16, T=2),
    "mf_resnet34": dict(size=16, T=1),
    "mf_resnet19": dict(size=16, T=2),
    "mf_resnet20": dict(size=32, T=2),
    "mf_vgg11_bn": dict(size=32, T=2, hidden_features=32),
    "mf_vgg13_bn": dict(size=32, T=1, hidden_features=32),
    "mf_vgg16_bn": dict(size=32, T=1, hidden_features=32),
    "mf_vgg_small": dict(size=28, T=2),
    "mf_vgg_mini": dict(size=28, T=2),
    "mf_seq_mlp": dict(size=(3, 28), T=3),            # [B, T, F] sequences
    "mf_seq_tcn": dict(size=(3, 28), T=3, hidden=(16, 16), dilations=(1, 2)),
    "mf_dvs_net": dict(size=(2, 2, 34, 34), T=2),     # [B, T, 2, H, W] event frames
}


def _build(name, **kw):
    opts = dict(SMALL.get(name, dict(size=32, T=2)))
    size = opts.pop("size")
    opts.update(kw)
    torch.manual_seed(0)
    return model_zoo.create_model(name, num_classes=5, **opts), size


def _quant_layers(model):
    return [(n, m) for n, m in model.named_modules() if hasattr(m, "quantized_weight")]


def _max_levels_per_channel(w: torch.Tensor) -> int:
    s, _ = w.detach().flatten(1).sort(dim=1)
    return int(((s[:, 1:] != s[:, :-1]).sum(1) + 1).max())


def test_every_registered_model_is_covered():
    assert set(model_zoo.list_models()) == set(SMALL), "add new models to SMALL"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_model_forward_backward_bits(name):
    model, size = _build(name)
    B = 2
    x = torch.randn(B, *(size if isinstance(size, tuple) else (model.in_channels, size, size)))
    out = model(x)
    assert out.shape == (B, 5)
    assert torch.isfinite(out).all()
    # cross-entropy: its gradient is non-zero even when all logits are 0
    nn.functional.cross_entropy(out, torch.arange(B) % 5).backward()
    first = model.get_first_layer()
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0, "no gradient at the first conv"

    layers = _quant_layers(model)
    assert layers, "model has no quantized layers"
    names = [n for n, _ in layers]
    assert names[0] == model.first_layer and model.classifier_name in names
    for n, m in layers:
        expected = 8 if n in (model.first_layer, model.classifier_name) else 2
        assert m.weight_bits == expected, (n, m.weight_bits)
        assert _max_levels_per_channel(m.quantized_weight()) <= 2 ** expected, n
    # neurons run multi-step
    for m in model.modules():
        if isinstance(m, mfp_plugin.MFNode):
            assert m.step_mode == "m"
    cfg = model.pretrained_cfg
    assert cfg["architecture"] == name and cfg["num_classes"] == 5 and cfg["T"] == model.T
    assert {"mean", "std", "input_size"} <= set(cfg)


@pytest.mark.parametrize("name", ["mf_resnet18", "mf_resnet34", "mf_vgg11_bn", "mf_vgg13_bn", "mf_vgg16_bn"])
def test_default_layout_matches_torchvision(name):
    # Full-size models on the meta device: parameter names and shapes equal
    # torchvision's (what makes ANN weights lift), at no memory cost.
    import torchvision

    tv_name = name[3:]
    with torch.device("meta"):
        ours = model_zoo.create_model(name)
        ref = getattr(torchvision.models, tv_name)()
    ref_sd = {k: v.shape for k, v in ref.state_dict().items()}
    ours_sd = {k: v.shape for k, v in ours.state_dict().items() if "weight_quantizer" not in k}
    assert ours_sd == ref_sd


@pytest.mark.parametrize("neuron,kwargs", [
    (mfp_plugin.MFNode, {}),
    (mfp_plugin.MFNode, {"kernel": "learnable"}),
    (mfp_plugin.MFNode, {"membrane_bits": 2}),
    (mfp_plugin.QLIFNode, {"membrane_bits": 2}),
    (sj_neuron.LIFNode, {"tau": 2.0}),
    ("LIFNode", {}),
])
def test_small_model_neuron_variants(neuron, kwargs):
    torch.manual_seed(0)
    m = model_zoo.create_model("mf_vgg_small", T=2, neuron=neuron, neuron_kwargs=kwargs, num_classes=3)
    x = torch.rand(2, 1, 28, 28)
    y1 = m(x)
    y1.sum().backward()
    assert y1.shape == (2, 3)
    assert m.features[0].weight.grad is not None
    # state is reset at the start of every forward: repeated calls agree
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x), m(x))
    cls = neuron if isinstance(neuron, type) else sj_neuron.LIFNode
    assert sum(isinstance(mod, cls) for mod in m.modules()) == 4


def test_direct_encoding_equals_repeated_frames():
    # Computing the first conv+BN once and repeating it == feeding T copies.
    torch.manual_seed(0)
    static = model_zoo.create_model("mf_vgg_small", T=3)
    frames = model_zoo.create_model("mf_vgg_small", T=3, input_type="frames")
    frames.load_state_dict(static.state_dict())
    x = torch.rand(2, 1, 28, 28)
    for mode in (True, False):
        static.train(mode), frames.train(mode)
        torch.testing.assert_close(static(x), frames(x.unsqueeze(0).repeat(3, 1, 1, 1, 1)))


def test_frames_input_and_forward_steps():
    m = model_zoo.create_model("mf_resnet20", input_type="frames", in_channels=2, num_classes=4, T=2)
    x = torch.rand(3, 2, 2, 16, 16)  # T taken from the input
    steps = m.forward_steps(x)
    assert steps.shape == (3, 2, 4)
    torch.testing.assert_close(m(x), steps.mean(0))


def test_input_validation_messages():
    m = model_zoo.create_model("mf_vgg_small", T=1)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\].*C=1"):
        m(torch.rand(2, 2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"C=1.*got C=3"):
        m(torch.rand(2, 3, 28, 28))
    with pytest.raises(TypeError, match="floating"):
        m(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    ev = model_zoo.create_model("mf_vgg_small", input_type="frames")
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\]"):
        ev(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="input_type"):
        model_zoo.create_model("mf_vgg_small", input_type="video")
    with pytest.raises(ValueError, match="weight_bits"):
        model_zoo.create_model("mf_vgg_small", weight_bits=0)


def test_float_and_ternary_bits():
    m = model_zoo.create_model("mf_vgg_small", T=1, weight_bits="ternary", first_last_bits=None)
    assert m.features[0].weight_quantizer is None
    assert torch.equal(m.features[0].quantized_weight(), m.features[0].weight)
    assert _max_levels_per_channel(m.features[3].quantized_weight()) <= 3
    m(torch.rand(1, 1, 28, 28)).sum().backward()


def test_resnet18_cifar_stem():
    m = model_zoo.create_model("mf_resnet18", stem="cifar", num_classes=10, T=1)
    assert m.conv1.kernel_size == (3, 3) and isinstance(m.maxpool, nn.Identity)
    assert m(torch.randn(1, 3, 16, 16)).shape == (1, 10)


def test_stateful_sj_neuron_is_reset_between_batches():
    # A stateful LIF would leak membrane state from batch 1 into batch 2 if
    # the model did not reset it; compare against a freshly reset run.
    m = model_zoo.create_model("mf_resnet20", T=2, neuron=sj_neuron.LIFNode, num_classes=3).eval()
    a, b = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = m(b)
        m(a)
        torch.testing.assert_close(m(b), ref)


def test_swap_neurons_on_zoo_model():
    # Neurons swapped after construction still get [T, B, ...] (temporal
    # modules are recognised by exclusion, not by a neuron whitelist).
    m = model_zoo.create_model("mf_resnet20", T=2, num_classes=3)
    mfp_plugin.swap_neurons(m, mfp_plugin.QLIFNode, old=mfp_plugin.MFNode, membrane_bits=2)
    assert any(isinstance(x, mfp_plugin.QLIFNode) for x in m.modules())
    assert not any(isinstance(x, mfp_plugin.MFNode) for x in m.modules())
    assert m(torch.randn(2, 3, 16, 16)).shape == (2, 3)


def test_seq_batchnorm_matches_merged_bn():
    from model_zoo.layers import SeqBatchNorm2d

    bn = SeqBatchNorm2d(3)
    ref = nn.BatchNorm2d(3)
    x = torch.randn(2, 4, 3, 5, 5)
    torch.testing.assert_close(bn(x), ref(x.flatten(0, 1)).unflatten(0, (2, 4)))


def test_vgg_adaptive_pool_runs_only_when_it_changes_the_map():
    # 28x28 -> 7x7 after two max-pools: pooling to 7x7 is the identity and is skipped;
    # 36x36 -> 9x9 is pooled to 7x7. The skip must not change the output.
    from model_zoo.layers import merge_time, repeat_time, split_time

    torch.manual_seed(0)
    m = model_zoo.create_model("mf_vgg_mini", T=2).eval()
    calls = []
    m.avgpool.register_forward_hook(lambda *a: calls.append(1))
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        out = m(x)
        feats = merge_time(m.features.run(repeat_time(m._stem(x), 2), start=2))
        pooled = nn.functional.adaptive_avg_pool2d(feats, 7).flatten(1)
        ref = m.classifier(split_time(pooled, 2)).mean(0)
    assert calls == []
    torch.testing.assert_close(out, ref)
    with torch.no_grad():
        m(torch.rand(3, 1, 36, 36))
    assert calls == [1]
