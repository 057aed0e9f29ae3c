"""The temporal zoo models: mf_seq_mlp ([B, T, F] sequences) and mf_dvs_net ([B, T, C, H, W] event frames)."""
import pytest
import torch
from torch import nn

import mfp_plugin
import model_zoo
from mfp_plugin.engine import model_overrides
from spikingjelly.activation_based import neuron as sj_neuron


def _seq(**kw):
    torch.manual_seed(0)
    return model_zoo.create_model("mf_seq_mlp", **{"T": 5, "hidden": (16, 12), **kw})


def _dvs(**kw):
    torch.manual_seed(0)
    return model_zoo.create_model("mf_dvs_net", **{"T": 3, "channels": (4, 8, 8), "hidden_features": 16, **kw})


def _calibrated(m, x):
    """``m`` in eval mode with BN statistics of ``x`` and a BN gain of 3 (fresh statistics, or slow
    neurons such as LIF at tau = 4 over a few steps, would leave the tiny test nets silent)."""
    bns = [bn for bn in m.modules() if isinstance(bn, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative: one batch sets the statistics
    with torch.no_grad():
        m.train()(x)
        for bn in bns:
            bn.weight.fill_(3.0)
    return m.eval()


def test_defaults_match_the_temporal_datasets():
    from mfp_plugin.data import DATASETS

    seq, dvs = model_zoo.create_model("mf_seq_mlp"), model_zoo.create_model("mf_dvs_net")
    for m, data in ((seq, "fmnist-seq"), (dvs, "fmnist-dvs")):
        cfg, info = m.pretrained_cfg, DATASETS[data]
        assert cfg["dataset"] == data and m.T == cfg["T"] == info["T"] and m.num_classes == info["num_classes"]
        assert tuple(cfg["input_size"]) == info["input_size"]
    assert (seq.input_type, dvs.input_type) == ("sequence", "events")
    assert [m.out_features for m in seq.modules() if isinstance(m, nn.Linear)] == [256, 256, 10]
    assert [m.out_channels for m in dvs.modules() if isinstance(m, nn.Conv2d)] == [16, 32, 32]
    # the sequence model's pixels are normalised as Fashion-MNIST's, whatever its feature count
    assert seq.pretrained_cfg["mean"] == (0.2860,) and seq.pretrained_cfg["std"] == (0.3530,)


def test_batch_first_events_equal_time_first_frames():
    events = _dvs()
    frames = _dvs(input_type="frames")
    frames.load_state_dict(events.state_dict())
    x = torch.rand(2, 3, 2, 34, 34)  # [B, T, C, H, W]
    for mode in (True, False):
        events.train(mode), frames.train(mode)
        torch.testing.assert_close(events.forward_steps(x), frames.forward_steps(x.transpose(0, 1).contiguous()))


def test_static_input_is_direct_encoded_over_T():
    static = _dvs(input_type="static").eval()
    events = _dvs().eval()
    events.load_state_dict(static.state_dict())
    img = torch.rand(2, 2, 34, 34)
    with torch.no_grad():
        torch.testing.assert_close(static(img), events(img.unsqueeze(1).repeat(1, 3, 1, 1, 1)))


@pytest.mark.parametrize("build,shape", [(_seq, (3, 5, 28)), (_dvs, (3, 3, 2, 34, 34))])
def test_time_is_the_second_axis_causal_and_per_sample(build, shape):
    # Time really is dim 1 of the input: step t's logits do not change when later steps change,
    # and (eval mode) no sample's logits depend on another sample of the batch.
    x = torch.rand(*shape)
    m = _calibrated(build(), x)
    with torch.no_grad():
        ref = m.forward_steps(x)
        later = x.clone()
        c = shape[1] - 1  # the last step changes
        later[:, c:] = torch.rand_like(later[:, c:])
        out = m.forward_steps(later)
        alone = m.forward_steps(x[1:2])
    assert ref.shape == (shape[1], shape[0], 10)
    torch.testing.assert_close(out[:c], ref[:c])
    assert not torch.equal(out[c:], ref[c:])
    torch.testing.assert_close(alone[:, 0], ref[:, 1])
    torch.testing.assert_close(m(x), ref.mean(0))


@pytest.mark.parametrize("options,cls,check", [
    ({"neuron": "mf", "membrane_bits": 2, "tau": 4.0}, mfp_plugin.MFNode,
     lambda n: n.membrane_bits == 2 and n.tau == 4.0),
    ({"neuron": "mf", "tau": 4.0, "learnable_decay": True}, mfp_plugin.MFNode,
     lambda n: abs(float(torch.sigmoid(n.decay_logit.detach())) - 0.75) < 1e-6),
    ({"neuron": "qlif", "membrane_bits": 4, "tau": 4.0}, mfp_plugin.QLIFNode,
     lambda n: n.membrane_bits == 4 and n.tau == 4.0),
    ({"neuron": "lif", "tau": 4.0}, sj_neuron.LIFNode, lambda n: n.tau == 4.0 and n.v_reset == 0.0),
    ({"neuron": "plif", "tau": 4.0}, sj_neuron.ParametricLIFNode,
     lambda n: abs(float(torch.sigmoid(n.w.detach())) - 0.25) < 1e-6),  # 1/tau
])
@pytest.mark.parametrize("build,shape,count", [(_seq, (2, 5, 28), 2), (_dvs, (2, 3, 2, 34, 34), 4)])
def test_every_command_line_neuron(options, cls, check, build, shape, count):
    m = build(**model_overrides(options))
    neurons = [n for n in m.modules() if isinstance(n, cls)]
    assert len(neurons) == count and all(check(n) for n in neurons)
    x = torch.rand(*shape)
    m(x).sum().backward()
    assert m.get_first_layer().weight.grad.abs().sum() > 0
    if options.get("learnable_decay"):
        assert all(n.decay_logit.grad is not None and n.decay_logit.grad != 0 for n in neurons)
    # neurons start from reset state in every forward: a batch in between changes nothing
    m = _calibrated(m, x)
    spikes = []
    neurons[0].register_forward_hook(lambda mod, i, o: spikes.append(o))
    with torch.no_grad():
        ref = m(x)
        m(torch.rand(*shape) * 3)
        torch.testing.assert_close(m(x), ref)
    assert spikes[0].sum() > 0, "the first neurons never fire: the check above would prove nothing"
    torch.testing.assert_close(spikes[2], spikes[0])


def test_learnable_kernel_follows_the_model_T():
    m = _seq(neuron_kwargs={"kernel": "learnable"})
    assert all(n.T == 5 for n in m.modules() if isinstance(n, mfp_plugin.MFNode))
    assert m(torch.rand(2, 5, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="T"):
        m(torch.rand(2, 7, 28))


def test_event_net_adapts_to_128x128_sensors():
    m = _dvs().eval()
    calls = []
    m.avgpool.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        assert m(torch.rand(1, 3, 2, 34, 34)).shape == (1, 10)
        assert calls == []  # 34 -> 17 -> 8 -> 4: pooling to 4x4 is the identity and skipped
        assert m(torch.rand(1, 3, 2, 128, 128)).shape == (1, 10)
    assert calls == [1]
    single = _dvs(hidden_features=None)
    assert single.classifier_name == "classifier.0" and single.get_classifier().out_features == 10


def test_input_checks_name_the_expected_shape():
    seq, dvs = _seq(), _dvs()
    with pytest.raises(ValueError, match=r"\[B, T, F\] with F=28.*\(2, 5, 27\)"):
        seq(torch.rand(2, 5, 27))
    with pytest.raises(ValueError, match=r"\[B, T, F\]"):
        seq(torch.rand(2, 1, 28, 28))
    with pytest.raises(TypeError, match="floating"):
        seq(torch.zeros(2, 5, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[B, T, C, H, W\] with C=2"):
        dvs(torch.rand(2, 3, 1, 34, 34))
    with pytest.raises(ValueError, match=r"\[B, T, C, H, W\]"):
        dvs(torch.rand(2, 2, 34, 34))
    with pytest.raises(ValueError, match="input_type must be one of 'sequence', got 'frames'"):
        _seq(input_type="frames")
    with pytest.raises(ValueError, match="input_type must be one of 'events', 'frames', 'static'"):
        _dvs(input_type="video")
    with pytest.raises(ValueError, match="hidden"):
        _seq(hidden=())
    with pytest.raises(ValueError, match="channels"):
        _dvs(channels=(4, 0))


def test_dataloader_batches_of_the_bundled_subsets_feed_the_models():
    from torch.utils.data import DataLoader, Subset

    from mfp_plugin.data import get_dataset

    seq, dvs = model_zoo.create_model("mf_seq_mlp").eval(), _dvs(T=10).eval()
    for m, ds in ((seq, get_dataset("fmnist-seq-bundled", cfg=seq.pretrained_cfg)),
                  (dvs, get_dataset("fmnist-dvs-bundled", T=dvs.T))):
        x, y = next(iter(DataLoader(Subset(ds, range(4)), batch_size=4)))
        assert x.shape[:2] == (4, m.T)
        with torch.no_grad():
            assert m.forward_steps(x).shape == (m.T, 4, 10)


def test_checkpoint_round_trip_keeps_the_neuron_options(tmp_path):
    m = _seq(**model_overrides({"tau": 4.0, "learnable_decay": True})).eval()
    with torch.no_grad():
        for n in m.modules():
            if isinstance(n, mfp_plugin.MFNode):
                n.decay_logit.fill_(0.3)  # a "trained" decay
    path = tmp_path / "seq.safetensors"
    model_zoo.save_checkpoint(m, path)
    back = model_zoo.create_model("mf_seq_mlp", pretrained=str(path)).eval()
    assert back.T == 5 and [mod.out_features for mod in back.modules() if isinstance(mod, nn.Linear)] == [16, 12, 10]
    x = torch.rand(2, 5, 28)
    with torch.no_grad():
        torch.testing.assert_close(back(x), m(x))
