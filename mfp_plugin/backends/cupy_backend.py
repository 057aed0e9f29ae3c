r"""Fused CUDA kernels for ``MFNode(kernel="exp")``, written with cupy (``backend="cupy"``).

Requires cupy (``pip install "mfp-plugin[cuda12]"`` or ``[cuda13]``) and a CUDA device.
cupy is imported lazily: importing this module never needs it.

The exp-kernel potential :math:`H[t] = \sum_{i \le t} \beta^{t-i} X[i]` is the
scan :math:`A[t] = \beta A[t-1] + X[t]`, so one CUDA thread per neuron ``n``
walks the T steps of its column of ``X`` (shape ``[T, N]``, row-major: the
threads of a warp read consecutive addresses at every step).

* Forward (``mf_exp_forward``): :math:`S[t] = [A[t] \ge \theta']`. Only the
  input ``X`` is saved for backward; nothing of size T x N is kept besides it.
* Backward (``mf_exp_backward``): one forward scan recomputes :math:`A[t]` and
  writes :math:`g_h[t] = g_s[t]\,\sigma'(A[t] - \theta')` into the ``grad_x``
  buffer; one reverse scan :math:`B[t] = \beta B[t+1] + g_h[t]` then
  overwrites it with :math:`\partial L / \partial X[t] = B[t]`
  (:math:`K^\top g_h` for :math:`K[t,i] = \beta^{t-i}`). Built-in surrogates
  (:class:`~..functional.surrogate.ATan`, ``Sigmoid``, ``FastSigmoid``) are
  evaluated inside the kernel; any other surrogate (e.g. a
  ``CallableSurrogate`` around an snnTorch ``spike_grad``) falls back to
  ``mf_exp_potential`` (writes :math:`H`), the surrogate's own torch code,
  then ``mf_exp_reverse_scan``.

Accumulation is in float32 for float32/float16/bfloat16 inputs (float64 for
float64); half-precision values are converted with inline PTX / bit
arithmetic, so no CUDA header is needed at NVRTC compile time.

Spikes equal the torch backend's (``K @ X``, a GEMM) except where :math:`H`
lies within float rounding of :math:`\theta'`, since the two sum in a
different order.
"""
from __future__ import annotations

import functools

import torch

from ..functional.membrane import firing_threshold
from ..functional.surrogate import resolve_surrogate
from .layout import time_major_rows
from .surrogate_codes import builtin_surrogate as _builtin_surrogate

_INSTALL_HINT = (
    "backend='cupy' needs cupy: install it with `pip install \"mfp-plugin[cuda12]\"` (CUDA 12) or "
    "`pip install \"mfp-plugin[cuda13]\"` (CUDA 13), or use backend='torch'"
)

#: Threads per block; the grid is ``ceil(N / THREADS)`` blocks.
THREADS = 256



def check_available() -> None:
    """Raise ImportError naming what is missing for ``backend='cupy'``; return None when usable."""
    try:
        import cupy  # noqa: F401
    except Exception as exc:  # ImportError, or a cupy build that fails to load its CUDA libraries
        raise ImportError(f"{_INSTALL_HINT} (importing cupy failed: {exc})") from exc
    if not torch.cuda.is_available():
        raise ImportError(
            "backend='cupy' needs a CUDA device, and torch.cuda.is_available() is False; use backend='torch'"
        )


# ---------------------------------------------------------------------------- CUDA source
# Per dtype: (storage type, accumulator type, numpy name of the accumulator, conversion helpers).
_CONVERT_IDENTITY = """
static __device__ __forceinline__ acc_t to_acc(const scalar_t v) { return (acc_t)v; }
static __device__ __forceinline__ scalar_t from_acc(const acc_t v) { return (scalar_t)v; }
"""

# IEEE half stored as its 16 bits; the same PTX that cuda_fp16.hpp uses for __half2float / __float2half.
_CONVERT_HALF = """
static __device__ __forceinline__ acc_t to_acc(const scalar_t v) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v));
    return f;
}
static __device__ __forceinline__ scalar_t from_acc(const acc_t f) {
    unsigned short v;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(v) : "f"(f));
    return v;
}
"""

