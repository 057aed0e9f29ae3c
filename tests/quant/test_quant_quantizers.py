"""Weight quantizers against independent (numpy / hand-written) references."""
import numpy as np
import pytest
import torch

from mfp_plugin.quant import (BinaryQuantizer, LSQQuantizer, QuantConv2d, TernaryQuantizer,
                              WeightQuantizer, make_weight_quantizer, normalize_bits)

SPECS = [1, 2, 3, 4, 8, "ternary"]


def _max_levels(spec):
    return 3 if spec == "ternary" else 2 ** spec


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("spec", SPECS)
def test_level_count_and_code_range(spec, per_channel):
    torch.manual_seed(0)
    layer = QuantConv2d(3, 5, 3, weight_bits=spec, per_channel=per_channel)
    wq = layer.quantized_weight().detach()
    for c in range(wq.shape[0]):
        assert torch.unique(wq[c]).numel() <= _max_levels(spec)
    if not per_channel:
        assert torch.unique(wq).numel() <= _max_levels(spec)
    codes, scale = layer.weight_quantizer.quantize_to_int(layer.weight)
    lo, hi = layer.weight_quantizer.code_range
    if spec in (1, "ternary"):
        assert (lo, hi) == (-1, 1)
    else:
        assert (lo, hi) == (-(2 ** (spec - 1)), 2 ** (spec - 1) - 1)
    assert codes.dtype == torch.int8
    assert int(codes.min()) >= lo and int(codes.max()) <= hi
    assert torch.equal(codes.float() * scale, wq)
    if spec == 1:  # sign(0) := +1, so never a zero code
        assert set(codes.unique().tolist()) <= {-1, 1}


def _lsq_fixed(bits, scale, **kw):
    q = LSQQuantizer(bits, **kw)
    with torch.no_grad():
        q.scale.copy_(torch.as_tensor(scale, dtype=torch.float32).reshape(q.scale.shape))
        q.initialized.fill_(True)
    return q


def test_lsq_hand_checked_2bit():
    q = _lsq_fixed(2, 0.5)
    w = torch.tensor([-1.0, -0.3, 0.2, 0.9])
    codes, scale = q.quantize_to_int(w)
    # -2, -0.6, 0.4, 1.8 -> round -> -2, -1, 0, 2 -> clamp to [-2, 1]
    assert codes.tolist() == [-2, -1, 0, 1]
    assert torch.equal(q(w).detach(), torch.tensor([-1.0, -0.5, 0.0, 0.5]))
    qn = _lsq_fixed(2, 0.5, narrow_range=True)
    assert qn.quantize_to_int(w)[0].tolist() == [-1, -1, 0, 1]
    assert qn.num_levels == 3 and q.num_levels == 4


def _np_binary(w, per_channel):
    a = np.abs(w)
    alpha = a.reshape(w.shape[0], -1).mean(1).reshape(-1, *[1] * (w.ndim - 1)) if per_channel else a.mean()
    return alpha * np.where(w >= 0, 1.0, -1.0)


def _np_ternary(w, per_channel, t=0.7):
    out = np.zeros_like(w)
    groups = range(w.shape[0]) if per_channel else [slice(None)]
    for g in groups:
        x = w[g]
        delta = t * np.abs(x).mean()
        m = np.abs(x) > delta
        alpha = np.abs(x)[m].mean() if m.any() else max(np.abs(x).mean(), 1e-8)
        out[g] = alpha * np.sign(x) * m
    return out


@pytest.mark.parametrize("per_channel", [True, False])
def test_binary_matches_numpy(per_channel):
    torch.manual_seed(1)
    w = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    w[0, 0, 0, 0] = 0.0
    got = BinaryQuantizer(per_channel).forward(w).detach().numpy()
    np.testing.assert_allclose(got, _np_binary(w.numpy(), per_channel), rtol=1e-12, atol=0)
    assert got[0, 0, 0, 0] > 0  # sign(0) = +1


@pytest.mark.parametrize("per_channel", [True, False])
def test_ternary_matches_numpy(per_channel):
    torch.manual_seed(2)
    w = torch.randn(4, 6, dtype=torch.float64)
    w[3] = 0.0  # empty mask: must not produce NaN
    got = TernaryQuantizer(per_channel).forward(w).detach()
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got.numpy(), _np_ternary(w.numpy(), per_channel), rtol=1e-12, atol=0)
    assert torch.equal(got[3], torch.zeros(6, dtype=torch.float64))


def test_binary_gradient_clipped_ste():
    torch.manual_seed(3)
    w = (torch.randn(3, 5, dtype=torch.float64) * 1.2).requires_grad_()
    G = torch.randn(3, 5, dtype=torch.float64)
    (BinaryQuantizer(per_channel=True)(w) * G).sum().backward()
    wn, Gn = w.detach().numpy(), G.numpy()
    s = np.where(wn >= 0, 1.0, -1.0)
    alpha = np.abs(wn).mean(1, keepdims=True)
    mask = (np.abs(wn) <= 1).astype(float)
    assert 0 < mask.sum() < mask.size  # both sides of the clip are exercised
    ref = alpha * Gn * mask + s * (Gn * s).sum(1, keepdims=True) / wn.shape[1]
    np.testing.assert_allclose(w.grad.numpy(), ref, rtol=1e-12, atol=1e-14)


