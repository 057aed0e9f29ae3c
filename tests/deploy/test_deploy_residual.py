"""Residual blocks (``model_zoo`` ``mf_resnet*``): ``sn2(bn2(conv2(s)) + shortcut(x))`` on integers.

The shortcut (identity spikes, or a 1x1 downsample conv + BN) is expressed in
the main branch's unit with a ``2^-k`` ratio (``compile(residual_bits=k)``,
default 16; :func:`mfp_plugin.deploy.fold.residual_ratio`). Random weights, BN
statistics from train-mode passes (layers fire at 25-36 %), one block's bn2
with a negative and a zero gamma and a downsample BN with a negative gamma.
Measured (``mf_resnet20``, T = 4, 32 random normal images, seeds 0-2,
``deploy.agreement`` + ``_local``): every block's local spike agreement (fed
the float model's spikes) is >= 99.9998 % at k = 16 and 24 (the first layer's
input rounding is the rest) and falls to 99.988-99.995 % at k = 8; free-running,
the lowest layer (the last block) has 97.3-98.5 %, the same at k = 16 and 24,
so that is the first layer's input rounding cascading through 9 random
blocks, not the ratio (k = 8: 82-93 %); argmax agreement 96.9-100 %
(local 100 %).
"""
import pytest
import torch
from torch import nn

import model_zoo
from mfp_plugin import deploy
from mfp_plugin.deploy.agreement import float_forward
from mfp_plugin.deploy.errors import UnsupportedLayerError

T = 4


def _resnet20(seed=0):
    torch.manual_seed(seed)
    m = model_zoo.create_model("mf_resnet20", T=T, num_classes=10)
    for b in m.modules():
        if isinstance(b, nn.modules.batchnorm._BatchNorm):
            b.reset_running_stats()
            b.momentum = None
    m.train()
    with torch.no_grad():
        for _ in range(2):
            m(torch.randn(16, 3, 32, 32))
        m.layer1[1].bn2.weight[0] *= -1          # negative gamma: the comparison flips
        m.layer1[1].bn2.weight[1] = 0.0          # zero gamma: the shortcut alone drives the neuron
        m.layer2[0].downsample[1].weight[:4] *= -1
    return m.eval()


@pytest.fixture(scope="module")
def model_and_input():
    return _resnet20(), torch.randn(24, 3, 32, 32, generator=torch.Generator().manual_seed(5))


def test_resnet20_compiles_and_schedules_agree(model_and_input):
    model, x = model_and_input
    net = deploy.compile(model)
    blocks = net.residual_blocks
    assert [op.name for op in blocks] == [f"layer{i}.{j}" for i in (1, 2, 3) for j in range(3)]
    assert [op.shortcut is not None for op in blocks] == [False] * 3 + [True, False, False] * 2
    a, b = net.run(x[:8], "layer", trace=True), net.run(x[:8], "stream", trace=True)
    assert torch.equal(a.logits_int, b.logits_int)
    assert a.outputs.keys() == b.outputs.keys() and all(torch.equal(a.outputs[k], b.outputs[k]) for k in a.outputs)


def _local(net, model, x):
    """Per block: fraction of equal output spikes when fed the float model's input spikes."""
    _, sp = float_forward(model, x)
    prev, out = sp["sn1"], {}
    for op in net.residual_blocks:
        ref = sp[op.info["neuron"]]
        out[op.name] = float((op.layer(prev.to(torch.uint8)) == ref).double().mean())
        prev = ref
    return out


def test_resnet20_agrees_with_the_float_model(model_and_input):
    model, x = model_and_input
    net = deploy.compile(model)
    ag = deploy.agreement(model, net, [(x, torch.zeros(len(x), dtype=torch.long))])
    assert ag["argmax_agreement"] >= 0.9 and ag["argmax_agreement_local"] >= 0.95   # measured >= 96.9 / 100 %
    names = [l["name"] for l in ag["layers"]]
    assert names[0] == "conv1" and names[1:] == [op.name for op in net.residual_blocks]
    for l in ag["layers"]:
        assert l["spike_agreement"] >= 0.96, l                 # measured >= 97.3 %
        assert l["spike_agreement_local"] >= 0.9999, l         # measured >= 99.9998 %
        assert 0.1 < l["firing_rate_float"] < 0.6, l           # not vacuous
    local = _local(net, model, x)
    assert min(local.values()) >= 0.9999, local


def test_the_ratio_bits_are_what_limits_a_block(model_and_input):
    model, x = model_and_input
    coarse = _local(deploy.compile(model, residual_bits=2), model, x[:8])
    fine = _local(deploy.compile(model, residual_bits=16), model, x[:8])
    assert min(fine.values()) >= 0.9999
    assert min(coarse.values()) < 0.999 and sum(coarse.values()) < sum(fine.values())


def test_residual_features_not_yet_supported_say_so(model_and_input):
    model, x = model_and_input
    net = deploy.compile(model)
    data = torch.utils.data.TensorDataset(x[:4], torch.zeros(4, dtype=torch.long))
    with pytest.raises(UnsupportedLayerError, match="residual blocks"):
        deploy.report(model, data, net=net)
    with pytest.raises(UnsupportedLayerError, match="to_nir"):
        deploy.to_nir(net)


def test_a_block_after_a_static_image_or_a_non_mf_neuron_is_refused():
    import mfp_plugin as mfp

    m = _resnet20()
    m.layer1[0].sn2 = mfp.QLIFNode()
    with pytest.raises(deploy.UnsupportedLayerError, match="layer1.0.sn2"):
        deploy.compile(m)
