r"""Fused C scans for ``MFNode(kernel="exp")`` on CPU tensors: the CPU launcher of :mod:`.scan`.

``MFNode``'s torch backend runs them on a CPU tensor when it can (exp kernel,
fixed decay; float32, float64, bfloat16 read and written as bfloat16, float16
converted; both half types scanned in float32); otherwise, and whenever they
are disabled or cannot be built, the ``K @ X`` GEMM of
:func:`~mfp_plugin.functional.mf.mf_multi_step`. The decision is
``MFNode._launcher_for``; the autograd Function is :class:`.scan.ExpScan`,
shared with the cupy backend. Both paths compute the same equations (up to
float summation order), save only ``X`` for backward and fire on
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

Integrity. The build is written under a private name, flushed to disk
(``fsync``) and renamed into place together with a sidecar
``<library>.sha256`` holding its size and sha256. Before ``ctypes.CDLL``
maps the library, both are checked; a missing, zero-length, truncated or
garbage file (which would otherwise kill the process with SIGBUS when
mapped) is rebuilt, atomically, instead.

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
import threading
import warnings
from pathlib import Path
from typing import Optional

import torch

from ..atomic_io import atomic_output, atomic_write_bytes


__all__ = ["LAUNCHER", "CpuLauncher", "checksum_path", "enabled", "has_openmp", "is_available", "library_path",
           "set_enabled", "supports"]

SOURCE = Path(__file__).with_name("csrc") / "mf_exp_cpu.c"
_ABI_VERSION = 6
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


def checksum_path(path: Path) -> Path:
    """The sidecar that records a built library's size and sha256 (``<library>.sha256``)."""
    return path.with_name(path.name + ".sha256")


def _digest(path: Path) -> str:
    data = path.read_bytes()
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}"


def _verified(path: Path) -> bool:
    """Whether ``path`` is a complete build: its size and sha256 match the sidecar written with it.

    A zero-length, truncated or garbage file (a crash between the compiler's write and the disk,
    a full disk, a stray copy) fails this check and is rebuilt instead of being mapped by
    ``ctypes.CDLL``, where a truncated ELF file kills the process with SIGBUS.
    """
    try:
        expected = checksum_path(path).read_text(encoding="ascii").strip()
        return bool(expected) and _digest(path) == expected
    except (OSError, UnicodeDecodeError):
        return False


def _build(target: Path) -> None:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set $CC, or install gcc or clang)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # The library, then its checksum, each written atomically (fsync, then rename): concurrent first
    # uses never see a half-written file, and a crash leaves no pair that passes _verified (at worst
    # a library without its checksum, which is rebuilt).
    with atomic_output(target) as tmp:
        _compile(cc, tmp)
        digest = _digest(tmp)
    atomic_write_bytes(checksum_path(target), (digest + "\n").encode("ascii"))


def _compile(cc: str, out: Path) -> None:
    # OpenMP first (the columns are split over PyTorch's own OpenMP team); without it, one thread.
    errors = []
    for extra in ((_OPENMP_FLAG,), ()):
        proc = subprocess.run([cc, *_FLAGS, *extra, "-o", str(out), str(SOURCE), "-lm"], capture_output=True, text=True)
        if proc.returncode == 0:
            return
        errors.append(f"{cc} {' '.join(extra)} failed ({proc.returncode}): {proc.stderr.strip()[-1000:]}")
    raise RuntimeError("; ".join(errors))


def _declare(lib: ctypes.CDLL) -> None:
    i64, dbl, ptr, cint = ctypes.c_int64, ctypes.c_double, ctypes.c_void_p, ctypes.c_int
    for suf in _SUFFIX.values():
        # (..., T, N, <floats/ints>, nthreads, stream)
        getattr(lib, f"mf_exp_forward_{suf}").argtypes = [ptr, ptr, i64, i64, dbl, dbl, cint, cint]
        getattr(lib, f"mf_exp_forward_potential_{suf}").argtypes = [ptr, ptr, ptr, i64, i64, dbl, dbl, cint, cint]
        getattr(lib, f"mf_exp_potential_{suf}").argtypes = [ptr, ptr, i64, i64, dbl, cint, cint]
        getattr(lib, f"mf_exp_reverse_scan_{suf}").argtypes = [ptr, ptr, i64, i64, dbl, cint, cint]
        getattr(lib, f"mf_exp_backward_{suf}").argtypes = [
            ptr, ptr, cint, ptr, i64, i64, dbl, dbl, cint, dbl, dbl, cint, cint]
        for kind in ("forward", "forward_potential", "potential", "reverse_scan", "backward"):
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
                if not _verified(path):
                    _build(path)  # missing, or not the file its checksum describes: rebuild atomically
                    if not _verified(path):
                        raise RuntimeError(f"{path} does not match its checksum right after being built")
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
    """Whether the C scan can run ``x`` (CPU, a float dtype, kernels enabled and built)."""
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


class CpuLauncher:
    """Runs the C library's scans on CPU tensors for :class:`~.scan.ExpScan` (see :mod:`.scan` for the methods).

    The caller (``MFNode._launcher_for``) checks :func:`supports` first.
    """

    name = "cpu"

    @staticmethod
    def scan_dtype(dtype: torch.dtype, builtin: bool) -> torch.dtype:
        # float16 has no C path: H accumulates in float32, as the cupy kernels do (spikes are exact
        # in any dtype). bfloat16 (torch.autocast("cpu")) is read and written as bfloat16 and scanned
        # in float32 by the C code (the bits of converting around a float32 scan, minus two passes
        # each way); only a surrogate evaluated in torch needs the float32 copy.
        if dtype in _UPCAST or (dtype == torch.bfloat16 and not builtin):
            return torch.float32
        return dtype

    @staticmethod
    def forward(x, s, h, beta, theta):
        lib, suf = _library(), _SUFFIX[x.dtype]
        if h is None:
            _run(getattr(lib, f"mf_exp_forward_{suf}"), x, (x.data_ptr(), s.data_ptr()), (beta, theta))
        else:
            _run(getattr(lib, f"mf_exp_forward_potential_{suf}"), x,
                 (x.data_ptr(), s.data_ptr(), h.data_ptr()), (beta, theta))

    @staticmethod
    def potential(x, h, beta):
        _run(getattr(_library(), f"mf_exp_potential_{_SUFFIX[x.dtype]}"), x, (x.data_ptr(), h.data_ptr()), (beta,))

    @staticmethod
    def reverse_scan(g_h, g_x, beta):
        _run(getattr(_library(), f"mf_exp_reverse_scan_{_SUFFIX[g_h.dtype]}"), g_h,
             (g_h.data_ptr(), g_x.data_ptr()), (beta,))

    @staticmethod
    def backward(x, g_s, gs_scalar, g_x, beta, theta, code):
        kind, p0, p1 = code
        _run(getattr(_library(), f"mf_exp_backward_{_SUFFIX[x.dtype]}"), x,
             (x.data_ptr(), g_s.data_ptr(), int(gs_scalar), g_x.data_ptr()), (beta, theta, kind, p0, p1))


#: The launcher of :mod:`.scan` for CPU tensors.
LAUNCHER = CpuLauncher()
