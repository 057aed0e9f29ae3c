"""The cupy backend of MFNode (fused exp-kernel scan).

Without a GPU these tests check: ``check_available`` (cupy missing / no CUDA /
everything present), the argument checks, that the CUDA source compiles with
nvcc when nvcc is installed, and -- by compiling the very same kernel source
for the host with g++ and running it thread by thread -- that the kernels and
their Python launch code compute the torch backend's spikes and gradients.
The tests marked ``cuda`` run the real cupy kernels and need a CUDA device.
"""
from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
import sys
import types

import pytest
import torch

import mfp_plugin as mfp
from mfp_plugin.backends import cupy_backend as cb
from mfp_plugin.backends import scan
from mfp_plugin.backends.surrogate_codes import builtin_surrogate
from mfp_plugin.functional import surrogate as sg
from mfp_plugin.functional.membrane import firing_threshold
from mfp_plugin.functional.mf import exp_kernel, mf_multi_step

try:
    import cupy  # noqa: F401

    HAVE_CUPY = True
except Exception:  # pragma: no cover - depends on the machine
    HAVE_CUPY = False

HAVE_GPU = HAVE_CUPY and torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason="needs cupy and a CUDA device")


# ------------------------------------------------------------------ check_available
def test_check_available_without_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    with pytest.raises(ImportError, match="cupy") as info:
        cb.check_available()
    assert "mfp-plugin[cuda12]" in str(info.value) and "mfp-plugin[cuda13]" in str(info.value)