# bfloat16 stored as its 16 bits: the top half of a float32; round to nearest even, NaN kept quiet.
_CONVERT_BF16 = """
static __device__ __forceinline__ acc_t to_acc(const scalar_t v) {
    return __uint_as_float(((unsigned int)v) << 16);
}
static __device__ __forceinline__ scalar_t from_acc(const acc_t f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (scalar_t)((u >> 16) | 0x0040u);
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    return (scalar_t)(u >> 16);
}
"""

_DTYPES = {
    torch.float32: ("float", "float", "float32", _CONVERT_IDENTITY),
    torch.float64: ("double", "double", "float64", _CONVERT_IDENTITY),
    torch.float16: ("unsigned short", "float", "float32", _CONVERT_HALF),
    torch.bfloat16: ("unsigned short", "float", "float32", _CONVERT_BF16),
}

_KERNELS = r"""
// sigma'(x) of the built-in surrogates.
//   kind 0, ATan:        p0 / (1 + (p1 x)^2)         p0 = alpha/2, p1 = pi alpha/2
//   kind 1, Sigmoid:     p0 sg (1 - sg), sg = 1 / (1 + exp(-p0 x))   p0 = alpha
//   kind 2, FastSigmoid: 1 / (1 + p0 |x|)^2          p0 = slope
static __device__ __forceinline__ acc_t surrogate_grad(const int kind, const acc_t p0, const acc_t p1, const acc_t x) {
    const acc_t one = (acc_t)1.0;
    if (kind == 0) {
        const acc_t z = p1 * x;
        return p0 / (one + z * z);
    }
    if (kind == 1) {
        const acc_t sg = one / (one + ACC_EXP(-p0 * x));
        return p0 * sg * (one - sg);
    }
    const acc_t d = one + p0 * ACC_FABS(x);
    return one / (d * d);
}

// S[t, n] = [A[t, n] >= theta],  A[t] = beta A[t-1] + X[t],  A[-1] = 0.
extern "C" __global__ void mf_exp_forward(
    const scalar_t* __restrict__ x, scalar_t* __restrict__ s,
    const int T, const long long N, const acc_t beta, const acc_t theta)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) {
        return;
    }
    const scalar_t spike = from_acc((acc_t)1.0);
    const scalar_t no_spike = from_acc((acc_t)0.0);
    acc_t a = (acc_t)0.0;
    for (int t = 0; t < T; ++t) {
        const long long i = (long long)t * N + n;
        a = ACC_FMA(beta, a, to_acc(x[i]));
        s[i] = (a >= theta) ? spike : no_spike;
    }
}

// H[t, n] = A[t, n] (for surrogates evaluated outside the kernel).
extern "C" __global__ void mf_exp_potential(
    const scalar_t* __restrict__ x, scalar_t* __restrict__ h,
    const int T, const long long N, const acc_t beta)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) {
        return;
    }
    acc_t a = (acc_t)0.0;
    for (int t = 0; t < T; ++t) {
        const long long i = (long long)t * N + n;
        a = ACC_FMA(beta, a, to_acc(x[i]));
        h[i] = from_acc(a);
    }
}

// grad_x[t] = B[t],  B[t] = beta B[t+1] + g_h[t],  B[T] = 0.  g_h and grad_x may be the same buffer.
extern "C" __global__ void mf_exp_reverse_scan(
    const scalar_t* g_h, scalar_t* grad_x, const int T, const long long N, const acc_t beta)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) {
        return;
    }
    acc_t b = (acc_t)0.0;
    for (int t = T - 1; t >= 0; --t) {
        const long long i = (long long)t * N + n;
        b = ACC_FMA(beta, b, to_acc(g_h[i]));
        grad_x[i] = from_acc(b);
    }
}

// Fused backward with a built-in surrogate: a forward scan writes g_h = g_s sigma'(A - theta)
// into grad_x, then the reverse scan overwrites it with grad_x (each thread owns its column).
extern "C" __global__ void mf_exp_backward(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ grad_s, scalar_t* __restrict__ grad_x,
    const int T, const long long N, const acc_t beta, const acc_t theta,
    const int kind, const acc_t p0, const acc_t p1)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) {
        return;
    }
    acc_t a = (acc_t)0.0;
    for (int t = 0; t < T; ++t) {
        const long long i = (long long)t * N + n;
        a = ACC_FMA(beta, a, to_acc(x[i]));
        grad_x[i] = from_acc(to_acc(grad_s[i]) * surrogate_grad(kind, p0, p1, a - theta));
    }
    acc_t b = (acc_t)0.0;
    for (int t = T - 1; t >= 0; --t) {
        const long long i = (long long)t * N + n;
        b = ACC_FMA(beta, b, to_acc(grad_x[i]));
        grad_x[i] = from_acc(b);
    }
}
"""

