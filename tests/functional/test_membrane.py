import pytest
import torch

from mfp_plugin.functional import code_range, fire_mask, firing_threshold, membrane_step, quantize_membrane
from _reference import q_b


def test_q2_hand_computed():
    # b = 2: D = theta = 1, codes -2..1 -> levels {-2, -1, 0, 1}; round half up.
    u = torch.tensor([-5.0, -1.5, -1.49, -0.5, -0.49, 0.0, 0.49, 0.5, 1.0, 7.0])
    expected = [-2.0, -1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert quantize_membrane(u, 1.0, 2).tolist() == expected


def test_q3_grid_and_top_code_is_threshold():
    theta = 0.9
    delta = membrane_step(theta, 3)
    assert delta == pytest.approx(0.3)
    levels = torch.unique(quantize_membrane(torch.linspace(-5, 5, 2001), theta, 3))
    assert len(levels) == 8
    assert levels.max().item() == pytest.approx(theta)
    assert levels.min().item() == pytest.approx(-4 * delta)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_matches_reference_and_error_bound(bits):
    u = torch.randn(10000, dtype=torch.float64) * 2
    q = quantize_membrane(u, 1.0, bits)
    torch.testing.assert_close(q, q_b(u, 1.0, bits), rtol=0, atol=0)
    lo, hi = code_range(bits)
    delta = membrane_step(1.0, bits)
    inside = (u >= lo * delta) & (u <= hi * delta)
    assert (q[inside] - u[inside]).abs().max() <= delta / 2 + 1e-12
    assert torch.unique(q).numel() <= 2**bits


def test_ste_gradient_inside_range_zero_outside():
    u = torch.tensor([-3.0, -0.7, 0.2, 0.9, 1.2], requires_grad=True)
    quantize_membrane(u, 1.0, 2).sum().backward()
    # range is [-2, 1]: gradient 1 inside, 0 where clamped
    assert u.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("bits", [None, 2, 3, 5])
def test_fire_mask_is_threshold_offset(bits):
    h = torch.randn(20000, dtype=torch.float64) * 2
    theta_fire = firing_threshold(1.0, bits)
    assert torch.equal(fire_mask(h, 1.0, bits), (h >= theta_fire).double())
    if bits is not None:
        assert torch.equal(fire_mask(h, 1.0, bits), (q_b(h, 1.0, bits) >= 1.0).double())


@pytest.mark.parametrize("bad", [1, 0, -3])
def test_one_bit_membrane_rejected(bad):
    with pytest.raises(ValueError, match="membrane_bits must be >= 2"):
        membrane_step(1.0, bad)


def test_non_int_bits_rejected():
    with pytest.raises(TypeError, match="membrane_bits must be an int"):
        quantize_membrane(torch.zeros(3), 1.0, 2.5)
