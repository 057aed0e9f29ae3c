r"""Fused CUDA kernels for ``MFNode(kernel="exp")``, written with cupy (``backend="cupy"``): the CUDA launcher of :mod:`.scan`.

Requires cupy (``pip install "mfp-plugin[cuda12]"`` or ``[cuda13]``) and a CUDA device.
cupy is imported lazily: importing this module never needs it.

The exp-kernel potential :math:`H[t] = \sum_{i \le t} \beta^{t-i} X[i]` is the
scan :math:`A[t] = \beta A[t-1] + X[t]`, so one CUDA thread per neuron ``n``
walks the T steps of its column of ``X`` (shape ``[T, N]``, row-major: the
threads of a warp read consecutive addresses at every step). The autograd
Function (forward, fused backward with the built-in surrogates, fallback for
the others) is :class:`.scan.ExpScan`, shared with the C scan of
:mod:`.cpu_kernel`; this module supplies :data:`LAUNCHER`:

* ``mf_exp_forward``: :math:`S[t] = [A[t] \ge \theta']`;
  ``mf_exp_forward_potential``: the same spikes and :math:`H[t] = A[t]` in one pass.
* ``mf_exp_backward``: one forward scan recomputes :math:`A[t]` and
  writes :math:`g_h[t] = g_s[t]\,\sigma'(A[t] - \theta')` into the ``grad_x``
  buffer; one reverse scan :math:`B[t] = \beta B[t+1] + g_h[t]` then
  overwrites it with :math:`\partial L / \partial X[t] = B[t]`
  (:math:`K^\top g_h` for :math:`K[t,i] = \beta^{t-i}`); ``gs_scalar``: ``g_s``
  is one value broadcast over ``[T, N]``.
* ``mf_exp_potential`` and ``mf_exp_reverse_scan``: the two halves, for
  surrogates evaluated by their own torch code.

Accumulation is in float32 for float32/float16/bfloat16 inputs (float64 for
float64); half-precision values are converted with inline PTX / bit
arithmetic, so no CUDA header is needed at NVRTC compile time.

Spikes equal the GEMM path's (``K @ X``) except where :math:`H`
lies within float rounding of :math:`\theta'`, since the two sum in a
different order.
"""
from __future__ import annotations

import functools

import torch


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

// S as mf_exp_forward and H[t, n] = A[t, n] from the same scan (recording, MFLeaky's mem).
extern "C" __global__ void mf_exp_forward_potential(
    const scalar_t* __restrict__ x, scalar_t* __restrict__ s, scalar_t* __restrict__ h,
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
        h[i] = from_acc(a);
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
// gs_scalar = 1: grad_s is one value broadcast over [T, N] (y.sum().backward()), read at grad_s[0].
extern "C" __global__ void mf_exp_backward(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ grad_s, const int gs_scalar,
    scalar_t* __restrict__ grad_x, const int T, const long long N, const acc_t beta, const acc_t theta,
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
        grad_x[i] = from_acc(to_acc(grad_s[gs_scalar ? 0 : i]) * surrogate_grad(kind, p0, p1, a - theta));
    }
    acc_t b = (acc_t)0.0;
    for (int t = T - 1; t >= 0; --t) {
        const long long i = (long long)t * N + n;
        b = ACC_FMA(beta, b, to_acc(grad_x[i]));
        grad_x[i] = from_acc(b);
    }
}
"""

KERNEL_NAMES = ("mf_exp_forward", "mf_exp_forward_potential", "mf_exp_potential", "mf_exp_reverse_scan",
                "mf_exp_backward")


def kernel_source(dtype: torch.dtype) -> str:
    """The CUDA C++ source of the kernels for ``dtype`` (float32, float64, float16 or bfloat16)."""
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


def _int32(v):
    import numpy

    return numpy.int32(v)


def check_input(x: torch.Tensor) -> None:
    """Raise a clear error unless ``x`` is a CUDA tensor of a dtype the kernels take."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x_seq must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_cuda:
        raise ValueError(
            f"backend='cupy' needs a CUDA tensor, got one on {x.device}; move the input and the model "
            "to the GPU (.cuda()) or use backend='torch'"
        )
    if x.dtype not in _DTYPES:
        raise TypeError(
            f"backend='cupy' supports float32, float64, float16 and bfloat16 inputs, got {x.dtype}; "
            "use backend='torch'"
        )


class CupyLauncher:
    """Runs the CUDA kernels on torch's current stream for :class:`~.scan.ExpScan` (see :mod:`.scan`).

    The caller (``MFNode._launcher_for``) checks :func:`check_input` first.
    """

    name = "cupy"

    @staticmethod
    def scan_dtype(dtype: torch.dtype, builtin: bool) -> torch.dtype:
        return dtype  # every supported dtype is read as stored and accumulated in float32 (float64)

    @staticmethod
    def forward(x, s, h, beta, theta):
        if h is None:
            _launch("mf_exp_forward", x, (_ptr(x), _ptr(s)) + _scalars(x, beta, theta))
        else:
            _launch("mf_exp_forward_potential", x, (_ptr(x), _ptr(s), _ptr(h)) + _scalars(x, beta, theta))

    @staticmethod
    def potential(x, h, beta):
        _launch("mf_exp_potential", x, (_ptr(x), _ptr(h)) + _scalars(x, beta))

    @staticmethod
    def reverse_scan(g_h, g_x, beta):
        _launch("mf_exp_reverse_scan", g_h, (_ptr(g_h), _ptr(g_x)) + _scalars(g_h, beta))

    @staticmethod
    def backward(x, g_s, gs_scalar, g_x, beta, theta, code):
        kind, p0, p1 = code
        T, N, beta, theta, p0, p1 = _scalars(x, beta, theta, p0, p1)
        args = (_ptr(x), _ptr(g_s), _int32(int(gs_scalar)), _ptr(g_x), T, N, beta, theta, _int32(kind), p0, p1)
        _launch("mf_exp_backward", x, args)


#: The launcher of :mod:`.scan` for CUDA tensors.
LAUNCHER = CupyLauncher()