def test_ternary_gradient_identity_ste():
    torch.manual_seed(4)
    w = torch.randn(2, 8, dtype=torch.float64, requires_grad=True)
    G = torch.randn(2, 8, dtype=torch.float64)
    (TernaryQuantizer(per_channel=True)(w) * G).sum().backward()
    wn, Gn = w.detach().numpy(), G.numpy()
    delta = 0.7 * np.abs(wn).mean(1, keepdims=True)
    m = (np.abs(wn) > delta).astype(float)
    cnt = m.sum(1, keepdims=True)
    alpha = (np.abs(wn) * m).sum(1, keepdims=True) / cnt
    t = np.sign(wn) * m
    ref = alpha * Gn + np.sign(wn) * m / cnt * (Gn * t).sum(1, keepdims=True)
    np.testing.assert_allclose(w.grad.numpy(), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bits,narrow", [(2, False), (3, False), (4, True)])
def test_lsq_gradients_match_paper(bits, narrow, per_channel):
    torch.manual_seed(5)
    C, n = 3, 7
    w = (torch.randn(C, n, dtype=torch.float64) * 0.8).requires_grad_()
    q = LSQQuantizer(bits, per_channel=per_channel, narrow_range=narrow,
                     num_channels=C if per_channel else None).double()
    with torch.no_grad():
        # Small enough steps that some weights fall outside the clip range.
        steps = torch.tensor([0.21, 0.13, 0.3], dtype=torch.float64) / 2 ** (bits - 2)
        q.scale.copy_(steps[: q.scale.numel()])
        q.initialized.fill_(True)
    G = torch.randn(C, n, dtype=torch.float64)
    (q(w) * G).sum().backward()

    # Esser et al. 2020, eq. 3 and the step-size gradient scale g.
    Qp = 2 ** (bits - 1) - 1
    Qn = Qp if narrow else 2 ** (bits - 1)
    wn, Gn = w.detach().numpy(), G.numpy()
    s = q.scale.detach().numpy()
    s_b = s.reshape(-1, 1) if per_channel else s.reshape(1, 1)
    v = wn / s_b
    inside = (v > -Qn) & (v < Qp)
    dvq_ds = np.where(v <= -Qn, -Qn, np.where(v >= Qp, Qp, np.round(v) - v))
    g = 1.0 / np.sqrt((n if per_channel else C * n) * Qp)
    ref_s = g * ((Gn * dvq_ds).sum(1) if per_channel else (Gn * dvq_ds).sum().reshape(1))
    assert (~inside).any() and inside.any()
    np.testing.assert_allclose(q.scale.grad.numpy(), ref_s, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(w.grad.numpy(), Gn * inside, rtol=1e-12, atol=1e-15)


def test_lsq_lazy_init_and_no_reinit():
    torch.manual_seed(6)
    q = LSQQuantizer(4)
    assert not bool(q.initialized)
    w = torch.randn(8, 5)
    q(w)
    Qp = 7
    assert torch.allclose(q.scale.detach(), 2 * w.abs().mean() / Qp ** 0.5)
    assert bool(q.initialized)
    before = q.scale.detach().clone()
    q(10 * w)
    assert torch.equal(q.scale.detach(), before)

    qc = LSQQuantizer(3, per_channel=True)  # scale shaped lazily
    qc(w)
    assert qc.scale.shape == (8,)
    assert torch.allclose(qc.scale.detach(), 2 * w.abs().mean(1) / 3 ** 0.5)
    fresh = LSQQuantizer(3, per_channel=True)
    fresh.load_state_dict(qc.state_dict())
    assert torch.equal(fresh.scale.detach(), qc.scale.detach()) and bool(fresh.initialized)
    assert torch.equal(fresh(w), qc(w))


def test_factory_mapping():
    assert isinstance(make_weight_quantizer(1), BinaryQuantizer)
    assert isinstance(make_weight_quantizer("ternary"), TernaryQuantizer)
    assert isinstance(make_weight_quantizer(1.58), TernaryQuantizer)
    q = make_weight_quantizer(4, per_channel=True, num_channels=6, narrow_range=True)
    assert isinstance(q, LSQQuantizer) and q.scale.shape == (6,) and q.narrow_range
    assert make_weight_quantizer(8).per_channel is False
    assert make_weight_quantizer(1).per_channel is True
    assert make_weight_quantizer(None) is None and make_weight_quantizer(32) is None
    assert normalize_bits(4.0) == 4
    for spec in SPECS:
        assert isinstance(make_weight_quantizer(spec), WeightQuantizer)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (1.5, ValueError),
                                     ("foo", ValueError), (9, ValueError), (16, ValueError),
                                     ([2], TypeError), (True, TypeError), (object(), TypeError)])
def test_factory_rejects_bad_bits(bad, exc):
    with pytest.raises(exc, match="ternary"):
        make_weight_quantizer(bad)


def test_lsq_rejects_low_bits_and_bad_input():
    with pytest.raises(ValueError, match="BinaryQuantizer"):
        LSQQuantizer(1)
    with pytest.raises(TypeError):
        LSQQuantizer(2.0)
    with pytest.raises(TypeError, match="floating"):
        BinaryQuantizer()(torch.ones(3, dtype=torch.int64))
    q = LSQQuantizer(4, per_channel=True, num_channels=3)
    with pytest.raises(ValueError, match="output channel"):
        q(torch.randn(5, 2))
