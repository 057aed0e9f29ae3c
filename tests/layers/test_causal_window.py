"""CausalWindow + Linear is a causal Conv1d over time; the TCN zoo model built from it is causal."""
import pytest
import torch
from torch import nn

import model_zoo
from mfp_plugin import CausalWindow, MFNode
from mfp_plugin.functional import causal_window


@pytest.mark.parametrize("k,d", [(1, 1), (2, 1), (3, 1), (3, 2), (2, 5), (4, 3)])
def test_window_then_linear_equals_a_left_padded_conv1d(k, d):
    torch.manual_seed(0)
    T, B, C, H = 9, 3, 4, 5
    x = torch.randn(T, B, C)
    conv = nn.Conv1d(C, H, k, dilation=d, bias=False)
    # Linear over cat(x[t], x[t-d], ...): its column block j is the conv tap that reaches back j*d steps
    lin = nn.Linear(k * C, H, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.cat([conv.weight[:, :, k - 1 - j] for j in range(k)], dim=1))
    ref = conv(nn.functional.pad(x.permute(1, 2, 0), ((k - 1) * d, 0))).permute(2, 0, 1)  # [T, B, H]
    torch.testing.assert_close(lin(CausalWindow(k, d)(x)), ref)


def test_window_by_hand():
    x = torch.tensor([1., 2., 3., 4., 5.]).view(5, 1, 1)
    assert causal_window(x, 2, 3).squeeze(1).tolist() == [[1, 0], [2, 0], [3, 0], [4, 1], [5, 2]]
    assert CausalWindow(3, 2).receptive_field == 5


@pytest.mark.parametrize("bad,err", [(dict(kernel_size=0), ValueError), (dict(dilation=0), ValueError),
                                     (dict(kernel_size=2.0), TypeError), (dict(dilation=True), TypeError)])
def test_bad_window_arguments_are_refused(bad, err):
    with pytest.raises(err, match=next(iter(bad))):
        CausalWindow(**bad)


def test_window_refuses_anything_but_time_first_3d():
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        CausalWindow(2)(torch.zeros(4, 2, 3, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        CausalWindow(2)([[0.0]])


def test_tcn_is_causal_and_sees_its_receptive_field():
    torch.manual_seed(0)
    m = model_zoo.create_model("mf_seq_tcn", T=12, hidden=(16, 16, 16), dilations=(1, 2, 4))
    x = torch.rand(2, 12, 28)
    for bn in (b for b in m.modules() if isinstance(b, nn.BatchNorm1d)):  # statistics of x, so the net fires
        bn.momentum = None
    with torch.no_grad():
        m.train()(x)
    m.eval()
    assert m.receptive_field == 1 + 2 * (1 + 2 + 4) == 15
    assert isinstance(m.get_first_layer(), nn.Linear) and m.get_first_layer().in_features == 3 * 28
    with torch.no_grad():
        y = m.forward_steps(x)
        for t in (0, 5, 11):
            x2 = x.clone()
            x2[:, t:] = torch.rand_like(x2[:, t:]) * 4
            y2 = m.forward_steps(x2)
            assert torch.equal(y[:t], y2[:t]), f"a change at step {t} reached earlier steps"
            assert not torch.equal(y[t:], y2[t:])
    assert sum(isinstance(n, MFNode) for n in m.modules()) == 3


def test_tcn_options_are_checked():
    with pytest.raises(ValueError, match="one dilation per hidden layer"):
        model_zoo.create_model("mf_seq_tcn", hidden=(8, 8), dilations=(1, 2, 4))
    with pytest.raises(ValueError, match="kernel_size >= 2"):
        model_zoo.create_model("mf_seq_tcn", kernel_size=1)


def test_mlp_layout_is_unchanged_by_the_window_option():
    names = list(model_zoo.create_model("mf_seq_mlp").state_dict())
    assert names[0] == "features.0.weight" and "features.1.running_mean" in names
