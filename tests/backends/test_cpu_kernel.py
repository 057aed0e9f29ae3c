"""The fused C scan behind MFNode's torch backend on CPU tensors.

``_scan`` runs the C launcher through the shared autograd Function
(``backends.scan``), as ``MFNode`` does; ``_gemm`` the pure GEMM form of
``functional.mf``. Values and gradients are compared with the independent loop in
``tests/_reference.py`` (float64) and with the GEMM path (float32), over odd
shapes, several column blocks and threads, non-contiguous inputs, every
built-in surrogate, a surrogate evaluated by torch (the fallback kernels),
a broadcast upstream gradient (``y.sum().backward()``) and outputs large
enough for the non-temporal stores. A subprocess checks that a missing
compiler falls back to the GEMM with one warning; others that a corrupt
cached library is rebuilt instead of being loaded.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mfp_plugin as mfp
from mfp_plugin.backends import cpu_kernel as ck
from mfp_plugin.backends import scan
from mfp_plugin.functional import surrogate as sg
from mfp_plugin.functional.membrane import firing_threshold
from mfp_plugin.functional.mf import exp_kernel, mf_multi_step
from mfp_plugin.functional.mf import mf_exp_multi_step as _gemm_form

from _reference import atan_primitive, mf_reference

pytestmark = pytest.mark.skipif(not ck.is_available(), reason="no C compiler: the GEMM path is used")


@pytest.fixture
def kernel_on():
    ck.set_enabled(True)
    yield
    ck.set_enabled(None)


def mf_exp_multi_step(x, beta, theta=1.0, bits=None, surrogate=None, return_potential=False):
    """The C scan, as MFNode runs it on a CPU tensor (the launcher through ``scan.mf_exp_scan``)."""
    assert ck.supports(x), "the C scan cannot run this tensor"
    return scan.mf_exp_scan(x, ck.LAUNCHER, beta, firing_threshold(theta, bits), sg.resolve_surrogate(surrogate),
                            return_potential)


def _gemm(x, beta, theta, bits, surrogate):
    return _gemm_form(x, beta, theta, bits, surrogate)


def _run_both(x0, beta, theta, bits, surrogate, grad=None):
    """(spikes, grad_x) of the C scan and of the GEMM on copies of ``x0``."""
    out = []
    for run in (mf_exp_multi_step, _gemm):
        x = x0.detach().clone().requires_grad_(True)
        s = run(x, beta, theta, bits, surrogate)
        (s.sum() if grad is None else (s * grad).sum()).backward()
        out.append((s.detach(), x.grad))
    return out


def test_dispatch_uses_the_c_scan(kernel_on, monkeypatch):
    calls = []
    real = scan.ExpScan.apply
    monkeypatch.setattr(scan.ExpScan, "apply", lambda x, launcher, *a: calls.append(launcher.name) or real(x, launcher, *a))
    x = torch.rand(4, 3, 5)
    mfp.MFNode(tau=2.0)(x)
    assert calls == ["cpu"]
    mfp.MFNode(tau=2.0, learnable_decay=True)(x)  # the scan gives the decay its gradient
    assert calls == ["cpu", "cpu"]
    # Not for: a learnable kernel, and when disabled.
    mfp.MFNode(tau=2.0, kernel="learnable", T=4)(x)
    ck.set_enabled(False)
    mfp.MFNode(tau=2.0)(x)
    mfp.MFNode(tau=2.0, learnable_decay=True)(x)
    assert calls == ["cpu", "cpu"]


def test_the_node_decides_in_one_place(kernel_on, monkeypatch):
    x = torch.rand(4, 3, 5)
    assert mfp.MFNode()._launcher_for(x) is ck.LAUNCHER
    assert mfp.MFNode()._launcher_for(x.half()) is ck.LAUNCHER  # float16: scanned in float32
    assert mfp.MFNode(kernel="learnable", T=4)._launcher_for(x) is None
    assert mfp.MFNode(learnable_decay=True)._launcher_for(x) is ck.LAUNCHER
    monkeypatch.setenv("MFP_CPU_KERNEL", "0")
    ck.set_enabled(None)
    assert mfp.MFNode()._launcher_for(x) is None
    ck.set_enabled(True)
    assert mfp.MFNode()._launcher_for(x) is ck.LAUNCHER


@pytest.mark.parametrize("bits", [None, 2])
def test_recording_runs_the_same_scan(kernel_on, monkeypatch, bits):
    # store_v_seq used to leave the C scan for the GEMM: the same spikes bit for bit now, the potential
    # from the same pass, and the gradient of the unrecorded run.
    calls = []
    real = scan.ExpScan.apply
    monkeypatch.setattr(scan.ExpScan, "apply", lambda x, launcher, *a: calls.append((launcher.name, a[-1])) or real(x, launcher, *a))
    g = torch.Generator().manual_seed(29)
    x0 = torch.rand(12, 3, 700, generator=g) * 1.2
    grad = torch.randn(12, 3, 700, generator=g)
    runs = []
    for record in (False, True):
        x = x0.clone().requires_grad_(True)
        node = mfp.MFNode(tau=3.0, membrane_bits=bits, store_v_seq=record)
        s = node(x)
        (s * grad).sum().backward()
        runs.append((s.detach(), x.grad, node))
    assert calls == [("cpu", False), ("cpu", True)]
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    node = runs[1][2]
    # H from the fused pass has the potential kernel's bits: the streaming accumulator's (same rounding).
    stream = mfp.MFNode(tau=3.0, membrane_bits=bits, step_mode="s", store_v_seq=True)
    for t in range(12):
        stream(x0[t])
    assert torch.equal(node.h_seq, stream.h_seq) and torch.equal(node.v_seq, stream.v_seq)


def _bits(t):
    return t.view({torch.float64: torch.int64, torch.float32: torch.int32, torch.bfloat16: torch.int16}[t.dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("threads,streamed", [(1, False), (2, False), (2, True)])
def test_fused_forward_potential_is_bit_exact(kernel_on, monkeypatch, dtype, threads, streamed):
    # mf_exp_forward_potential_* (spikes and H in one pass) must give the spikes of mf_exp_forward_* and
    # the H of mf_exp_potential_*, bit for bit, NaN included: over several column blocks, one and two
    # threads and the non-temporal store path.
    g = torch.Generator().manual_seed(31)
    x = (torch.rand(9, 3 * 4099, generator=g) * 1.5).to(dtype)
    x[4, 17] = float("nan")
    x[2, 5] = float("inf")
    monkeypatch.setattr(ck, "_STREAM_MIN_BYTES", 0 if streamed else 1 << 62)
    monkeypatch.setattr(ck, "_PARALLEL_MIN_ELEMENTS", 0)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        s_ref, h_ref, s, h = (torch.full_like(x, -7.0) for _ in range(4))
        ck.LAUNCHER.forward(x, s_ref, None, 0.7, 0.9)
        ck.LAUNCHER.potential(x, h_ref, 0.7)
        ck.LAUNCHER.forward(x, s, h, 0.7, 0.9)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(_bits(s), _bits(s_ref)) and torch.equal(_bits(h), _bits(h_ref))
    assert torch.isnan(h[4:, 17]).all() and not torch.isnan(h[:4]).any()  # causal: nothing before step 4


@pytest.mark.parametrize("surrogate", [sg.ATan(2.0), sg.CallableSurrogate(lambda x: torch.sigmoid(3 * x))],
                         ids=["atan", "callable"])
def test_gradient_through_the_potential(kernel_on, surrogate):
    # A loss on H (MFLeaky's mem) reaches X through the reverse scan: compare with the reference loop.
    g = torch.Generator().manual_seed(37)
    x0 = torch.rand(7, 2, 300, generator=g, dtype=torch.float64) * 1.5
    w_s, w_h = (torch.randn(7, 2, 300, generator=g, dtype=torch.float64) for _ in range(2))
    x = x0.clone().requires_grad_(True)
    s, h = mf_exp_multi_step(x, 0.6, 1.0, 2, surrogate, return_potential=True)
    xr = x0.clone().requires_grad_(True)
    prim = (lambda z: torch.sigmoid(3 * z)) if isinstance(surrogate, sg.CallableSurrogate) else atan_primitive
    sr, _, hr = mf_reference(xr, 0.6, 1.0, 2, primitive=prim)
    torch.testing.assert_close(h.detach(), hr.detach(), rtol=1e-12, atol=1e-12)
    for loss, loss_ref in (((s * w_s).sum() + (h * w_h).sum(), (sr * w_s).sum() + (hr * w_h).sum()),
                           ((h * w_h).sum(), (hr * w_h).sum())):
        x.grad = xr.grad = None
        (gx,) = torch.autograd.grad(loss, x, retain_graph=True)
        (gr,) = torch.autograd.grad(loss_ref, xr, retain_graph=True)
        torch.testing.assert_close(gx, gr, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("T", [1, 2, 9])
@pytest.mark.parametrize("surrogate", [sg.ATan(2.0), sg.CallableSurrogate(lambda x: torch.sigmoid(3 * x))],
                         ids=["atan", "callable"])
@pytest.mark.parametrize("loss_on", ["spikes", "spikes+potential", "potential"])
@pytest.mark.parametrize("input_grad", [True, False])
def test_learnable_decay_gradient_matches_reference_loop(kernel_on, T, surrogate, loss_on, input_grad):
    # dL/dbeta = sum_t B[t] . A[t-1] from the scan against autograd through the loop's beta ** (t - i),
    # on a channels-last map (scanned in place), with and without the input needing its own gradient.
    g = torch.Generator().manual_seed(T)
    x0 = (torch.rand(T, 2, 3, 5, 4, generator=g, dtype=torch.float64) * 1.5).contiguous(
        memory_format=torch.channels_last_3d)
    w_s, w_h = (torch.randn(T, 2, 3, 5, 4, generator=g, dtype=torch.float64) for _ in range(2))
    prim = (lambda z: torch.sigmoid(3 * z)) if isinstance(surrogate, sg.CallableSurrogate) else atan_primitive
    beta, beta_r = (torch.tensor(0.6, dtype=torch.float64, requires_grad=True) for _ in range(2))
    x, xr = (x0.clone().requires_grad_(input_grad) for _ in range(2))
    s, h = mf_exp_multi_step(x, beta, 1.0, 2, surrogate, return_potential=True)
    sr, _, hr = mf_reference(xr, beta_r, 1.0, 2, primitive=prim)
    assert torch.equal(s.detach(), sr.detach()) and s.stride() == x0.stride()
    loss = {"spikes": (s * w_s).sum(), "potential": (h * w_h).sum(), "spikes+potential": (s * w_s).sum() + (h * w_h).sum()}
    loss_r = {"spikes": (sr * w_s).sum(), "potential": (hr * w_h).sum(),
              "spikes+potential": (sr * w_s).sum() + (hr * w_h).sum()}
    loss[loss_on].backward()
    loss_r[loss_on].backward()
    if T == 1:
        assert beta.grad.item() == 0.0 == beta_r.grad.item()
    else:
        assert beta.grad.abs().item() > 1e-3  # a real gradient, compared below
    torch.testing.assert_close(beta.grad, beta_r.grad, rtol=1e-10, atol=1e-12)
    if input_grad:
        torch.testing.assert_close(x.grad, xr.grad, rtol=1e-12, atol=1e-12)
    else:
        assert x.grad is None


def test_learnable_decay_gradient_in_bfloat16_and_float32(kernel_on):
    # bfloat16 rows: A rescanned in float32, only B rounded to 8 bits, the products summed in float32: the decay's
    # gradient stays within 1 % of float64's on the same (bfloat16-exact) input and loss (0.6 % measured).
    g = torch.Generator().manual_seed(8)
    x0 = (torch.rand(8, 4, 2000, generator=g) * 1.5).bfloat16().float()
    w = torch.randn(8, 4, 2000, generator=g).bfloat16().float()
    grads = {}
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        beta = torch.tensor(0.55, requires_grad=True)
        s, h = mf_exp_multi_step(x0.to(dtype), beta, 1.0, None, None, return_potential=True)
        (h.double() * w).sum().backward()  # through H only: no spike flips between the dtypes
        grads[dtype] = beta.grad.item()
    assert grads[torch.float32] == pytest.approx(grads[torch.float64], rel=1e-5)
    assert grads[torch.bfloat16] == pytest.approx(grads[torch.float64], rel=1e-2), grads


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_inputs_are_scanned_in_float32(kernel_on, dtype):
    g = torch.Generator().manual_seed(17)
    x0 = (torch.rand(6, 3, 129, generator=g) * 1.5).to(dtype)
    grad = torch.randn(6, 3, 129, generator=g).to(dtype)
    x = x0.clone().requires_grad_(True)
    s = mf_exp_multi_step(x, 0.5, 1.0, 2)
    (s * grad).sum().backward()
    assert s.dtype == dtype and x.grad.dtype == dtype
    xr = x0.double().requires_grad_(True)
    sr, _, _ = mf_reference(xr, 0.5, 1.0, 2)
    (sr * grad.double()).sum().backward()
    assert torch.equal(s.double(), sr.detach())  # H of half inputs is exact in float32 here
    torch.testing.assert_close(x.grad.double(), xr.grad, rtol=1e-2, atol=1e-2)
    # Under CPU autocast a whole node runs and keeps the autocast dtype.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = torch.nn.Sequential(torch.nn.Linear(129, 129), mfp.MFNode())(x0.float())
    assert out.dtype == torch.bfloat16


@pytest.mark.parametrize("surrogate", [sg.ATan(2.0), sg.Sigmoid(4.0), sg.FastSigmoid(25.0),
                                       sg.CallableSurrogate(lambda x: torch.sigmoid(3 * x))],
                         ids=["atan", "sigmoid", "fast_sigmoid", "callable"])
@pytest.mark.parametrize("broadcast_grad", [False, True], ids=["grad", "sum"])
def test_bfloat16_native_gives_the_bits_of_a_float32_scan(kernel_on, monkeypatch, surrogate, broadcast_grad):
    # bfloat16 is read/written as bfloat16 by the C code (built-in surrogates) and must give the
    # bits of: convert to float32, scan, round back (round to nearest even; NaN stays NaN).
    g = torch.Generator().manual_seed(23)
    x0 = (torch.rand(5, 3, 5000, generator=g) * 1.5).bfloat16()  # several column blocks
    x0[2, 1, 7] = float("nan")
    x0[3, 0, 11] = float("inf")
    grad = None if broadcast_grad else torch.randn(5, 3, 5000, generator=g).bfloat16()
    called = []
    real_run = ck._run
    monkeypatch.setattr(ck, "_run", lambda fn, *a: called.append(fn.__name__) or real_run(fn, *a))
    x = x0.clone().requires_grad_(True)
    s = mf_exp_multi_step(x, 0.5, 1.0, None, surrogate)
    (s.sum() if grad is None else (s * grad).sum()).backward()
    native = not isinstance(surrogate, sg.CallableSurrogate)
    assert ("mf_exp_forward_bf16" in called) == native
    assert ("mf_exp_backward_bf16" in called) == native
    xf = x0.float().requires_grad_(True)
    sf = mf_exp_multi_step(xf, 0.5, 1.0, None, surrogate)
    (sf.sum() if grad is None else (sf * grad.float()).sum()).backward()
    assert s.dtype == x.grad.dtype == torch.bfloat16
    assert torch.equal(s.view(torch.int16), sf.bfloat16().view(torch.int16))
    ref = xf.grad.bfloat16()
    nan = torch.isnan(ref)
    assert torch.equal(torch.isnan(x.grad), nan)  # NaN payloads/signs may differ, not positions
    assert nan[:, 1, 7].all() and nan.sum() == 5  # the NaN reaches every step's gradient
    assert torch.equal(x.grad[~nan].view(torch.int16), ref[~nan].view(torch.int16))


@pytest.mark.parametrize("T,shape", [(1, (5,)), (3, (2, 7)), (7, (3, 1300)), (16, (4, 2, 1025))])
@pytest.mark.parametrize("bits", [None, 2, 4])
def test_matches_reference_loop_float64(kernel_on, T, shape, bits):
    g = torch.Generator().manual_seed(T * 10 + (bits or 0))
    x0 = (torch.rand((T, *shape), generator=g, dtype=torch.float64) * 1.6 - 0.2)
    grad = torch.randn((T, *shape), generator=g, dtype=torch.float64)
    beta = 0.6
    x = x0.clone().requires_grad_(True)
    s = mf_exp_multi_step(x, beta, 1.0, bits)
    (s * grad).sum().backward()
    xr = x0.clone().requires_grad_(True)
    sr, _, _ = mf_reference(xr, beta, 1.0, bits)
    (sr * grad).sum().backward()
    assert torch.equal(s.detach(), sr.detach())
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("surrogate", [sg.ATan(2.0), sg.ATan(5.0), sg.Sigmoid(4.0), sg.FastSigmoid(25.0),
                                       sg.CallableSurrogate(lambda x: torch.sigmoid(3 * x))],
                         ids=["atan2", "atan5", "sigmoid", "fast_sigmoid", "callable"])
@pytest.mark.parametrize("broadcast_grad", [False, True], ids=["grad", "sum"])
def test_surrogates_match_gemm_path_float64(kernel_on, surrogate, broadcast_grad):
    g = torch.Generator().manual_seed(3)
    x0 = torch.rand(9, 2, 777, generator=g, dtype=torch.float64) * 1.5
    grad = None if broadcast_grad else torch.randn(9, 2, 777, generator=g, dtype=torch.float64)
    (s_c, g_c), (s_g, g_g) = _run_both(x0, 0.75, 1.0, 2, surrogate, grad)
    assert torch.equal(s_c, s_g)
    torch.testing.assert_close(g_c, g_g, rtol=1e-11, atol=1e-12)


def test_float32_matches_gemm_path_and_reference(kernel_on):
    g = torch.Generator().manual_seed(5)
    x0 = torch.rand(16, 3, 4099, generator=g) * 1.5
    grad = torch.randn(16, 3, 4099, generator=g)
    (s_c, g_c), (s_g, g_g) = _run_both(x0, 0.5, 1.0, None, None, grad)
    # The scan and the GEMM sum in a different order: a spike may differ only where H is
    # within float32 rounding of theta.
    h = mf_multi_step(x0.double(), exp_kernel(0.5, 16, dtype=torch.float64), 1.0, None, None, True)[2]
    differ = s_c != s_g
    assert differ.float().mean() < 1e-4
    assert ((h[differ] - 1.0).abs() < 1e-5).all()
    same = ~differ.any(0, keepdim=True).expand_as(differ)  # columns whose spikes all agree
    torch.testing.assert_close(g_c[same], g_g[same], rtol=1e-5, atol=1e-6)


def test_non_contiguous_input(kernel_on):
    g = torch.Generator().manual_seed(7)
    base = torch.rand(300, 8, generator=g, dtype=torch.float64) * 1.5
    x0 = base.t()  # [8, 300] view with strides (1, 8)
    assert not x0.is_contiguous()
    x = x0.detach().clone().requires_grad_(True)  # clone keeps the strides
    assert not x.is_contiguous()
    s = mf_exp_multi_step(x, 0.5, 1.0, 2)
    grad = torch.randn(8, 300, generator=g, dtype=torch.float64)
    (s * grad).sum().backward()
    xr = x0.detach().clone().requires_grad_(True)
    sr, _, _ = mf_reference(xr, 0.5, 1.0, 2)
    (sr * grad).sum().backward()
    assert torch.equal(s.detach(), sr.detach())
    torch.testing.assert_close(x.grad, xr.grad)
    # A non-contiguous upstream gradient is accepted too.
    x.grad = None
    s = mf_exp_multi_step(x, 0.5, 1.0, 2)
    (s * grad.t().contiguous().t()).sum().backward()
    torch.testing.assert_close(x.grad, xr.grad)


def test_one_and_two_threads_agree_and_large_outputs_stream(kernel_on):
    # 4 x 2^20 float32 = 16 MiB: above the non-temporal-store threshold.
    g = torch.Generator().manual_seed(11)
    x0 = torch.rand(4, 1 << 20, generator=g) * 1.5
    assert x0.numel() * 4 >= ck._STREAM_MIN_BYTES
    old = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            x = x0.clone().requires_grad_(True)
            s = mf_exp_multi_step(x, 0.5, 1.0, None)
            s.sum().backward()
            results.append((s.detach(), x.grad))
    finally:
        torch.set_num_threads(old)
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
    # Spot check against a plain scan.
    a = torch.zeros(64)
    for t in range(4):
        a = 0.5 * a + x0[t, :64]
        assert torch.equal(results[0][0][t, :64], (a >= 1.0).float())


@pytest.mark.parametrize("n_cols", [1024, 1000, 37], ids=["aligned-rows", "mixed-alignment", "short-rows"])
@pytest.mark.parametrize("broadcast_grad", [False, True], ids=["grad", "sum"])
def test_non_temporal_store_path_gives_the_same_bits(kernel_on, monkeypatch, n_cols, broadcast_grad):
    # float32 outputs of >= _STREAM_MIN_BYTES take the vector non-temporal-store path (and,
    # with a broadcast gradient, the prefetching backward); force it on a small tensor and
    # compare with the ordinary-store path bit for bit, and with the float64 reference.
    # n_cols=1000: rows start alternately on and off a 64-byte boundary (scalar fallback).
    g = torch.Generator().manual_seed(19)
    x0 = torch.rand(9, 3, n_cols, generator=g) * 1.5
    grad = None if broadcast_grad else torch.randn(9, 3, n_cols, generator=g)
    runs = []
    for min_bytes in (1 << 62, 0):  # never stream, always stream
        monkeypatch.setattr(ck, "_STREAM_MIN_BYTES", min_bytes)
        x = x0.clone().requires_grad_(True)
        s = mf_exp_multi_step(x, 0.5, 1.0, None, sg.ATan(2.0))
        (s.sum() if grad is None else (s * grad).sum()).backward()
        runs.append((s.detach(), x.grad))
    assert torch.equal(runs[0][0], runs[1][0])
    assert torch.equal(runs[0][1], runs[1][1])
    xr = x0.double().requires_grad_(True)
    sr, _, h = mf_reference(xr, 0.5, 1.0, None)
    (sr.sum() if grad is None else (sr * grad.double()).sum()).backward()
    near = (h.detach() - 1.0).abs() < 1e-5  # float32 vs float64 rounding at the threshold
    assert torch.equal(runs[1][0][~near], sr.detach().float()[~near])
    torch.testing.assert_close(runs[1][1].double(), xr.grad, rtol=1e-4, atol=1e-5)


def test_streaming_mode_matches_c_scan_bit_for_bit(kernel_on):
    # Both evaluate beta * A + X with two roundings (the C code is built with -ffp-contract=off).
    g = torch.Generator().manual_seed(13)
    x = torch.rand(12, 5, 333, generator=g) * 1.2
    multi = mfp.MFNode(tau=3.0, membrane_bits=2)(x)
    node = mfp.MFNode(tau=3.0, membrane_bits=2, step_mode="s")
    single = torch.stack([node(x[t]) for t in range(12)])
    assert torch.equal(multi, single)


def test_empty_and_inference(kernel_on):
    x = torch.rand(3, 0)
    assert mf_exp_multi_step(x, 0.5).shape == (3, 0)
    with torch.no_grad():
        s = mf_exp_multi_step(torch.full((2, 4), 0.6), 0.5, 1.0, None)
    assert s.tolist() == [[0.0] * 4, [0.0] * 4]  # H = 0.6, 0.9
    s = mf_exp_multi_step(torch.full((2, 4), 0.6), 0.5, 1.0, 2)
    assert s.tolist() == [[1.0] * 4, [1.0] * 4]  # fires iff H >= 0.5


@pytest.mark.parametrize("entry", [mf_exp_multi_step, _gemm_form], ids=["scan", "gemm"])
def test_rejects_bad_decay_and_bad_shape(entry):
    if entry is _gemm_form:  # the fixed-decay GEMM form; the scan learns a decay (test below)
        with pytest.raises(ValueError, match="fixed decay"):
            entry(torch.rand(3, 4), torch.tensor(0.5, requires_grad=True))
    else:
        with pytest.raises(ValueError, match="one decay"):
            entry(torch.rand(3, 4), torch.tensor([0.5, 0.6], requires_grad=True))
    with pytest.raises(ValueError, match=r"\[T, \.\.\.\]"):
        entry(torch.rand(0, 4), 0.5)
    with pytest.raises(TypeError, match="True, False or None"):
        ck.set_enabled("yes")


def test_environment_switch(monkeypatch):
    monkeypatch.setenv("MFP_CPU_KERNEL", "0")
    assert not ck.enabled() and not ck.supports(torch.rand(2, 2))
    monkeypatch.setenv("MFP_CPU_KERNEL", "1")
    assert ck.enabled() and ck.supports(torch.rand(2, 2))
    assert ck.supports(torch.rand(2, 2).half()) and not ck.supports(torch.rand(2, 2).to(torch.int32))


def test_library_is_cached_by_source_and_cpu():
    path = ck.library_path()
    assert path.exists() and path.name.startswith("mf_exp_cpu-") and path.suffix == ".so"
    assert ck.has_openmp() in (True, False)


def test_missing_compiler_falls_back_to_gemm(tmp_path):
    code = (
        "import warnings, torch\n"
        "import mfp_plugin as mfp\n"
        "from mfp_plugin.functional.mf import mf_multi_step, exp_kernel\n"
        "from mfp_plugin.backends import cpu_kernel as ck\n"
        "x = torch.rand(5, 40, dtype=torch.float64)\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    node = mfp.MFNode(tau=2.0, v_threshold=0.8)\n"
        "    s = node(x)\n"
        "    s2 = node(x)\n"
        "    assert node._launcher_for(x) is None\n"
        "msgs = [str(m.message) for m in w if 'fused CPU kernel' in str(m.message)]\n"
        "assert len(msgs) == 1, msgs\n"
        "assert 'no C compiler' in msgs[0], msgs\n"
        "assert not ck.is_available()\n"
        "assert torch.equal(s, mf_multi_step(x, exp_kernel(0.5, 5, dtype=torch.float64), 0.8))\n"
        "print('ok')\n"
    )
    env = dict(os.environ, CC="/nonexistent/cc", MFP_CACHE_DIR=str(tmp_path), PATH=str(tmp_path))
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
    assert not list(tmp_path.glob("*.so"))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_channels_last_maps_are_scanned_in_place(kernel_on, monkeypatch, dtype):
    # A channels-last conv's output split into [T, B, C, H, W]: spikes and gradients come back in
    # that layout (no NCHW copy) with the reference's values.
    g = torch.Generator().manual_seed(13)
    T, B, C, H, W = 4, 2, 6, 5, 3
    x0 = (torch.rand(T * B, C, H, W, generator=g, dtype=torch.float64) * 1.5).to(dtype)
    x0 = x0.contiguous(memory_format=torch.channels_last).unflatten(0, (T, B))
    assert not x0.is_contiguous()
    seen = []
    apply = scan.ExpScan.apply
    monkeypatch.setattr(scan.ExpScan, "apply", lambda x, *a: seen.append(x.data_ptr()) or apply(x, *a))
    x = x0.detach().clone().requires_grad_(True)
    s = mf_exp_multi_step(x, 0.5, 1.0, 2)
    assert seen == [x.data_ptr()] and s.stride() == x.stride()
    grad = torch.randn(x.shape, generator=g, dtype=torch.float64).to(dtype)
    (s * grad).sum().backward()
    assert x.grad.stride() == x.stride()
    xr = x0.detach().double().contiguous().requires_grad_(True)
    sr, _, _ = mf_reference(xr, 0.5, 1.0, 2)
    (sr * grad.double()).sum().backward()
    assert torch.equal(s.double(), sr.detach())
    torch.testing.assert_close(x.grad.double(), xr.grad, rtol=1e-2 if dtype == torch.bfloat16 else 1e-7, atol=1e-6)


_LOAD_CORRUPT = r"""
import os, sys, shutil
from pathlib import Path
import torch
from mfp_plugin.backends import cpu_kernel as ck
from mfp_plugin.functional.mf import mf_multi_step, exp_kernel
import mfp_plugin as mfp

