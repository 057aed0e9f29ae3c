"""The surrogates that the fused kernels (C and CUDA) evaluate themselves, as ``(kind, p0, p1)``.

Both kernel sources use the same codes:

* 0, ATan:        sigma'(x) = p0 / (1 + (p1 x)^2),              p0 = alpha/2, p1 = pi alpha/2
* 1, Sigmoid:     sigma'(x) = p0 s (1 - s), s = 1/(1+exp(-p0 x)), p0 = alpha
* 2, FastSigmoid: sigma'(x) = 1 / (1 + p0 |x|)^2,               p0 = slope
"""
from __future__ import annotations

import math

from ..functional.surrogate import ATan, FastSigmoid, Sigmoid

ATAN, SIGMOID, FAST_SIGMOID = 0, 1, 2


def builtin_surrogate(surrogate):
    """``(kind, p0, p1)`` for a surrogate the kernels evaluate themselves, else ``None`` (torch fallback).

    Exact types only: a subclass may override ``derivative``.
    """
    kind = type(surrogate)
    if kind is ATan:
        a = surrogate.alpha / 2.0
        return ATAN, a, math.pi * a
    if kind is Sigmoid:
        return SIGMOID, surrogate.alpha, 0.0
    if kind is FastSigmoid:
        return FAST_SIGMOID, surrogate.slope, 0.0
    return None
