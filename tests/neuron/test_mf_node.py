import pytest
import torch

import mfp_plugin as mfp
from mfp_plugin.functional import exp_kernel
from _reference import mf_reference


def test_multi_step_matches_reference_and_is_memory_free():
    node = mfp.MFNode(tau=4.0, membrane_bits=3)
    x = torch.randn(8, 2, 5, dtype=torch.float64) + 0.3
    s1 = node(x)
    s_ref, _, _ = mf_reference(x, 0.75, 1.0, 3)
    assert torch.equal(s1, s_ref)
    # P1: nothing persists between calls; reset is harmless but unnecessary
    assert node.acc is None and node.history is None
    assert torch.equal(node(x), s1)
    node.reset()
    assert torch.equal(node(x), s1)


@pytest.mark.parametrize("bits", [None, 2, 4])
@pytest.mark.parametrize("kernel", ["exp", "learnable"])
def test_streaming_single_step_gives_identical_spikes(bits, kernel):
    """P3: the 's' mode streams one step per call and equals the 'm' spikes."""
    T = 12
    x = torch.randn(T, 3, 4, dtype=torch.float64) * 0.8 + 0.35
    node = mfp.MFNode(tau=2.0, kernel=kernel, T=T if kernel == "learnable" else None, membrane_bits=bits).double()
    if kernel == "learnable":
        with torch.no_grad():
            node.kernel_weight.add_(0.05 * torch.randn(T, T, dtype=torch.float64))
    s_multi = node(x)
    node.step_mode = "s"
    s_stream = torch.stack([node(x[t]) for t in range(T)])
    assert torch.equal(s_multi, s_stream)
    # exact (dyadic) arithmetic: identical potentials too
    if kernel == "exp":
        xd = torch.randint(-8, 16, (T, 3, 4)).double() / 16
        node.reset()
        node.store_v_seq = True
        stream = torch.stack([node(xd[t]) for t in range(T)])
        h_stream = node.h_seq
        node.step_mode = "m"
        multi = node(xd)
        assert torch.equal(stream, multi) and torch.equal(h_stream, node.h_seq)


def test_streaming_needs_reset_between_sequences():
    node = mfp.MFNode(step_mode="s", kernel="learnable", T=2)
    node(torch.zeros(3))
    node(torch.zeros(3))
    with pytest.raises(ValueError, match="T = 2 steps"):
        node(torch.zeros(3))
    node.reset()
    node(torch.zeros(3))
    node2 = mfp.MFNode(step_mode="s")
    node2(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="reset_net"):
        node2(torch.zeros(4, 3))


def test_learnable_kernel_rejects_other_T_and_trains():
    node = mfp.MFNode(kernel="learnable", T=4)
    torch.testing.assert_close(node.kernel_weight.detach(), exp_kernel(0.5, 4))
    with pytest.raises(ValueError, match="T = 4"):
        node(torch.zeros(5, 2))
    x = torch.rand(4, 8, 3) * 1.5
    node(x).sum().backward()
    assert node.kernel_weight.grad is not None and node.kernel_weight.grad.abs().sum() > 0
    sd = node.state_dict()
    node2 = mfp.MFNode(kernel="learnable", T=4)
    node2.load_state_dict(sd)
    assert torch.equal(node2(x), node(x))


def test_learnable_decay_stays_in_unit_interval_and_gets_gradient():
    node = mfp.MFNode(tau=2.0, learnable_decay=True)
    assert node.beta.item() == pytest.approx(0.5)
    x = torch.rand(6, 16) * 1.5
    node(x).sum().backward()
    assert node.decay_logit.grad is not None and node.decay_logit.grad != 0
    with torch.no_grad():
        node.decay_logit.fill_(50.0)
    assert 0.0 < node.beta.item() <= 1.0


