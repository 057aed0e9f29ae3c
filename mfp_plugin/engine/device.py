"""Which device to run on, and the autocast dtype used there (one place for the CLI, the Trainer and bench/)."""
from __future__ import annotations

import torch

__all__ = ["resolve_device", "autocast_dtype"]


def resolve_device(spec: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` (any ``torch.device`` string) -> a device.

    ``auto`` picks CUDA when it is available, else the CPU. ``cuda`` means the
    ``local_rank``-th GPU (data-parallel processes each take their own). Asking
    for CUDA where there is none is a ``ValueError``: no silent CPU fallback.

    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu0")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'gpu0'; expected auto, cpu, cuda or cuda:N
    """
    if not isinstance(spec, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0', got {type(spec).__name__}")
    text = (spec or "auto").strip().lower()
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(f"unknown device {spec!r}; expected auto, cpu, cuda or cuda:N") from None
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} requested but CUDA is not available")
    count = torch.cuda.device_count()
    if device.index is None:
        return torch.device("cuda", local_rank % max(count, 1))
    if device.index >= count:
        raise ValueError(f"device {spec!r} requested but only {count} CUDA device(s) exist")
    return device


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The mixed-precision dtype: float16 on CUDA (trained with a GradScaler), bfloat16 elsewhere.

    bfloat16 keeps float32's exponent range, so CPU training needs no loss scaling.

    >>> autocast_dtype(torch.device("cpu"))
    torch.bfloat16
    """
    return torch.float16 if torch.device(device).type == "cuda" else torch.bfloat16