KERNEL_NAMES = ("mf_exp_forward", "mf_exp_potential", "mf_exp_reverse_scan", "mf_exp_backward")


def kernel_source(dtype: torch.dtype) -> str:
    """The CUDA C++ source of the four kernels for ``dtype`` (float32, float64, float16 or bfloat16)."""
    if dtype not in _DTYPES:
        raise TypeError(
            f"backend='cupy' supports float32, float64, float16 and bfloat16 inputs, got {dtype}; "
            "use backend='torch'"
        )
    scalar, acc, _, convert = _DTYPES[dtype]
    if acc == "double":
        math_fns = "#define ACC_EXP exp\n#define ACC_FABS fabs\n#define ACC_FMA fma\n"
    else:
        math_fns = "#define ACC_EXP expf\n#define ACC_FABS fabsf\n#define ACC_FMA fmaf\n"
    header = f"// mfp-plugin MFNode exp kernels, dtype {dtype}\ntypedef {scalar} scalar_t;\ntypedef {acc} acc_t;\n"
    return header + math_fns + convert + _KERNELS


@functools.lru_cache(maxsize=None)
def _kernels(dtype: torch.dtype, device_index: int) -> dict:
    """Compile (once per dtype and device) and return ``{name: cupy.RawKernel}``."""
    import cupy

    with cupy.cuda.Device(device_index):
        module = cupy.RawModule(code=kernel_source(dtype))
        return {name: module.get_function(name) for name in KERNEL_NAMES}


def _launch(name: str, x: torch.Tensor, args: tuple) -> None:
    """Run kernel ``name`` over the N columns of the ``[T, N]`` tensor ``x`` on torch's current stream."""
    import cupy

    n = x.shape[1]
    if n == 0:
        return
    device_index = x.device.index if x.device.index is not None else torch.cuda.current_device()
    kernel = _kernels(x.dtype, device_index)[name]
    grid = ((n + THREADS - 1) // THREADS,)
    with cupy.cuda.Device(device_index):
        stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(x.device).cuda_stream)
        with stream:
            kernel(grid, (THREADS,), args)


def _ptr(t: torch.Tensor):
    import numpy

    return numpy.uint64(t.data_ptr())


def _scalars(x: torch.Tensor, *values):
    """``T``, ``N`` and the float arguments as the exact C types the kernels declare."""
    import numpy

    acc = getattr(numpy, _DTYPES[x.dtype][2])
    return (numpy.int32(x.shape[0]), numpy.int64(x.shape[1])) + tuple(acc(v) for v in values)