@pytest.mark.parametrize("bits", [None, 2])
def test_learnable_decay_scan_and_gemm_agree_on_a_channels_last_map(bits):
    # The C scan (decay gradient sum_t B[t] . A[t-1]) and the GEMM (autograd through beta ** lag) give
    # the same spikes, input gradient and decay_logit gradient, and both keep the channels-last layout.
    from mfp_plugin.backends import cpu_kernel as ck

    if not ck.is_available():
        pytest.skip("no C compiler: only the GEMM runs")
    g = torch.Generator().manual_seed(11)
    x0 = (torch.rand(5 * 2, 3, 6, 4, generator=g, dtype=torch.float64) * 1.5).contiguous(
        memory_format=torch.channels_last).unflatten(0, (5, 2))
    w = torch.randn(5, 2, 3, 6, 4, generator=g, dtype=torch.float64)
    out = {}
    for c_on in (True, False):
        ck.set_enabled(c_on)
        try:
            node = mfp.MFNode(tau=3.0, membrane_bits=bits, learnable_decay=True).double()
            x = x0.clone().requires_grad_(True)
            s = node(x)
            (s * w).sum().backward()
            out[c_on] = (s.detach(), s.stride(), x.grad, node.decay_logit.grad)
        finally:
            ck.set_enabled(None)
    (s_c, st_c, gx_c, gd_c), (s_g, st_g, gx_g, gd_g) = out[True], out[False]
    assert torch.equal(s_c, s_g) and st_c == st_g == x0.stride()
    assert gd_c.abs().item() > 1e-3
    torch.testing.assert_close(gx_c, gx_g, rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(gd_c, gd_g, rtol=1e-11, atol=1e-12)


def test_store_v_seq_records_transient_and_exact_potential():
    node = mfp.MFNode(tau=2.0, membrane_bits=2, store_v_seq=True)
    x = torch.tensor([[0.6], [0.6], [0.0]])
    node(x)
    torch.testing.assert_close(node.h_seq.flatten(), torch.tensor([0.6, 0.9, 0.45]))
    assert node.v_seq.flatten().tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_inputs(dtype):
    node = mfp.MFNode(membrane_bits=2)
    x = (torch.rand(4, 2, 8) * 1.5).to(dtype).requires_grad_(True)
    s = node(x)
    assert s.dtype == dtype
    s.float().sum().backward()
    assert x.grad.dtype == dtype


def test_non_contiguous_input():
    node = mfp.MFNode(membrane_bits=2)
    base = torch.rand(5, 8, 6, dtype=torch.float64) * 1.5
    x = base.transpose(1, 2)
    assert not x.is_contiguous()
    assert torch.equal(node(x), node(x.contiguous()))


def test_bad_inputs_get_clear_errors():
    node = mfp.MFNode()
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        node(torch.zeros(5))
    with pytest.raises(TypeError, match="floating dtype"):
        node(torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        node([[0.0]])
    with pytest.raises(ValueError, match="T = 0"):
        node(torch.zeros(0, 2))
    with pytest.raises(ValueError, match="membrane_bits must be >= 2"):
        mfp.MFNode(membrane_bits=1)
    with pytest.raises(ValueError, match="needs a fixed number of time steps"):
        mfp.MFNode(kernel="learnable")
    with pytest.raises(ValueError, match="kernel must be"):
        mfp.MFNode(kernel="gauss")
    with pytest.raises(ValueError, match="tau must be"):
        mfp.MFNode(tau=0.5)
    with pytest.raises(ValueError, match="step_mode"):
        mfp.MFNode(step_mode="x")
    with pytest.raises(ValueError, match="v_threshold"):
        mfp.MFNode(v_threshold=-1.0)


def test_backends():
    node = mfp.MFNode()
    assert node.supported_backends == ("torch", "cupy")
    assert isinstance(type(node).supported_backends, property)
    node.step_mode = "s"
    assert node.supported_backends == ("torch",)
    with pytest.raises(ValueError, match="supports backend"):
        node.backend = "cupy"
    node.step_mode = "m"
    if not torch.cuda.is_available():
        with pytest.raises(ImportError, match="cupy|CUDA"):
            mfp.MFNode(backend="cupy")
    with pytest.raises(ValueError, match="supports backend"):
        mfp.MFNode(backend="triton-nonexistent")


def test_reassigning_the_surrogate_takes_effect():
    from spikingjelly.activation_based import surrogate

    node = mfp.MFNode()
    x = torch.full((1, 1), 0.5, requires_grad=True)
    node(x).sum().backward()
    g_atan = x.grad.item()  # ATan(2) at -0.5: 1 / (1 + (pi/2)^2)
    node.surrogate_function = surrogate.Sigmoid(alpha=4.0)
    x.grad = None
    node(x).sum().backward()
    assert g_atan == pytest.approx(1 / (1 + (torch.pi / 2) ** 2))
    assert x.grad.item() == pytest.approx(4 * torch.sigmoid(torch.tensor(-2.0)).item() * torch.sigmoid(torch.tensor(2.0)).item())
    with pytest.raises(TypeError, match="surrogate_function"):
        mfp.MFNode(surrogate_function="atan")


# ---------------------------------------------------------------- one backend decision, causality
def _paths():
    """(name, node kwargs, C scan on?) for every kernel the torch backend runs on CPU."""
    return [("c-scan", {}, True), ("gemm-exp", {}, False), ("c-scan-learnable-decay", {"learnable_decay": True}, True),
            ("gemm-learnable-decay", {"learnable_decay": True}, False),
            ("gemm-learnable-kernel", {"kernel": "learnable", "T": 6}, True)]


@pytest.mark.parametrize("name,kwargs,c_on", _paths(), ids=[p[0] for p in _paths()])
@pytest.mark.parametrize("record", [False, True])
@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_input_never_reaches_back_in_time(name, kwargs, c_on, record, bad):
    # x[3] = inf used to turn the spikes of steps 0..2 into 0 on the GEMM (0 * inf = NaN in K's upper
    # triangle), and store_v_seq=True switched to that GEMM: [1,1,1,1] became [0,0,0,1].
    from mfp_plugin.backends import cpu_kernel as ck

    ck.set_enabled(c_on)
    try:
        node = mfp.MFNode(tau=2.0, membrane_bits=2, store_v_seq=record, **kwargs).double()
        x = torch.full((6, 2, 3), 0.6, dtype=torch.float64)
        x[3, 1, 2] = bad
        x.requires_grad_(True)
        s = node(x)
        xr = x.detach().clone().requires_grad_(True)
        kernel = torch.tril(node.kernel_weight.detach()) if "kernel" in kwargs else None
        s_ref, ht_ref, h_ref = mf_reference(xr, 0.5, 1.0, 2, kernel=kernel)
        # the reference loop sums causal terms only (its forward value; s_ref is NaN where H is)
        assert torch.equal(s, (ht_ref.detach() >= 1.0).double())
        assert torch.equal(s[:3], torch.ones(3, 2, 3, dtype=torch.float64))
        if record:
            assert torch.isfinite(node.h_seq[:3]).all() and not torch.isfinite(node.h_seq[3, 1, 2])
        s.sum().backward()
        # the gradients of the columns without the bad value are untouched by it
        good = torch.ones(2, 3, dtype=torch.bool)
        good[1, 2] = False
        s_ref.sum().backward()
        torch.testing.assert_close(x.grad[:, good], xr.grad[:, good])
        if bad != bad or "kernel" in kwargs:  # NaN (or inf times a kernel weight) propagates: no spikes hidden
            return
        torch.testing.assert_close(x.grad[:3, 1, 2], xr.grad[:3, 1, 2])  # finite: sigma'(+-inf) = 0
    finally:
        ck.set_enabled(None)


def test_recording_does_not_change_the_output_on_any_path():
    from mfp_plugin.backends import cpu_kernel as ck

    x = torch.full((4, 1, 1), 0.6)
    x[3] = float("inf")
    for enabled in (True, False):
        ck.set_enabled(enabled)
        try:
            outs = [mfp.MFNode(membrane_bits=2, store_v_seq=r)(x).flatten().tolist() for r in (False, True)]
        finally:
            ck.set_enabled(None)
        assert outs == [[1.0, 1.0, 1.0, 1.0]] * 2, (enabled, outs)


def test_cupy_backend_is_refused_where_it_cannot_run():
    # Configuration errors come before the availability check: they hold on any machine.
    with pytest.raises(ValueError, match="kernel='learnable'"):
        mfp.MFNode(kernel="learnable", T=4, backend="cupy")
    with pytest.raises(ValueError, match="learnable_decay=True"):
        mfp.MFNode(learnable_decay=True, backend="cupy")
    node = mfp.MFNode(learnable_decay=True)
    assert node.supported_backends == ("torch",)
    with pytest.raises(ValueError, match="fixed decay"):
        node.backend = "cupy"
    node = mfp.MFNode(step_mode="s")
    with pytest.raises(ValueError, match="step_mode='m'"):
        node.backend = "cupy"


def test_multi_step_potential_is_differentiable_and_pure():
    node = mfp.MFNode(tau=2.0, membrane_bits=2)
    x = (torch.rand(5, 3, 4, dtype=torch.float64) * 1.5).requires_grad_(True)
    s, ht, h = node.multi_step_potential(x)
    xr = x.detach().clone().requires_grad_(True)
    s_ref, ht_ref, h_ref = mf_reference(xr, 0.5, 1.0, 2)
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(ht, ht_ref)
    (s.sum() + (h * 0.3).sum() + ht.sum()).backward()
    (s_ref.sum() + (h_ref * 0.3).sum() + ht_ref.sum()).backward()
    torch.testing.assert_close(x.grad, xr.grad)
    assert node.v_seq is None and node.acc is None


def test_step_mode_shape_errors_say_what_to_do():
    with pytest.raises(ValueError, match="step_mode='s'"):
        mfp.MFNode()(torch.zeros(5))
    with pytest.raises(ValueError, match="0-dim"):
        mfp.MFNode(step_mode="s")(torch.zeros(()))
    node = mfp.MFNode(step_mode="s")
    node(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="streaming state"):
        node(torch.zeros(4, 2, 3))  # a [T, B, N] sequence fed to 's' mode
