"""The zoo's batch-first temporal models (``mf_seq_mlp``, ``mf_seq_tcn``: ``[B, T, F]``; ``mf_dvs_net``:
``[B, T, C, H, W]``).

Random weights; BatchNorm statistics set by train-mode passes on the same kind
of input (so every layer fires at 12-24 %, as a trained net does, instead of
the near-silence of default BN statistics). Measured with T = 6, 64 inputs,
seeds 0-2: argmax agreement 100 %, every layer's free-running spike agreement
>= 99.999 % (``deploy.agreement``); the bars below leave room for float32
rounding in the float model's BN on other platforms.
"""
import pytest
import torch
from torch import nn

import model_zoo
from mfp_plugin import deploy
from mfp_plugin.deploy.agreement import float_forward

T = 6
SHAPES = {"mf_seq_mlp": (28,), "mf_seq_tcn": (28,), "mf_dvs_net": (2, 34, 34)}


def _inputs(name, n, g):
    shp = (n, T, *SHAPES[name])
    if name.startswith("mf_seq"):
        return torch.randn(shp, generator=g)                     # normalised pixel rows
    return (torch.rand(shp, generator=g) < 0.2).float()          # event counts (0/1)


def _model(name, seed=0):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 100)
    m = model_zoo.create_model(name, T=T)
    for b in m.modules():
        if isinstance(b, nn.modules.batchnorm._BatchNorm):
            b.reset_running_stats()
            b.momentum = None                                    # cumulative average
    m.train()
    with torch.no_grad():
        for _ in range(2):
            m(_inputs(name, 32, g))
    return m.eval(), g


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_temporal_zoo_model_compiles_and_agrees_with_the_float_model(name):
    model, g = _model(name)
    net = deploy.compile(model)
    assert net.input_type == model.input_type and net.batch_first and net.T == T
    assert net.input_shape == SHAPES[name]
    x = _inputs(name, 16, g)                                     # B = 16 != T: a wrong transpose fails
    a, b = net.run(x, "layer", trace=True), net.run(x, "stream", trace=True)
    assert torch.equal(a.logits_int, b.logits_int)
    assert a.outputs.keys() == b.outputs.keys()
    assert all(torch.equal(a.outputs[k], b.outputs[k]) for k in a.outputs)
    logits_f, spikes = float_forward(model, x)                   # the float model takes x as it is
    assert logits_f.shape == (16, 10)
    for op in net.spiking_layers:                                # engine outputs are time-first [T, B, ...]
        ref = spikes[op.info["neuron"]]
        assert a.outputs[op.name].shape == ref.shape == (T, 16, *op.out_shape)
    ag = deploy.agreement(model, net, [(x, torch.zeros(16, dtype=torch.long))])
    assert ag["argmax_agreement"] >= 0.95
    for layer in ag["layers"]:
        assert layer["spike_agreement"] >= 0.999, layer
        assert 0.05 < layer["firing_rate_float"] < 0.5, layer    # the check is not vacuous
    # the integer logits approximate the float logits (same units)
    assert torch.allclose(a.logits.float(), logits_f, atol=0.05 * float(logits_f.abs().max()) + 1e-3)


def test_temporal_report_batches_a_dataset_batch_first():
    model, g = _model("mf_seq_mlp", seed=1)
    x = _inputs("mf_seq_mlp", 12, g)
    data = torch.utils.data.TensorDataset(x, torch.arange(12) % 10)  # samples [T, F], as mfp_plugin.data yields
    rep = deploy.report(model, data, batch_size=5)
    assert rep["n_images"] == 12 and rep["input_type"] == "sequence" and rep["schedules_agree"] is True
    assert rep["argmax_agreement"] >= 0.95 and rep["spike_agreement"] >= 0.999
    assert rep["synops_per_image"] > 0


