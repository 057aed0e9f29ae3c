"""mfp.set_backend: every neuron or none, with the reason for each refusal, in both SpikingJelly generations."""
import importlib.util

import pytest
import torch.nn as nn

import mfp_plugin as mfp


def test_refusal_names_every_neuron_that_cannot_and_changes_none():
    net = nn.Sequential(mfp.MFNode(), nn.Linear(3, 3), mfp.MFNode(learnable_decay=True),
                        nn.Sequential(mfp.MFNode(kernel="learnable", T=4)))
    with pytest.raises(ValueError) as info:
        mfp.set_backend(net, "cupy")
    msg = str(info.value)
    assert "2 (MFNode" in msg and "learnable_decay=True" in msg and "3.0 (MFNode" in msg and "kernel='learnable'" in msg
    assert "for 0 (" not in msg and ", 0 (" not in msg   # the plain node could run cupy: not named
    assert [m.backend for m in net.modules() if isinstance(m, mfp.MFNode)] == ["torch"] * 3


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="cupy is installed here")
def test_missing_cupy_is_an_import_error_before_any_change():
    net = nn.Sequential(mfp.MFNode(), mfp.MFNode())
    with pytest.raises(ImportError, match="cupy"):
        mfp.set_backend(net, "cupy")
    assert [m.backend for m in net] == ["torch", "torch"]


def test_sets_ours_and_spikingjelly_nodes_that_have_backends():
    from spikingjelly.activation_based import neuron

    lif = neuron.LIFNode(step_mode="m")
    net = nn.Sequential(mfp.MFNode(), mfp.QLIFNode(), lif)
    assert mfp.set_backend(net, "torch") is net
    assert net[0].backend == net[1].backend == "torch"
    if hasattr(lif, "supported_backends"):                # 0.0.0.0.14: its nodes are checked and set as well
        assert lif.backend == "torch"
        with pytest.raises(ValueError, match="2 \\(LIFNode"):
            mfp.set_backend(net, "no-such-backend")


def test_bad_arguments():
    with pytest.raises(ValueError, match="no neuron with backends"):
        mfp.set_backend(nn.Linear(2, 2), "torch")
    with pytest.raises(TypeError, match="backend must be a string"):
        mfp.set_backend(nn.Sequential(mfp.MFNode()), None)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        mfp.set_backend("net", "torch")
