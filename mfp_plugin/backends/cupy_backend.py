"""Fused CUDA kernels for MFNode, written with cupy (``backend="cupy"``).

Requires cupy (``pip install "mfp-plugin[cuda12]"`` or ``[cuda13]``) and a CUDA device.
"""
from __future__ import annotations


def check_available() -> None:
    """Raise ImportError naming what is missing for ``backend='cupy'``."""
    try:
        import cupy  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "backend='cupy' needs cupy: install it with `pip install \"mfp-plugin[cuda12]\"` (CUDA 12) or "
            "`pip install \"mfp-plugin[cuda13]\"` (CUDA 13), or use backend='torch'"
        ) from exc
    import torch

    if not torch.cuda.is_available():
        raise ImportError("backend='cupy' needs a CUDA device, and torch.cuda.is_available() is False; use backend='torch'")
    raise ImportError(
        "backend='cupy' kernels are not part of this release yet; use backend='torch' (GEMM over T, also on CUDA)"
    )


def mf_exp_multi_step(x_seq, beta, v_threshold, membrane_bits, surrogate):  # pragma: no cover - needs CUDA
    check_available()
