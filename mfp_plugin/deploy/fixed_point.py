"""Fixed-point helpers: the decay as a dyadic fraction, the input quantizer, integer widths.

* The exp kernel's decay :math:`\\beta` runs as ``acc = (acc * m) >> q`` with
  :math:`\\beta = m / 2^q`; :math:`\\beta = 1/2` is ``m = 1, q = 1``: a plain
  arithmetic shift. A decay that is no such fraction (a learnable decay) is
  rounded to ``q = decay_bits`` bits and marked inexact.
* The analog input of a direct-encoded first layer is quantized to a signed
  fixed-point integer ``round(x * 2^f)`` clamped to ``bits`` bits.
* A width is chosen from a proven bound on ``|value|``: int32 when the bound
  fits 31 bits, else int64.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional, Tuple

import torch

__all__ = ["dyadic", "quantize_input", "signed_bits", "int_dtype_for", "exact_float_dtype_for"]


def dyadic(beta: float, max_bits: int = 16) -> Tuple[int, int, bool]:
    """``(m, q, exact)`` with ``beta ~= m / 2^q``, ``q`` as small as possible (``q <= max_bits``).

    >>> dyadic(0.5), dyadic(0.75), dyadic(0.0)
    ((1, 1, True), (3, 2, True), (0, 0, True))
    >>> dyadic(1 / 3, max_bits=8)
    (85, 8, False)
    """
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"the decay beta must be in [0, 1), got {beta}")
    frac = Fraction(beta)  # the exact value of the float
    if frac.denominator & (frac.denominator - 1) == 0 and frac.denominator.bit_length() - 1 <= max_bits:
        return frac.numerator, frac.denominator.bit_length() - 1, True
    return int(round(beta * 2 ** max_bits)), int(max_bits), False


def quantize_input(x: torch.Tensor, frac_bits: int, bits: int) -> torch.Tensor:
    """``clamp(round(x * 2^frac_bits), -2^(bits-1), 2^(bits-1) - 1)`` as int32 (round half to even).

    >>> quantize_input(torch.tensor([0.5, -1.0, 0.126, 9.0]), frac_bits=3, bits=6).tolist()
    [4, -8, 1, 31]
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"the analog input must be a floating-point tensor, got "
                        f"{type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    # float64: x * 2^f is exact there for any float32 x and f <= 29
    return torch.round(x.double() * 2.0 ** frac_bits).clamp_(lo, hi).to(torch.int32)


def signed_bits(bound: float) -> int:
    """Bits of a two's-complement integer that holds every value in ``[-bound, bound]``.

    >>> signed_bits(1), signed_bits(127), signed_bits(128)
    (2, 8, 9)
    """
    bound = int(math.ceil(bound))
    return max(1, bound.bit_length() + 1) if bound > 0 else 1


def int_dtype_for(bound: float) -> torch.dtype:
    """int32 if ``|v| <= bound`` fits 31 magnitude bits, else int64 (refused above 63)."""
    bits = signed_bits(bound)
    if bits <= 32:
        return torch.int32
    if bits <= 64:
        return torch.int64
    raise ValueError(f"a value bound of {bound:.3g} needs {bits} bits, more than int64")


def exact_float_dtype_for(bound: float) -> Optional[torch.dtype]:
    """A float dtype in which every partial sum of integers with ``|sum| <= bound`` is exact.

    float32 holds every integer up to 2^24, float64 up to 2^53; a sum of
    integers whose every partial sum stays below that is exact in *any*
    summation order, so a float GEMM/conv kernel computes the integer MAC bit
    for bit. ``None`` above 2^53 (use an int64 kernel).
    """
    if bound <= 2 ** 24:
        return torch.float32
    if bound <= 2 ** 53:
        return torch.float64
    return None
