"""Folding into integer thresholds, checked by brute force in exact rational arithmetic."""
from fractions import Fraction

import pytest
import torch

from mfp_plugin.deploy.fixed_point import dyadic, int_dtype_for, quantize_input, signed_bits
from mfp_plugin.deploy.fold import (channel_affine, geometric_sums, integer_thresholds, readout_integers,
                                    static_thresholds)

KAPPA = [0.3, -0.7, 0.125, -2.0, 0.0, 0.0, 1e-3, -0.0625]
D = [0.1, -0.4, 0.25, 0.6, 0.7, -0.1, 0.45, 0.0]


def _c(beta, t):
    return sum(Fraction(beta) ** j for j in range(t + 1))


@pytest.mark.parametrize("beta, F", [(0.5, 3), (0.75, 6), (0.5, 0)])
def test_integer_thresholds_equal_the_real_comparison(beta, F):
    theta = 0.5
    kappa, d = torch.tensor(KAPPA, dtype=torch.float64), torch.tensor(D, dtype=torch.float64)
    bound = 400
    sgn, thr = integer_thresholds(kappa, d, theta, beta, 4, F, bound)
    assert sgn.tolist() == [1, -1, 1, -1, 1, 1, 1, -1]
    for t in range(4):
        for c in range(len(KAPPA)):
            for acc in range(-bound, bound + 1):
                h = Fraction(KAPPA[c]) * Fraction(acc, 2 ** F) + Fraction(D[c]) * _c(beta, t)
                assert (h >= Fraction(theta)) == (int(sgn[c]) * acc >= int(thr[t, c])), (t, c, acc)


def test_static_thresholds_equal_the_real_comparison():
    beta, theta = 0.5, 0.75
    kappa, d = torch.tensor(KAPPA, dtype=torch.float64), torch.tensor(D, dtype=torch.float64)
    sgn, thr = static_thresholds(kappa, d, theta, beta, 4, 300)
    for t in range(4):
        for c in range(len(KAPPA)):
            for A in range(-300, 301):
                h = _c(beta, t) * (Fraction(KAPPA[c]) * A + Fraction(D[c]))
                assert (h >= Fraction(theta)) == (int(sgn[c]) * A >= int(thr[t, c])), (t, c, A)


def test_channel_affine_folds_bn_by_hand():
    bn = torch.nn.BatchNorm2d(2, eps=0.0).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([3.0, -1.0]))
        bn.bias.copy_(torch.tensor([0.5, 0.25]))
        bn.running_mean.copy_(torch.tensor([1.0, -2.0]))
        bn.running_var.copy_(torch.tensor([9.0, 0.25]))
    k, d = channel_affine(torch.tensor([[[[0.5]]], [[[0.25]]]]), torch.tensor([0.5, 1.0]), bn, in_scale=0.5)
    # a = gamma / sqrt(var) = [1, -2]; kappa = a * s * in_scale; d = a (b - mean) + beta
    assert k.tolist() == [0.25, -0.25] and d.tolist() == [0.0, -5.75]
    bn.track_running_stats, bn.running_mean, bn.running_var = False, None, None
    with pytest.raises(ValueError, match="running statistics"):
        channel_affine(torch.tensor(1.0), None, bn)


def test_readout_integers_reproduce_the_logits():
    g = torch.Generator().manual_seed(0)
    kappa = torch.full((7,), 0.0123, dtype=torch.float64)
    d = torch.randn(7, generator=g, dtype=torch.float64)
    M, B, unit = readout_integers(kappa, d, 4, 16)
    A = torch.randint(-500, 500, (4, 50, 7), generator=g)
    logits = (kappa * A + d).mean(0)
    L = A.sum(0) * M + B
    assert torch.all(M == 2 ** 16)
    assert torch.allclose(L.double() * unit, logits, atol=0.0123 * 2 ** -16)
    with pytest.raises(ValueError, match="zero"):
        readout_integers(torch.zeros(3, dtype=torch.float64), d[:3], 4, 16)


def test_fixed_point_helpers():
    assert dyadic(0.5) == (1, 1, True) and dyadic(0.875) == (7, 3, True)
    assert dyadic(0.9, max_bits=4) == (14, 4, False)
    with pytest.raises(ValueError, match="beta"):
        dyadic(1.0)
    x = torch.tensor([0.5 / 256, 1.5 / 256, -100.0, 100.0, 0.3])
    assert quantize_input(x, 8, 10).tolist() == [0, 2, -512, 511, 77]   # half to even, saturating
    with pytest.raises(TypeError, match="floating"):
        quantize_input(torch.tensor([1]), 8, 10)
    assert [signed_bits(v) for v in (0, 1, 2, 2 ** 31 - 1, 2 ** 31)] == [1, 2, 3, 32, 33]
    assert int_dtype_for(2 ** 31 - 1) == torch.int32 and int_dtype_for(2 ** 31) == torch.int64
    assert geometric_sums(0.0, 3).tolist() == [1.0, 1.0, 1.0]
