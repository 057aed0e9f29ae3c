r"""Fused C scans for ``MFNode(kernel="exp")`` on CPU tensors.

The torch backend's multi-step path on a CPU tensor runs these kernels when
it can (exp kernel, fixed decay; float32, float64, bfloat16 read and written
as bfloat16, float16 converted; both half types scanned in float32); otherwise,
and whenever
they are disabled or cannot be built, it uses the ``K @ X`` GEMM of
:func:`~..functional.mf.mf_multi_step`. Both compute the same equations
(up to float summation order), save only ``X`` for backward and fire on
:math:`H \ge \theta'`.

Why a scan. For :math:`K[t,i]=\beta^{t-i}` the GEMM costs T multiply-adds
per element and three passes over ``[T, N]`` (forward; recompute and
transpose product in backward), plus the surrogate's passes. The scan
:math:`A[t] = \beta A[t-1] + X[t]` is one multiply-add per element and its
forward and backward are each a single pass (backward: forward scan to
:math:`g_h`, reverse scan :math:`B[t] = \beta B[t+1] + g_h[t]` on cache-resident
blocks), the same memory traffic as ReLU. Source: ``csrc/mf_exp_cpu.c``.

Build. The C file is compiled on first use with ``$CC`` (default ``cc``),
``-O3 -march=native -ffp-contract=off -fopenmp``, into a cache folder
(``$MFP_CACHE_DIR``, else ``$XDG_CACHE_HOME/mfp_plugin``, else
``~/.cache/mfp_plugin``) under a name that hashes the source, flags,
compiler and CPU, and loaded with :mod:`ctypes` (no torch headers). The
library's ``libgomp.so.1`` resolves to the one PyTorch has already loaded,
so the columns are split over ``torch.get_num_threads()`` threads of
PyTorch's own OpenMP team; a separate thread pool would compete with that
team's workers, which spin for a while after each ATen op. Without OpenMP
the kernels run on one thread. If no compiler is found or the build fails,
one warning is issued and the GEMM path is used.

Switches: ``MFP_CPU_KERNEL=0`` in the environment, or :func:`set_enabled`
(``False`` forces the GEMM path; used by the tests to compare both).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Optional

import torch

from .layout import time_major_rows
from .surrogate_codes import builtin_surrogate as _builtin_surrogate

__all__ = ["is_available", "has_openmp", "enabled", "set_enabled", "library_path", "supports", "mf_exp_multi_step"]

SOURCE = Path(__file__).with_name("csrc") / "mf_exp_cpu.c"
_ABI_VERSION = 5
_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fPIC", "-shared", "-std=c11")
_OPENMP_FLAG = "-fopenmp"
#: Below this many elements a single call in the calling thread is cheaper than a split.
_PARALLEL_MIN_ELEMENTS = 1 << 16
#: Outputs at least this large are written with non-temporal stores (they would not stay in cache).
_STREAM_MIN_BYTES = 16 << 20

#: Dtypes the C code reads and writes directly (bfloat16: stored as bfloat16, computed in float32).
_SUFFIX = {torch.float32: "f32", torch.float64: "f64", torch.bfloat16: "bf16"}

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_load_error: Optional[str] = None
_enabled_override: Optional[bool] = None


# ---------------------------------------------------------------------------- switches
def enabled() -> bool:
    """Whether the torch backend may use these kernels (set by :func:`set_enabled` or ``MFP_CPU_KERNEL``)."""
    if _enabled_override is not None:
        return _enabled_override
    return os.environ.get("MFP_CPU_KERNEL", "1").strip().lower() not in ("0", "false", "no", "off")


def set_enabled(flag: Optional[bool]) -> None:
    """Force the C kernels on (``True``) or off (``False``); ``None`` returns to ``MFP_CPU_KERNEL``."""
    global _enabled_override
    if flag is not None and not isinstance(flag, bool):
        raise TypeError(f"set_enabled takes True, False or None, got {flag!r}")
    _enabled_override = flag


def is_available() -> bool:
    """True when the library is built (building it now if needed) and loads."""
    return _library() is not None


def library_path() -> Path:
    """Where the compiled library for this source, compiler and CPU lives (it may not exist yet)."""
    return _cache_dir() / f"mf_exp_cpu-{_build_key()}.so"


# ---------------------------------------------------------------------------- build and load
def _cache_dir() -> Path:
    root = os.environ.get("MFP_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mfp_plugin"


def _compiler() -> Optional[str]:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


def _cpu_signature() -> str:
    # -march=native code must not be reused on another CPU that shares the cache folder.
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _build_key() -> str:
    h = hashlib.sha256()
    h.update(SOURCE.read_bytes())
    h.update(" ".join(_FLAGS).encode())
    h.update(str(_compiler()).encode())
    h.update(platform.machine().encode())
    h.update(_cpu_signature().encode())
    return h.hexdigest()[:16]


def _build(target: Path) -> None:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set $CC, or install gcc or clang)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Compile to a private name, then rename: concurrent first uses never see a half-written file.
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        # OpenMP first (the columns are split over PyTorch's own OpenMP team); without it, one thread.
        errors = []
        for extra in ((_OPENMP_FLAG,), ()):
            proc = subprocess.run([cc, *_FLAGS, *extra, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True)
            if proc.returncode == 0:
                os.replace(tmp, target)
                return
            errors.append(f"{cc} {' '.join(extra)} failed ({proc.returncode}): {proc.stderr.strip()[-1000:]}")
        raise RuntimeError("; ".join(errors))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _declare(lib: ctypes.CDLL) -> None:
    i64, dbl, ptr, cint = ctypes.c_int64, ctypes.c_double, ctypes.c_void_p, ctypes.c_int
    for suf in _SUFFIX.values():
        # (..., T, N, <floats/ints>, nthreads, stream)
        getattr(lib, f"mf_exp_forward_{suf}").argtypes = [ptr, ptr, i64, i64, dbl, dbl, cint, cint]
        getattr(lib, f"mf_exp_potential_{suf}").argtypes = [ptr, ptr, i64, i64, dbl, cint, cint]
        getattr(lib, f"mf_exp_reverse_scan_{suf}").argtypes = [ptr, ptr, i64, i64, dbl, cint, cint]
        getattr(lib, f"mf_exp_backward_{suf}").argtypes = [
            ptr, ptr, cint, ptr, i64, i64, dbl, dbl, cint, dbl, dbl, cint, cint]
        for kind in ("forward", "potential", "reverse_scan", "backward"):
            getattr(lib, f"mf_exp_{kind}_{suf}").restype = cint
    lib.mf_exp_cpu_has_openmp.restype = cint


def _library() -> Optional[ctypes.CDLL]:
    global _lib, _load_error
    if _lib is not None or _load_error is not None:
        return _lib
    with _lock:
        if _lib is None and _load_error is None:
            try:
                path = library_path()
                if not path.exists():
                    _build(path)
                lib = ctypes.CDLL(str(path))
                lib.mf_exp_cpu_abi_version.restype = ctypes.c_int
                if lib.mf_exp_cpu_abi_version() != _ABI_VERSION:
                    raise RuntimeError(f"{path} has ABI {lib.mf_exp_cpu_abi_version()}, expected {_ABI_VERSION}")
                _declare(lib)
                _lib = lib
            except Exception as exc:  # no compiler, read-only cache, unloadable library, ...
                _load_error = str(exc)
                warnings.warn(
                    f"mfp_plugin: the fused CPU kernel for MFNode is unavailable ({exc}); "
                    "using the GEMM path (same results, slower). Set MFP_CPU_KERNEL=0 to silence this.",
                    RuntimeWarning,
                    stacklevel=3,
                )
    return _lib


#: float16 inputs are converted to float32, scanned, and the spikes cast back.
_UPCAST = (torch.float16,)


def supports(x: torch.Tensor) -> bool:
    """Whether :func:`mf_exp_multi_step` would run ``x`` (CPU, a float dtype, kernels enabled and built)."""
    return (
        enabled()
        and x.device.type == "cpu"
        and (x.dtype in _SUFFIX or x.dtype in _UPCAST)
        and x.layout == torch.strided
        and _library() is not None
    )


# ---------------------------------------------------------------------------- launching
def has_openmp() -> bool:
    """Whether the built library splits its work over threads (OpenMP)."""
    lib = _library()
    return bool(lib is not None and lib.mf_exp_cpu_has_openmp())


def _run(fn, x: torch.Tensor, args_before: tuple, args_after: tuple) -> None:
    """Call ``fn(*args_before, T, N, *args_after, nthreads, stream)`` for the ``[T, N]`` tensor ``x``."""
    T, N = x.shape
    if N == 0 or T == 0:
        return
    stream = int(x.numel() * x.element_size() >= _STREAM_MIN_BYTES)
    nthreads = 1 if x.numel() < _PARALLEL_MIN_ELEMENTS else torch.get_num_threads()
    if fn(*args_before, T, N, *args_after, nthreads, stream) != 0:
        raise MemoryError(f"{fn.__name__}: could not allocate its scratch buffers")


class _MFExpScan(torch.autograd.Function):
    """``S = [scan_beta(X) >= theta']`` on a contiguous ``[T, N]`` CPU tensor; saves only ``X``."""

    @staticmethod
    def forward(ctx, x_flat, beta, theta_fire, surrogate):
        lib = _library()
        suf = _SUFFIX[x_flat.dtype]
        s = torch.empty_like(x_flat)
        _run(getattr(lib, f"mf_exp_forward_{suf}"), x_flat, (x_flat.data_ptr(), s.data_ptr()), (beta, theta_fire))
        ctx.save_for_backward(x_flat)
        ctx.beta, ctx.theta_fire, ctx.surrogate = beta, theta_fire, surrogate
        return s

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_s):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        (x_flat,) = ctx.saved_tensors
        lib = _library()
        suf = _SUFFIX[x_flat.dtype]
        grad_s = grad_s.to(x_flat.dtype)
        # y.sum().backward() hands over one value expanded to [T, N]: read it once, copy nothing.
        gs_scalar = grad_s.dim() == 0 or all(st == 0 for st in grad_s.stride())
        if not gs_scalar:
            grad_s = grad_s.contiguous()
        grad_x = torch.empty_like(x_flat)
        builtin = _builtin_surrogate(ctx.surrogate)
        if builtin is not None:
            kind, p0, p1 = builtin
            _run(getattr(lib, f"mf_exp_backward_{suf}"), x_flat,
                 (x_flat.data_ptr(), grad_s.data_ptr(), int(gs_scalar), grad_x.data_ptr()),
                 (ctx.beta, ctx.theta_fire, kind, p0, p1))
            return grad_x, None, None, None
        # Any other surrogate: H from the scan, sigma' by its own torch code, reverse scan in place.
        _run(getattr(lib, f"mf_exp_potential_{suf}"), x_flat, (x_flat.data_ptr(), grad_x.data_ptr()), (ctx.beta,))
        g_h = ctx.surrogate.grad_input_(grad_x.sub_(ctx.theta_fire), grad_s.expand_as(grad_x))
        g_h = g_h.to(x_flat.dtype).contiguous()
        _run(getattr(lib, f"mf_exp_reverse_scan_{suf}"), x_flat, (g_h.data_ptr(), g_h.data_ptr()), (ctx.beta,))
        return g_h, None, None, None