def test_check_available_cupy_without_cuda(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", types.ModuleType("cupy"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ImportError, match="CUDA"):
        cb.check_available()


def test_check_available_all_present(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", types.ModuleType("cupy"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cb.check_available() is None


@pytest.mark.skipif(HAVE_GPU, reason="checks the error on a machine without cupy or CUDA")
def test_check_available_here_raises():
    with pytest.raises(ImportError, match="cupy|CUDA"):
        cb.check_available()
    with pytest.raises(ImportError, match="cupy|CUDA"):
        mfp.MFNode(backend="cupy")


def test_module_imports_without_cupy(monkeypatch):
    import importlib

    monkeypatch.setitem(sys.modules, "cupy", None)
    importlib.reload(cb)  # importing the backend never imports cupy


# ------------------------------------------------------------------ argument checks
def test_cpu_input_is_rejected(monkeypatch):
    with pytest.raises(ValueError, match="CUDA"):
        cb.check_input(torch.zeros(4, 3))
    # The node runs that check before every multi-step call with backend='cupy': no silent CPU path.
    monkeypatch.setattr(cb, "check_available", lambda: None)
    node = mfp.MFNode(backend="cupy")
    with pytest.raises(ValueError, match="CUDA"):
        node(torch.zeros(4, 3))


def test_cupy_refuses_what_it_cannot_run(monkeypatch):
    # A learnable kernel or decay learns on backend='torch': backend='cupy' is a clear error at
    # construction and at assignment, not a silent GEMM.
    monkeypatch.setattr(cb, "check_available", lambda: None)
    with pytest.raises(ValueError, match="kernel='learnable'.*GEMM"):
        mfp.MFNode(kernel="learnable", T=4, backend="cupy")
    with pytest.raises(ValueError, match="learnable_decay=True.*GEMM"):
        mfp.MFNode(learnable_decay=True, backend="cupy")
    node = mfp.MFNode(kernel="learnable", T=4)
    assert node.supported_backends == ("torch",)
    with pytest.raises(ValueError, match="supports backend"):
        node.backend = "cupy"
    assert node.backend == "torch"
    assert mfp.MFNode(backend="cupy").supported_backends == ("torch", "cupy")


def test_cupy_node_dispatches_to_the_cupy_launcher(monkeypatch):
    monkeypatch.setattr(cb, "check_available", lambda: None)
    monkeypatch.setattr(cb, "check_input", lambda x: None)  # pretend the tensor is on a GPU
    node = mfp.MFNode(backend="cupy")
    assert node._launcher_for(torch.zeros(3, 2)) is cb.LAUNCHER


def test_unsupported_dtype():
    with pytest.raises(TypeError, match="float32"):
        cb.kernel_source(torch.int32)


def test_builtin_surrogates():
    assert builtin_surrogate(sg.ATan(2.0)) == (0, 1.0, math.pi)
    assert builtin_surrogate(sg.Sigmoid(4.0)) == (1, 4.0, 0.0)
    assert builtin_surrogate(sg.FastSigmoid(25.0)) == (2, 25.0, 0.0)
    assert builtin_surrogate(sg.CallableSurrogate(torch.sigmoid)) is None

    class MyATan(sg.ATan):  # a subclass may change derivative(): take the torch path
        pass

    assert builtin_surrogate(MyATan()) is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_kernel_source(dtype):
    src = cb.kernel_source(dtype)
    for name in cb.KERNEL_NAMES:
        assert f'extern "C" __global__ void {name}(' in src
    assert src.count("{") == src.count("}") and src.count("(") == src.count(")")
    assert "#include" not in src  # NVRTC needs no CUDA header


# ------------------------------------------------------------------ nvcc compile check
NVCC = shutil.which("nvcc")


@pytest.mark.skipif(NVCC is None, reason="nvcc not installed")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_kernel_source_compiles_with_nvcc(dtype, tmp_path):
    src = tmp_path / "k.cu"
    src.write_text(cb.kernel_source(dtype))
    for arch in ("sm_75", "sm_90"):
        res = subprocess.run(
            [NVCC, "-cubin", f"-arch={arch}", "-Werror", "all-warnings", "-o", str(tmp_path / f"k_{arch}.cubin"),
             str(src)],
            capture_output=True, text=True, timeout=300,
        )
        assert res.returncode == 0, res.stderr


# ------------------------------------------------------------------ host emulation of the kernels
GXX = shutil.which("g++")

_EMU_PRELUDE = r"""
#include <math.h>
#include <string.h>
struct EmuDim { unsigned int x, y, z; };
static EmuDim blockIdx, blockDim, threadIdx;
#define __global__
#define __device__
#define __forceinline__ inline
static inline float __uint_as_float(unsigned int u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned int __float_as_uint(float f) { unsigned int u; memcpy(&u, &f, 4); return u; }
"""

# The half conversions are PTX in the real kernel; on the host, _Float16 does the same rounding.
_EMU_HALF = r"""
static inline acc_t to_acc(const scalar_t v) { _Float16 h; memcpy(&h, &v, 2); return (float)h; }
static inline scalar_t from_acc(const acc_t f) { _Float16 h = (_Float16)f; scalar_t v; memcpy(&v, &h, 2); return v; }
"""

# Kernel signatures: P pointer, I int32, L int64, A accumulator float.
_SIGNATURES = {
    "mf_exp_forward": "PPILAA",
    "mf_exp_forward_potential": "PPPILAA",
    "mf_exp_potential": "PPILA",
    "mf_exp_reverse_scan": "PPILA",
    "mf_exp_backward": "PPIPILAAIAA",
}


def _emu_wrappers(acc):
    ctypes_of = {"P": "void*", "I": "int", "L": "long long", "A": acc}
    out = []
    for name, sig in _SIGNATURES.items():
        params = ", ".join(f"{ctypes_of[c]} a{i}" for i, c in enumerate(sig))
        call_args = ", ".join(
            f"(const scalar_t*)a{i}" if c == "P" and i == 0 else (f"(scalar_t*)a{i}" if c == "P" else f"a{i}")
            for i, c in enumerate(sig)
        )
        if name == "mf_exp_backward":  # pointers 0 and 1 are const
            call_args = call_args.replace("(scalar_t*)a1", "(const scalar_t*)a1", 1)
        n_arg = f"a{sig.index('L')}"
        out.append(
            f'extern "C" void emu_{name}({params}) {{\n'
            f"    for (unsigned int b = 0; b < (unsigned int)(({n_arg} + 255) / 256); ++b)\n"
            f"        for (unsigned int t = 0; t < 256; ++t) {{\n"
            f"            blockIdx.x = b; blockDim.x = 256; threadIdx.x = t;\n"
            f"            {name}({call_args});\n"
            f"        }}\n}}\n"
        )
    return "\n".join(out)


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    """``{dtype: ctypes library}`` of the kernel source compiled for the host."""
    if GXX is None:
        pytest.skip("g++ not installed")
    libs = {}
    d = tmp_path_factory.mktemp("emu")
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        src = cb.kernel_source(dtype)
        if dtype == torch.float16:
            src = src.replace(cb._CONVERT_HALF, _EMU_HALF)
        acc = "double" if dtype == torch.float64 else "float"
        name = str(dtype).split(".")[-1]
        path = d / f"{name}.cpp"
        path.write_text(_EMU_PRELUDE + src + _emu_wrappers(acc))
        so = d / f"{name}.so"
        res = subprocess.run([GXX, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(so), str(path)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            if dtype == torch.float16:  # _Float16 needs a recent g++
                continue
            raise AssertionError(res.stderr)
        libs[dtype] = ctypes.CDLL(str(so))
    return libs


@pytest.fixture
def emulate(emulated, monkeypatch):
    """Route ``cupy_backend._launch`` to the host build, checking every argument's C type."""
    import numpy

    def fake_launch(name, x, args):
        if x.dtype not in emulated:
            pytest.skip(f"no host build for {x.dtype}")
        sig = _SIGNATURES[name]
        acc = numpy.float64 if x.dtype == torch.float64 else numpy.float32
        expected = {"P": numpy.uint64, "I": numpy.int32, "L": numpy.int64, "A": acc}
        assert len(args) == len(sig)
        c_args = []
        for a, c in zip(args, sig):
            assert type(a) is expected[c], (name, a, c)
            c_args.append({"P": ctypes.c_void_p, "I": ctypes.c_int, "L": ctypes.c_longlong,
                           "A": ctypes.c_double if acc is numpy.float64 else ctypes.c_float}[c](a.item()))
        if x.shape[1] == 0:
            return
        getattr(emulated[x.dtype], f"emu_{name}")(*c_args)

    monkeypatch.setattr(cb, "_launch", fake_launch)
    return emulated


def _run_both(x, beta, theta, bits, surrogate, grad_s):
    """(spikes, grad) of the kernels (the cupy launcher through scan.ExpScan) and of the torch reference, on [T, N] input."""
    T = x.shape[0]
    xa = x.clone().requires_grad_(True)
    s_a = scan.ExpScan.apply(xa, cb.LAUNCHER, beta, firing_threshold(theta, bits), sg.resolve_surrogate(surrogate), False)
    s_a.backward(grad_s)
    xb = x.clone().requires_grad_(True)
    s_b = mf_multi_step(xb, exp_kernel(beta, T, dtype=x.dtype), theta, bits, surrogate)
    s_b.backward(grad_s)
    return s_a, xa.grad, s_b, xb.grad


def _dyadic(T, N, dtype):
    # multiples of 1/8 in [-1, 1]: with beta = 1/2 every H is exact in float32 for T <= 16
    return (torch.randint(-8, 9, (T, N)).to(torch.float64) / 8).to(dtype)


@pytest.mark.parametrize("T", [1, 4, 16])
@pytest.mark.parametrize("bits", [None, 2, 3])
@pytest.mark.parametrize("surrogate", [None, sg.Sigmoid(4.0), sg.FastSigmoid(25.0), sg.CallableSurrogate(torch.sigmoid)])
def test_emulated_float32_matches_torch(emulate, T, bits, surrogate):
    N = 1001  # not a multiple of the block size
    x = _dyadic(T, N, torch.float32)
    grad_s = torch.randn(T, N)
    s_a, g_a, s_b, g_b = _run_both(x, 0.5, 1.0, bits, surrogate, grad_s)
    assert s_a.dtype == torch.float32 and torch.equal(s_a, s_b)
    torch.testing.assert_close(g_a, g_b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("T", [1, 7, 33])
def test_emulated_float64_random(emulate, T):
    x = torch.randn(T, 300, dtype=torch.float64)
    grad_s = torch.randn(T, 300, dtype=torch.float64)
    s_a, g_a, s_b, g_b = _run_both(x, 0.75, 0.8, 3, sg.ATan(3.0), grad_s)
    assert torch.equal(s_a, s_b)
    torch.testing.assert_close(g_a, g_b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_emulated_half_precision(emulate, dtype):
    T, N = 8, 513
    x = _dyadic(T, N, dtype)
    grad_s = (torch.randint(-4, 5, (T, N)).to(torch.float64) / 4).to(dtype)
    s_a, g_a, _, _ = _run_both(x, 0.5, 1.0, 2, None, grad_s)
    # reference in float64 from the same (exact) inputs
    s_r, g_r, _, _ = _run_both(x.double(), 0.5, 1.0, 2, None, grad_s.double())
    assert s_a.dtype == dtype and torch.equal(s_a.double(), s_r)
    tol = 1e-2 if dtype == torch.float16 else 4e-2
    torch.testing.assert_close(g_a.double(), g_r, rtol=tol, atol=tol)


def test_emulated_empty_batch(emulate):
    x = torch.zeros(3, 0, requires_grad=True)
    s = scan.ExpScan.apply(x, cb.LAUNCHER, 0.5, 1.0, sg.ATan(), False)
    s.sum().backward()
    assert s.shape == (3, 0) and x.grad.shape == (3, 0)


@pytest.mark.parametrize("surrogate", [None, sg.CallableSurrogate(torch.sigmoid)], ids=["builtin", "callable"])
def test_emulated_broadcast_gradient(emulate, surrogate):
    # y.sum().backward(): the kernel reads the one broadcast value (gs_scalar) instead of a [T, N] copy.
    x = _dyadic(6, 700, torch.float32)
    xa = x.clone().requires_grad_(True)
    scan.ExpScan.apply(xa, cb.LAUNCHER, 0.5, 1.0, sg.resolve_surrogate(surrogate), False).sum().backward()
    xb = x.clone().requires_grad_(True)
    mf_multi_step(xb, exp_kernel(0.5, 6), 1.0, None, surrogate).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_emulated_forward_potential(emulate, dtype):
    # Spikes and H in one pass: the bits of mf_exp_forward and mf_exp_potential; a loss on H reaches X.
    T, N = 9, 513
    x = _dyadic(T, N, dtype)
    s_ref, h_ref, s, h = (torch.empty_like(x) for _ in range(4))
    cb.LAUNCHER.forward(x, s_ref, None, 0.5, 0.75)
    cb.LAUNCHER.potential(x, h_ref, 0.5)
    cb.LAUNCHER.forward(x, s, h, 0.5, 0.75)
    assert torch.equal(s, s_ref) and torch.equal(h, h_ref)
    assert torch.equal(h, _exact_potential(x, 0.5).to(dtype))  # dyadic: exact, then rounded once to dtype
    xa = x.double().clone().requires_grad_(True)
    s_a, h_a = scan.ExpScan.apply(xa, cb.LAUNCHER, 0.5, 0.75, sg.ATan(), True)
    w = torch.randn(T, N, dtype=torch.float64)
    ((s_a + h_a) * w).sum().backward()
    xb = xa.detach().clone().requires_grad_(True)
    s_b, _, h_b = mf_multi_step(xb, exp_kernel(0.5, T, dtype=torch.float64), 0.75, None, None, True)
    ((s_b + h_b) * w).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ on a CUDA device
def _node_pair(**kw):
    return mfp.MFNode(backend="cupy", **kw), mfp.MFNode(backend="torch", **kw)


def _exact_potential(x, beta):
    T = x.shape[0]
    return (exp_kernel(beta, T, dtype=torch.float64) @ x.double().reshape(T, -1).cpu()).reshape(x.shape)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("T", [1, 4, 16, 33])
@pytest.mark.parametrize("bits", [None, 2])
def test_gpu_dyadic_spikes_and_grads(T, bits):
    node_c, node_t = _node_pair(tau=2.0, membrane_bits=bits)
    x = _dyadic(T, 1001, torch.float32).reshape(T, 7, 143).cuda()
    g = torch.randn(x.shape, device="cuda")
    xc, xt = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    sc, st = node_c(xc), node_t(xt)
    assert sc.shape == x.shape and sc.dtype == x.dtype
    theta = firing_threshold(1.0, bits)
    far = ((_exact_potential(x, 0.5) - theta).abs() > 1e-4).cuda()
    assert torch.equal(sc[far], st[far])
    assert (sc == st).float().mean().item() >= 0.9999
    sc.backward(g)
    st.backward(g)
    torch.testing.assert_close(xc.grad, xt.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("surrogate", [sg.ATan(2.0), sg.Sigmoid(4.0), sg.FastSigmoid(10.0), "snntorch"])
def test_gpu_surrogates_random(surrogate):
    if surrogate == "snntorch":
        snn_sg = pytest.importorskip("snntorch.surrogate")
        surrogate = snn_sg.atan()
    node_c, node_t = _node_pair(tau=4.0, membrane_bits=3, surrogate_function=surrogate)
    x = torch.randn(16, 8, 200, device="cuda")
    xc, xt = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    sc, st = node_c(xc), node_t(xt)
    theta = firing_threshold(1.0, 3)
    far = ((_exact_potential(x, 0.75) - theta).abs() > 1e-4).cuda()
    assert torch.equal(sc[far], st[far])
    assert (sc == st).float().mean().item() >= 0.9999
    (sc * torch.arange(sc.numel(), device="cuda").reshape(sc.shape).sin()).sum().backward()
    (st * torch.arange(st.numel(), device="cuda").reshape(st.shape).sin()).sum().backward()
    torch.testing.assert_close(xc.grad, xt.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
@needs_gpu
def test_gpu_non_contiguous_input():
    node_c, node_t = _node_pair(tau=2.0)
    base = torch.randn(6, 40, 30, device="cuda")
    x = base.transpose(1, 2)[:, ::2]  # [6, 15, 40], not contiguous
    assert not x.is_contiguous()
    xc, xt = x.detach().clone().requires_grad_(True), x.detach().clone().requires_grad_(True)
    sc = node_c(x)
    assert sc.shape == x.shape
    far = ((_exact_potential(x, 0.5) - 1.0).abs() > 1e-4).cuda()
    assert torch.equal(sc[far], node_t(x)[far])
    node_c(xc).sum().backward()
    node_t(xt).sum().backward()
    torch.testing.assert_close(xc.grad, xt.grad, rtol=1e-5, atol=1e-5)


@needs_gpu
def test_gpu_channels_last_map_is_scanned_in_place():
    node_c, node_t = _node_pair(tau=2.0, membrane_bits=2)
    T, B = 4, 3
    x = torch.randn(T * B, 16, 9, 7, device="cuda").contiguous(memory_format=torch.channels_last)
    x = x.unflatten(0, (T, B))
    xc, xt = x.detach().clone().requires_grad_(True), x.detach().contiguous().requires_grad_(True)
    sc, st = node_c(xc), node_t(xt)
    assert sc.stride() == x.stride()  # spikes in the input's layout: no NCHW copy
    far = ((_exact_potential(x, 0.5) - firing_threshold(1.0, 2)).abs() > 1e-4).cuda()
    assert torch.equal(sc[far], st[far])
    g = torch.randn(x.shape, device="cuda")
    (sc * g).sum().backward()
    (st * g).sum().backward()
    assert xc.grad.stride() == x.stride()
    torch.testing.assert_close(xc.grad, xt.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_gpu_half_precision(dtype):
    node_c, node_t = _node_pair(tau=2.0, membrane_bits=2)
    x = torch.randn(8, 4, 300, device="cuda")
    xc = x.to(dtype).requires_grad_(True)
    sc = node_c(xc)
    assert sc.dtype == dtype and sc.shape == x.shape
    st = node_t(x.to(dtype).float())  # same rounded input, float32 reference
    assert (sc.float() == st).float().mean().item() >= 0.999
    sc.float().sum().backward()
    assert xc.grad.dtype == dtype and torch.isfinite(xc.grad).all()
    xt = x.to(dtype).float().requires_grad_(True)
    node_t(xt).sum().backward()
    torch.testing.assert_close(xc.grad.float(), xt.grad, rtol=2e-2, atol=2e-2)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("bits", [None, 2])
def test_gpu_recording_runs_the_same_kernel(bits):
    # store_v_seq=True used to run the GEMM for the potential: now the cupy scan yields it in the same pass.
    x = torch.randn(8, 3, 500, device="cuda")
    plain = mfp.MFNode(backend="cupy", membrane_bits=bits)
    recorded = mfp.MFNode(backend="cupy", membrane_bits=bits, store_v_seq=True)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    sa, sb = plain(xa), recorded(xb)
    assert torch.equal(sa, sb)
    sa.sum().backward()
    sb.sum().backward()
    assert torch.equal(xa.grad, xb.grad)
    torch.testing.assert_close(recorded.h_seq.double().cpu(), _exact_potential(x, 0.5), rtol=1e-5, atol=1e-5)
    x[5, 0, 7] = float("nan")  # causal: the steps before it keep their spikes
    s = recorded(x)
    assert torch.equal(s[:5], sb[:5]) and torch.isnan(recorded.h_seq[5:, 0, 7]).all()


@pytest.mark.cuda
@needs_gpu
def test_gpu_mfleaky_runs_the_cupy_kernel():
    from mfp_plugin.snntorch import MFLeaky

    lif = MFLeaky(beta=0.5, membrane_bits=2, backend="cupy")
    x = torch.randn(6, 4, 33, device="cuda", requires_grad=True)
    spk, mem = lif(x)
    mem_t, steps = lif.init_leaky(), []
    for t in range(6):
        spk_t, mem_t = lif(x[t], mem_t)
        steps.append(spk_t)
    far = ((_exact_potential(x.detach(), 0.5) - firing_threshold(1.0, 2)).abs() > 1e-4).cuda()
    assert torch.equal(spk[far], torch.stack(steps)[far])
    (spk.sum() + mem.sum()).backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.cuda
@needs_gpu
def test_gpu_stream_and_no_grad():
    node_c, node_t = _node_pair(tau=2.0)
    x = _dyadic(5, 999, torch.float32).cuda()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s), torch.no_grad():
        y = node_c(x)
    torch.cuda.current_stream().wait_stream(s)
    assert torch.equal(y, node_t(x))


@pytest.mark.cuda
@needs_gpu
def test_gpu_spikingjelly_legacy_set_backend():
    from spikingjelly.activation_based import functional, layer

    if not hasattr(functional, "set_backend"):
        pytest.skip("set_backend exists in SpikingJelly 0.0.0.0.14 only")
    net = torch.nn.Sequential(layer.Linear(3, 3), mfp.MFNode()).cuda()
    functional.set_backend(net, "cupy", instance=mfp.MFNode)
    assert net[1].backend == "cupy"
    x = torch.rand(4, 2, 3, device="cuda")
    y = net(x)
    assert y.shape == (4, 2, 3)
