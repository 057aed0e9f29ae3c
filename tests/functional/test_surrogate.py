import math

import pytest
import torch

from mfp_plugin.functional import ATan, CallableSurrogate, FastSigmoid, Sigmoid, resolve_surrogate, spike


def _autograd_derivative(fn, x):
    x = x.clone().requires_grad_(True)
    fn(x).sum().backward()
    return x.grad


def test_atan_closed_form_hand_value():
    # sigma'(x) = (alpha/2) / (1 + (pi/2 alpha x)^2); alpha = 2, x = 1/pi -> 1 / (1 + 1) = 0.5
    assert ATan(2.0).derivative(torch.tensor([1 / math.pi])).item() == pytest.approx(0.5)


def test_spike_forward_is_heaviside_at_zero_inclusive():
    assert spike(torch.tensor([-1e-7, 0.0, 1e-7])).tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("alpha", [1.0, 2.0, 5.0])
def test_matches_spikingjelly_surrogates(alpha):
    from spikingjelly.activation_based import surrogate as sj

    x = torch.linspace(-2, 2, 101)
    for ours, theirs in ((ATan(alpha), sj.ATan(alpha)), (Sigmoid(alpha), sj.Sigmoid(alpha))):
        torch.testing.assert_close(_autograd_derivative(ours, x), _autograd_derivative(theirs, x))
        assert isinstance(resolve_surrogate(theirs), type(ours))  # closed-form fast path
        assert resolve_surrogate(theirs).alpha == alpha


def test_snntorch_spike_grad_callable():
    import snntorch.surrogate as st

    x = torch.linspace(-1, 1, 41)
    for fn in (st.atan(alpha=3.0), st.fast_sigmoid(slope=10)):
        sur = resolve_surrogate(fn)
        assert isinstance(sur, CallableSurrogate)
        torch.testing.assert_close(sur.derivative(x), _autograd_derivative(fn, x))
    torch.testing.assert_close(FastSigmoid(10).derivative(x), _autograd_derivative(st.fast_sigmoid(slope=10), x))


def test_other_spikingjelly_surrogate_goes_through_autograd():
    from spikingjelly.activation_based import surrogate as sj

    sur = resolve_surrogate(sj.PiecewiseQuadratic())
    x = torch.linspace(-2, 2, 51)
    torch.testing.assert_close(sur.derivative(x), _autograd_derivative(sj.PiecewiseQuadratic(), x))


def test_bad_surrogates():
    from spikingjelly.activation_based import surrogate as sj

    with pytest.raises(TypeError, match="instance, not the class"):
        resolve_surrogate(sj.ATan)
    with pytest.raises(TypeError, match="surrogate_function must be"):
        resolve_surrogate(3.0)
