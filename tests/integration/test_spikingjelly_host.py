"""Our nodes inside SpikingJelly, whichever generation is importable.

CI runs this file twice: with SpikingJelly 2.x and with 0.0.0.0.14 first on PYTHONPATH.
"""
import pytest
import torch
import torch.nn as nn
from spikingjelly.activation_based import functional, layer, neuron, surrogate

import mfp_plugin as mfp
from mfp_plugin._compat import spikingjelly_generation

LEGACY = spikingjelly_generation() == "legacy"


def test_generation_detected():
    from importlib.metadata import version

    assert spikingjelly_generation() in ("legacy", "2")
    assert LEGACY == version("spikingjelly").startswith("0.0.0.0")


@pytest.mark.parametrize("node_cls", [mfp.MFNode, mfp.QLIFNode])
def test_reset_net_and_set_step_mode(node_cls):
    net = nn.Sequential(layer.Linear(6, 5), node_cls(step_mode="s"))
    functional.set_step_mode(net, "m")
    assert net[1].step_mode == "m"
    x = torch.rand(4, 2, 6)
    y1 = net(x)
    functional.reset_net(net)
    y2 = net(x)
    assert torch.equal(y1, y2)
    assert y1.shape == (4, 2, 5)
    functional.set_step_mode(net, "s")
    functional.reset_net(net)
    ys = torch.stack([net(x[t]) for t in range(4)])
    assert torch.equal(ys, y1)


@pytest.mark.skipif(not LEGACY, reason="set_backend exists in SpikingJelly 0.0.0.0.14 only")
def test_legacy_set_backend():
    net = nn.Sequential(layer.Linear(3, 3), mfp.MFNode(), mfp.QLIFNode())
    functional.set_backend(net, "torch")
    assert net[1].backend == "torch"
    if not torch.cuda.is_available():
        with pytest.raises(ImportError, match="cupy|CUDA"):
            functional.set_backend(net, "cupy", instance=mfp.MFNode)
    # QLIFNode lists no cupy backend: SpikingJelly warns and keeps torch
    functional.set_backend(net, "cupy", instance=mfp.QLIFNode)
    assert net[2].backend == "torch"


@pytest.mark.skipif(LEGACY, reason="the functional forward API is SpikingJelly 2.x's")
def test_sj2_functional_forward():
    node = mfp.QLIFNode(step_mode="s", membrane_bits=3)
    x = torch.rand(5, 2, 3)
    (s_m,), (v,) = node.multi_step_functional_forward((x,), (None,))
    assert node.v is None  # pure: module state untouched
    states = (None,)
    outs = []
    for t in range(5):
        (s,), states = node.single_step_functional_forward((x[t],), states)
        outs.append(s)
    assert torch.equal(torch.stack(outs), s_m)
    torch.testing.assert_close(states[0], v)
    mf = mfp.MFNode(step_mode="m")
    (s_mf,), st = mf.functional_forward((x,), tuple(mf._memories.values()))
    assert torch.equal(s_mf, mf(x)) and st == (None, None)


def _spiking_models():
    from spikingjelly.activation_based.model import spiking_resnet, spiking_vgg

    return spiking_resnet, spiking_vgg


@pytest.mark.parametrize("node_cls,kwargs", [(mfp.MFNode, {"membrane_bits": 2}), (mfp.QLIFNode, {"membrane_bits": 2})])
def test_spikingjelly_builders_accept_our_neurons(node_cls, kwargs):
    spiking_resnet, spiking_vgg = _spiking_models()
    torch.manual_seed(0)
    for net in (
        spiking_resnet.spiking_resnet18(spiking_neuron=node_cls, num_classes=10, **kwargs),
        spiking_vgg.spiking_vgg11_bn(spiking_neuron=node_cls, num_classes=10, **kwargs),
    ):
        assert sum(isinstance(m, node_cls) for m in net.modules()) > 5
        functional.set_step_mode(net, "m")
        x = torch.rand(2, 1, 3, 32, 32)
        y = net(x)
        assert y.shape == (2, 1, 10)
        y.sum().backward()
        assert net.conv1.weight.grad is not None if hasattr(net, "conv1") else True
        functional.reset_net(net)


def test_swap_neurons_carries_parameters_and_invalidates_reset_cache():
    net = nn.Sequential(
        layer.Linear(4, 4, step_mode="m"),
        neuron.LIFNode(tau=3.0, v_threshold=0.8, step_mode="m", surrogate_function=surrogate.Sigmoid(alpha=3.0)),
        nn.Sequential(layer.Linear(4, 4, step_mode="m"), neuron.ParametricLIFNode(init_tau=4.0, step_mode="m")),
        layer.Linear(4, 2, step_mode="m"),
        neuron.IFNode(v_threshold=1.5, step_mode="m"),
    )
    x = torch.rand(3, 2, 4)
    net(x)
    functional.reset_net(net)  # SpikingJelly 2.x caches this net's module list here
    mfp.swap_neurons(net, mfp.QLIFNode, membrane_bits=3)
    assert isinstance(net[1], mfp.QLIFNode) and isinstance(net[2][1], mfp.QLIFNode) and isinstance(net[4], mfp.QLIFNode)
    # decay_input=True (LIFNode's default) is carried as the threshold times tau (see the next test)
    assert net[1].tau == 3.0 and net[1].v_threshold == pytest.approx(0.8 * 3.0) and net[1].membrane_bits == 3
    assert net[1].surrogate_function.alpha == 3.0
    assert net[2][1].tau == pytest.approx(4.0)
    assert net[4].v_threshold == 1.5 and net[4].tau == 2.0  # IF has no tau: the default stays
    net(x)
    assert net[1].v is not None
    functional.reset_net(net)  # must reach the new neurons, not a stale cached list
    assert net[1].v is None and net[2][1].v is None


@pytest.mark.parametrize("decay_input", [True, False])
def test_swapped_mf_fires_as_the_lif_it_replaced_until_that_lif_resets(decay_input):
    """Before a LIF neuron's first spike nothing has reset it, so it is the MF neuron: the swap must
    keep its charge, including SpikingJelly's decay_input=True (X / tau), so that the first spikes agree."""
    torch.manual_seed(0)
    x = torch.rand(12, 64, 8) * (1.5 if decay_input else 0.6)  # [T, B, N]; first spikes spread over the steps
    lif = neuron.LIFNode(tau=2.5, v_threshold=0.7, decay_input=decay_input, step_mode="m")
    net = nn.Sequential(lif)
    with torch.no_grad():
        s_lif = net(x)
    mfp.swap_neurons(net, mfp.MFNode)
    assert net[0].v_threshold == pytest.approx(0.7 * (2.5 if decay_input else 1.0))
    with torch.no_grad():
        s_mf = net(x)
    fired = s_lif.cumsum(0) > 0
    before = torch.cat([torch.ones_like(fired[:1]), ~fired[:-1]])   # up to and including the first spike
    assert 0.2 < fired[-1].float().mean() < 1.0                      # some neurons fire, some never do
    assert torch.equal(s_lif[before], s_mf[before])


def test_swap_neurons_errors_and_explicit_old():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    mfp.swap_neurons(net, mfp.MFNode, old=nn.ReLU, step_mode="s")
    assert isinstance(net[1], mfp.MFNode) and net[1].step_mode == "s"
    with pytest.raises(TypeError, match="nn.Module"):
        mfp.swap_neurons("net")
    with pytest.raises(TypeError, match="does not take"):
        mfp.swap_neurons(nn.Sequential(neuron.LIFNode()), mfp.MFNode, not_an_arg=1)