mode, real = sys.argv[1], Path(sys.argv[2])
path = ck.library_path()                      # under MFP_CACHE_DIR
path.parent.mkdir(parents=True, exist_ok=True)
data = real.read_bytes()
if mode == "empty":
    path.write_bytes(b"")
elif mode == "garbage":
    path.write_bytes(os.urandom(8192))
elif mode == "truncated":                     # what a crash between write and disk leaves behind
    path.write_bytes(data[: len(data) // 2])
elif mode == "truncated-with-checksum":       # ... even next to the checksum of the complete file
    path.write_bytes(data[: len(data) // 2])
    shutil.copy(ck.checksum_path(real), ck.checksum_path(path))
assert ck.is_available(), "the corrupt library was not rebuilt"
x = torch.rand(5, 3, 40, dtype=torch.float64)
node = mfp.MFNode(tau=2.0, v_threshold=0.8)
assert node._launcher_for(x) is ck.LAUNCHER
assert torch.equal(node(x), mf_multi_step(x, exp_kernel(0.5, 5, dtype=torch.float64), 0.8))
print("ok", path)
"""


@pytest.mark.parametrize("mode", ["empty", "garbage", "truncated", "truncated-with-checksum"])
def test_corrupt_cached_library_is_rebuilt(tmp_path, mode):
    # A zero-length, garbage or truncated .so in the cache used to be mapped as is (a truncated ELF file
    # kills the process with SIGBUS) and was never rebuilt. Run the load in a subprocess so that a
    # SIGBUS fails this test instead of pytest.
    real = ck.library_path()
    assert real.exists()
    env = dict(os.environ, MFP_CACHE_DIR=str(tmp_path))
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", _LOAD_CORRUPT, mode, str(real)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    assert proc.stdout.startswith("ok")
    built = Path(proc.stdout.split()[1])
    assert built.parent == tmp_path and built.stat().st_size > 0
    assert ck._verified(built)  # size and sha256 match the sidecar written with the rebuild
    assert not list(tmp_path.glob("tmp*"))  # no leftovers of the atomic write


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files through /proc")
def test_build_is_flushed_and_checksummed(tmp_path, monkeypatch):
    # The build goes to disk (fsync) before it is renamed into place next to its checksum.
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    target = tmp_path / "lib.so"
    ck._build(target)
    assert any(Path(p).name.startswith(".lib.so.tmp") for p in synced)  # the private file, before the rename
    size, digest = ck.checksum_path(target).read_text().split()
    assert int(size) == target.stat().st_size and digest == hashlib.sha256(target.read_bytes()).hexdigest()
    assert ck._verified(target)
    target.write_bytes(target.read_bytes()[:-1])
    assert not ck._verified(target)