class _MFExpCupy(torch.autograd.Function):
    """``S = [scan_beta(X) >= theta']`` on ``[T, N]`` contiguous CUDA input; saves only ``X``."""

    @staticmethod
    def forward(ctx, x_flat, beta, theta_fire, surrogate):
        s = torch.empty_like(x_flat)
        n_args = _scalars(x_flat, beta, theta_fire)
        _launch("mf_exp_forward", x_flat, (_ptr(x_flat), _ptr(s)) + n_args)
        ctx.save_for_backward(x_flat)
        ctx.beta, ctx.theta_fire, ctx.surrogate = beta, theta_fire, surrogate
        return s

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_s):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        (x_flat,) = ctx.saved_tensors
        grad_s = grad_s.to(x_flat.dtype).contiguous()
        grad_x = torch.empty_like(x_flat)
        builtin = _builtin_surrogate(ctx.surrogate)
        if builtin is not None:
            kind, p0, p1 = builtin
            T, N, beta, theta, p0, p1 = _scalars(x_flat, ctx.beta, ctx.theta_fire, p0, p1)
            args = (_ptr(x_flat), _ptr(grad_s), _ptr(grad_x), T, N, beta, theta, _int32(kind), p0, p1)
            _launch("mf_exp_backward", x_flat, args)
        else:
            # H on the GPU, sigma' by the surrogate's own torch code (as the torch backend does),
            # then the reverse scan in place on g_h.
            _launch("mf_exp_potential", x_flat, (_ptr(x_flat), _ptr(grad_x)) + _scalars(x_flat, ctx.beta))
            g_h = ctx.surrogate.grad_input_(grad_x.sub_(ctx.theta_fire), grad_s)
            g_h = g_h.to(x_flat.dtype).contiguous()
            _launch("mf_exp_reverse_scan", x_flat, (_ptr(g_h), _ptr(g_h)) + _scalars(x_flat, ctx.beta))
            grad_x = g_h
        return grad_x, None, None, None


def _int32(v):
    import numpy

    return numpy.int32(v)


def mf_exp_multi_step(x_seq, beta, v_threshold, membrane_bits, surrogate):
    r"""Spikes of an exp-kernel MF neuron layer, ``[T, ...]`` -> ``[T, ...]``, with fused CUDA kernels.

    Same rule as :func:`~..functional.mf.mf_multi_step` with ``exp_kernel(beta, T)``:
    :math:`S[t] = [H[t] \ge \theta']`, :math:`\theta'` from
    :func:`~..functional.membrane.firing_threshold`, backward through the
    surrogate :math:`\sigma'(H - \theta')`. Returns x_seq's shape and dtype.

    :param x_seq: CUDA tensor ``[T, B, ...]`` (float32, float64, float16 or bfloat16)
    :param beta: the decay (a float; a learnable decay is not supported here)
    :param v_threshold: :math:`\theta`
    :param membrane_bits: ``b`` of the membrane quantizer, or ``None``
    :param surrogate: see :func:`~..functional.surrogate.resolve_surrogate`
    """
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"x_seq must be a torch.Tensor, got {type(x_seq).__name__}")
    if not x_seq.is_cuda:
        raise ValueError(
            f"backend='cupy' needs a CUDA tensor, got one on {x_seq.device}; move the input and the model "
            "to the GPU (.cuda()) or use backend='torch'"
        )
    if x_seq.dim() < 1 or x_seq.shape[0] == 0:
        raise ValueError(f"x_seq must have shape [T, ...] with T >= 1, got {tuple(x_seq.shape)}")
    if x_seq.dtype not in _DTYPES:
        raise TypeError(
            f"backend='cupy' supports float32, float64, float16 and bfloat16 inputs, got {x_seq.dtype}; "
            "use backend='torch'"
        )
    if isinstance(beta, torch.Tensor):
        if beta.requires_grad:
            raise ValueError("backend='cupy' takes a fixed decay; a learnable beta needs backend='torch'")
        beta = beta.item()
    check_available()
    theta_fire = firing_threshold(v_threshold, membrane_bits)
    surrogate = resolve_surrogate(surrogate)
    x_flat, restore = time_major_rows(x_seq)  # channels-last maps are scanned in place
    return restore(_MFExpCupy.apply(x_flat, float(beta), float(theta_fire), surrogate))