def test_temporal_bad_inputs_and_mismatched_input_types():
    model, _ = _model("mf_seq_mlp")
    net = deploy.compile(model)
    with pytest.raises(ValueError, match=r"\[B, T=6, 28\]"):
        net.run(torch.rand(T + 1, 4, 28))                          # time-first / wrong T
    with pytest.raises(ValueError, match="batch-first"):
        deploy.compile(nn.Sequential(model.features, model.classifier), T=T, input_type="sequence",
                       input_shape=(28,))
    dvs = model_zoo.create_model("mf_dvs_net", T=T, input_type="frames").eval()
    with pytest.raises(ValueError, match="batch-first"):
        deploy.compile(dvs, input_type="events")
    net = deploy.compile(dvs)                                      # the same net with time-first input
    assert net.input_type == "frames" and not net.batch_first
    with pytest.raises(ValueError, match="input_type must be one of"):
        deploy.compile(model, input_type="video")


def test_tcn_window_is_a_shift_register_in_the_stream_schedule():
    """mf_seq_tcn's causal windows compile to DelayWindow ops: identical integers in both schedules
    (the test above), a shift register of (k-1)d past inputs counted as stream state, no NIR form."""
    model, _ = _model("mf_seq_tcn")
    net = deploy.compile(model)
    windows = [op for op in net.ops if isinstance(op, deploy.ops.DelayWindow)]
    assert [(op.kernel_size, op.dilation, op.history) for op in windows] == [(3, 1, 2), (3, 2, 4), (3, 4, 8),
                                                                            (3, 8, 16)]
    assert windows[0].in_shape == (28,) and windows[0].out_shape == (84,) and windows[1].out_shape == (768,)
    mem = deploy.memory_report(net)
    acc = sum(op.out_shape[0] * op.info["acc_bits"] for op in net.spiking_layers)
    delay = 2 * 28 * net.input_bits + (4 + 8 + 16) * 256 * 1   # the input at its fixed point, then spikes
    assert mem["state_bits"]["stream"]["mf"] == acc + delay
    assert mem["state_bits"]["stream"]["qlif"] == 4 * 256 * 2 + delay
    with pytest.raises(deploy.UnsupportedLayerError, match="CausalWindow"):
        deploy.to_nir(net)


def test_a_window_after_a_weight_layer_is_refused():
    from mfp_plugin import CausalWindow, MFNode, QuantLinear
    seq = nn.Sequential(QuantLinear(4, 8, weight_bits=2), CausalWindow(2), MFNode(), QuantLinear(16, 3, weight_bits=8))
    with pytest.raises(deploy.UnsupportedLayerError, match="CausalWindow after the weight layer"):
        deploy.compile(seq.eval(), T=4, input_type="frames", input_shape=(4,))


@pytest.mark.parametrize("name", ["mf_seq_mlp", "mf_dvs_net"])
def test_last_step_readout_compiles_and_agrees(name):
    """readout='last': the float model's logits are the last step's; the engine's readout takes only the
    last step's MAC (both schedules), and its integer logits track the float ones."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(7)
    mean_model, _ = _model(name)
    model = model_zoo.create_model(name, T=T, readout="last")
    model.load_state_dict(mean_model.state_dict())
    model.eval()
    x = _inputs(name, 16, g)
    with torch.no_grad():
        assert torch.equal(model(x), model.forward_steps(x)[-1])
        assert not torch.allclose(model(x), mean_model(x))
    net = deploy.compile(model)
    assert net.readout.last and not deploy.compile(mean_model).readout.last
    a, b = net.run(x, "layer"), net.run(x, "stream")
    assert torch.equal(a.logits_int, b.logits_int)
    logits_f, _ = float_forward(model, x)
    assert torch.allclose(a.logits.float(), logits_f, atol=0.05 * float(logits_f.abs().max()) + 1e-3)
    ag = deploy.agreement(model, net, [(x, torch.zeros(16, dtype=torch.long))])
    assert ag["argmax_agreement"] >= 0.95


def test_bad_readout_is_refused():
    with pytest.raises(ValueError, match="readout must be 'mean'"):
        model_zoo.create_model("mf_seq_mlp", readout="max")
