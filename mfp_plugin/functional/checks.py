"""Input validation shared by the functional core and the modules.

Every public entry point checks its input here so that a wrong rank, a wrong
dtype or a bad hyper-parameter fails with a message that names what was
expected, instead of being broadcast or truncated silently.
"""
from __future__ import annotations

import math
import numbers

import torch


def check_floating_tensor(x, name: str = "input") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype (float16, bfloat16, float32 or float64), got {x.dtype}"
        )


def check_multi_step(x, name: str = "input") -> None:
    """A multi-step tensor is ``[T, B, ...]`` (``[T, N]`` at least)."""
    check_floating_tensor(x, name)
    if x.dim() < 2:
        raise ValueError(
            f"{name} in multi-step mode must have shape [T, B, ...] (at least 2 dims), "
            f"got shape {tuple(x.shape)}; one step of a batch [B, ...] needs step_mode='s'"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} has T = 0 time steps; expected shape [T, B, ...] with T >= 1")


def check_single_step(x, name: str = "input") -> None:
    """A single-step tensor is ``[B, ...]`` (at least 1 dim)."""
    check_floating_tensor(x, name)
    if x.dim() < 1:
        raise ValueError(
            f"{name} in single-step mode must have shape [B, ...], got a 0-dim tensor; "
            "a single value is x.reshape(1)"
        )


def check_finite(x: torch.Tensor, name: str = "input") -> None:
    """Refuse inf/NaN (one reduction; a device sync on CUDA)."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds inf or NaN values; expected finite numbers")


def check_finite_float(value, name: str) -> float:
    """A real, finite number (any sign)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


def check_membrane_bits(bits, allow_none: bool = True):
    if bits is None:
        if allow_none:
            return None
        raise ValueError("membrane_bits must be an integer >= 2, got None")
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
        raise TypeError(f"membrane_bits must be an int >= 2 or None, got {bits!r} ({type(bits).__name__})")
    if bits < 2:
        raise ValueError(
            f"membrane_bits must be >= 2 (Q_b is a signed grid whose top code is the threshold), got {bits}"
        )
    if bits > 16:
        raise ValueError(f"membrane_bits must be <= 16, got {bits}")
    return int(bits)


def check_positive_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_tau(tau, learnable: bool) -> float:
    """``tau`` sets ``beta = 1 - 1/tau``; beta must lie in [0, 1) ((0, 1) when learnable)."""
    tau = check_positive_float(tau, "tau")
    if learnable and tau <= 1.0:
        raise ValueError(f"tau must be > 1 with a learnable decay (beta = 1 - 1/tau in (0, 1)), got {tau}")
    if tau < 1.0:
        raise ValueError(f"tau must be >= 1 (beta = 1 - 1/tau in [0, 1)), got {tau}")
    return tau


def check_step_mode(step_mode) -> str:
    if step_mode not in ("s", "m"):
        raise ValueError(f"step_mode must be 's' (single step, [B, ...]) or 'm' (multi step, [T, B, ...]), got {step_mode!r}")
    return step_mode
