"""The integer multiply-accumulate of a conv / linear layer, bit-exact.

``A = codes (*) x`` for integer codes and an integer input. Two kernels give
the same integers:

* ``"exact-float"`` (default): PyTorch's float32 (or float64) conv/GEMM on the
  integer values. Every partial sum of the MAC is an integer bounded by the
  compile-time ``bound`` (sum of ``|code|`` over the fan-in times the largest
  input), and float32 holds every integer below 2^24 exactly (float64: 2^53),
  so no rounding can happen in any summation order; the result is cast to the
  accumulator dtype.
* ``"int"``: the same op on int64 tensors (PyTorch's slow reference kernels),
  used by the tests as the independent integer reference.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .fixed_point import exact_float_dtype_for

__all__ = ["IntegerMAC"]


class IntegerMAC:
    """Holds one layer's codes in the kernel dtypes and applies the MAC.

    >>> m = IntegerMAC("linear", torch.tensor([[1, -2], [3, 0]], dtype=torch.int8), {}, bound=10)
    >>> m(torch.tensor([[1, 1], [0, 1]], dtype=torch.uint8), torch.int32).tolist()
    [[-1, 3], [-2, 0]]
    """

    def __init__(self, kind: str, codes: torch.Tensor, geometry: dict, bound: float, mode: str = "exact-float"):
        if kind not in ("conv2d", "linear"):
            raise ValueError(f"kind must be 'conv2d' or 'linear', got {kind!r}")
        if mode not in ("exact-float", "int"):
            raise ValueError(f"mac mode must be 'exact-float' or 'int', got {mode!r}")
        self.kind, self.geometry, self.bound = kind, dict(geometry), float(bound)
        fdt: Optional[torch.dtype] = exact_float_dtype_for(bound) if mode == "exact-float" else None
        self.kernel_dtype = fdt if fdt is not None else torch.int64
        self.codes = codes.to(self.kernel_dtype).contiguous()

    def __call__(self, x: torch.Tensor, out_dtype: torch.dtype) -> torch.Tensor:
        xk = x.to(self.kernel_dtype)
        if self.kind == "conv2d":
            y = F.conv2d(xk, self.codes, None, **self.geometry)
        else:
            y = F.linear(xk, self.codes)
        return y.to(out_dtype)