def mf_exp_multi_step(x_seq: torch.Tensor, beta: float, theta_fire: float, surrogate) -> torch.Tensor:
    r"""Spikes :math:`S[t] = [H[t] \ge \theta']` of an exp-kernel MF layer, ``[T, ...]`` -> ``[T, ...]``.

    ``theta_fire`` is :math:`\theta'` (:func:`~..functional.membrane.firing_threshold`);
    ``surrogate`` an already resolved :class:`~..functional.surrogate.Surrogate`.
    The caller checks :func:`supports` first.
    """
    # Time outermost is all the scan needs: a channels-last map is scanned where it lies.
    x_flat, restore = time_major_rows(x_seq)
    # bfloat16 (torch.autocast("cpu")) is read and written as bfloat16 and scanned in float32 by
    # the C code (the same bits as converting around a float32 scan, minus two passes over
    # memory each way); only the fallback for a surrogate evaluated in torch needs the conversion.
    if x_flat.dtype in _UPCAST or (x_flat.dtype == torch.bfloat16 and _builtin_surrogate(surrogate) is None):
        # H accumulates in float32, as the cupy kernels do; spikes (0/1) are exact in any dtype.
        s = _MFExpScan.apply(x_flat.float(), float(beta), float(theta_fire), surrogate)
        return restore(s.to(x_seq.dtype))
    return restore(_MFExpScan.apply(x_flat, float(beta), float(theta_fire), surrogate))
