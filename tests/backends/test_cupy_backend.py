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
def test_cpu_input_is_rejected():
    with pytest.raises(ValueError, match="CUDA"):
        cb.mf_exp_multi_step(torch.zeros(4, 3), 0.5, 1.0, None, None)


def test_unsupported_dtype():
    with pytest.raises(TypeError, match="float32"):
        cb.kernel_source(torch.int32)


def test_builtin_surrogates():
    assert cb._builtin_surrogate(sg.ATan(2.0)) == (0, 1.0, math.pi)
    assert cb._builtin_surrogate(sg.Sigmoid(4.0)) == (1, 4.0, 0.0)
    assert cb._builtin_surrogate(sg.FastSigmoid(25.0)) == (2, 25.0, 0.0)
    assert cb._builtin_surrogate(sg.CallableSurrogate(torch.sigmoid)) is None

    class MyATan(sg.ATan):  # a subclass may change derivative(): take the torch path
        pass

    assert cb._builtin_surrogate(MyATan()) is None


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
    "mf_exp_potential": "PPILA",
    "mf_exp_reverse_scan": "PPILA",
    "mf_exp_backward": "PPPILAAIAA",
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
    """(spikes, grad) of the kernels (through _MFExpCupy) and of the torch reference, on [T, N] input."""
    T = x.shape[0]
    xa = x.clone().requires_grad_(True)
    s_a = cb._MFExpCupy.apply(xa, beta, firing_threshold(theta, bits), sg.resolve_surrogate(surrogate))
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
    s = cb._MFExpCupy.apply(x, 0.5, 1.0, sg.ATan())
    s.sum().backward()
    assert s.shape == (3, 0) and x.grad.shape == (3, 0)


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
