"""glibc allocator tuning for CPU training, evaluation and benchmarks."""
from __future__ import annotations

__all__ = ["tune_malloc"]


def tune_malloc() -> bool:
    """glibc only: keep freed memory in the heap (no mmap/munmap per large tensor).

    By default glibc serves allocations above a (dynamic) threshold with fresh
    ``mmap`` pages and returns them on free, so every new multi-MiB tensor pays
    page faults. That penalises code that allocates many temporaries (Python
    loops over T, a training step's activations) by an amount that swings with
    allocator state and machine load. ``mallopt(M_MMAP_THRESHOLD=1 GiB,
    M_TRIM_THRESHOLD=2 GiB)`` removes the cost (the effect PyTorch's CPU tuning
    guide gets from jemalloc/tcmalloc).
    ``mfp train``/``mfp eval`` call it on CPU (``--no-malloc-tune`` to skip): an
    ``mf_vgg_small`` bfloat16 training step measured 930 -> 760 ms with it
    (``python -m bench.train_step``, 2 threads; docs/benchmarks.md); the
    benchmarks call it so that the artefact hits every row alike. Returns
    whether it was applied.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        ok = libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1
        ok &= libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int((1 << 31) - 1).value) == 1
        return bool(ok)
    except Exception:  # pragma: no cover - non-glibc
        return False
