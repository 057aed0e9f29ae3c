import pytest
import torch

import mfp_plugin as mfp
from _reference import qlif_reference


def test_multi_and_single_step_match_reference():
    x = torch.randn(9, 3, 4, dtype=torch.float64) * 0.7 + 0.4
    node = mfp.QLIFNode(tau=2.0, membrane_bits=3, store_v_seq=True)
    s = node(x)
    s_ref, u_ref, _ = qlif_reference(x, 0.5, 1.0, 3)
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(node.v_seq, u_ref)
    node.reset()
    node.step_mode = "s"
    s_single = torch.stack([node(x[t]) for t in range(9)])
    assert torch.equal(s_single, s)


def test_state_persists_until_reset():
    node = mfp.QLIFNode(tau=2.0, membrane_bits=4)
    x = torch.full((2, 1), 0.6)
    a = node(x)
    b = node(x)  # continues from the stored membrane
    node.reset()
    c = node(x)
    assert torch.equal(a, c)
    assert node.v is not None
    # D = 1/7: U_hat = 4/7, then Q(0.5*4/7 + 0.6) = 6/7 is kept, so the second call
    # starts from it and fires at once (0.5*6/7 + 0.6 >= 1), then restarts from 0
    assert a.flatten().tolist() == [0.0, 0.0] and b.flatten().tolist() == [1.0, 0.0]
    # the stored membrane is on the 4-bit grid
    delta = 1.0 / 7
    codes = node.v / delta
    torch.testing.assert_close(codes, codes.round())


def test_history_loss_compounds_where_mf_does_not():
    """P4 for the baseline: QLIF's stored error compounds; MF's transient one does not."""
    T = 16
    x = torch.full((T, 1), 0.1, dtype=torch.float64)
    qlif = mfp.QLIFNode(tau=10.0, membrane_bits=2, store_v_seq=True)
    assert qlif(x).sum() == 0
    mf = mfp.MFNode(tau=10.0, membrane_bits=2, store_v_seq=True)
    mf_spikes = mf(x)
    # exact leaky integral of 0.1 with beta = 0.9 passes 0.5 (= theta - D/2) at t = 6
    h = torch.tensor([0.1 * sum(0.9**k for k in range(t + 1)) for t in range(T)], dtype=torch.float64)
    assert mf_spikes.flatten().tolist() == (h >= 0.5).double().tolist()
    # QLIF's stored membrane has forgotten everything: error vs the exact integral grows with t
    err = (h - qlif.v_seq.flatten()).abs()
    assert err[-1] > 0.5 and err[-1] > err[0]
    assert (mf.v_seq.flatten() - mf.h_seq.flatten()).abs().max() <= 0.5


def test_bad_inputs():
    with pytest.raises(ValueError, match="membrane_bits must be >= 2"):
        mfp.QLIFNode(membrane_bits=1)
    with pytest.raises(ValueError, match="membrane_bits must be an integer"):
        mfp.QLIFNode(membrane_bits=None)
    with pytest.raises(TypeError, match="v_reset"):
        mfp.QLIFNode(v_reset="zero")
    node = mfp.QLIFNode()
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        node(torch.zeros(4))
    with pytest.raises(TypeError, match="floating"):
        node(torch.zeros(4, 2, dtype=torch.int32))
    node(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="reset_net"):
        node(torch.zeros(2, 5))
    assert node.supported_backends == ("torch",)
    with pytest.raises(ValueError, match="supports backend"):
        node.backend = "cupy"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_hyper_parameters_are_refused(value):
    with pytest.raises(ValueError, match="v_reset must be a finite"):
        mfp.QLIFNode(v_reset=value)
    with pytest.raises(ValueError, match="v_threshold"):
        mfp.QLIFNode(v_threshold=value)
    with pytest.raises(ValueError, match="tau"):
        mfp.QLIFNode(tau=value)


@pytest.mark.parametrize("step_mode", ["m", "s"])
def test_non_finite_input_is_refused_before_it_sticks(step_mode):
    # A NaN (or inf: its hard reset is inf * 0 = NaN) would stay in the stored membrane until reset.
    node = mfp.QLIFNode(step_mode=step_mode)
    x = torch.full((3, 2, 4), 0.4)
    x[1, 0, 2] = float("nan")
    if step_mode == "m":
        with pytest.raises(ValueError, match="inf or NaN"):
            node(x)
        assert node.v is None  # nothing was stored
    else:
        node(x[0])
        v0 = node.v.clone()
        with pytest.raises(ValueError, match="inf or NaN"):
            node(x[1])
        assert torch.equal(node.v, v0)  # the state is untouched
        node(x[2])
        assert torch.isfinite(node.v).all()
