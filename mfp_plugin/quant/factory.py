"""Build a weight quantizer from a bit-width spec."""
from __future__ import annotations

import math
import numbers
from typing import Optional, Union

from .base import WeightQuantizer
from .binary import BinaryQuantizer
from .lsq import LSQQuantizer, _MAX_BITS
from .ternary import TernaryQuantizer

__all__ = ["make_weight_quantizer", "normalize_bits"]

BitsSpec = Union[int, str, float, None]

_ACCEPTED = (f"1 (binary), 'ternary' (or 1.58), an int in [2, {_MAX_BITS}] (LSQ), "
             "or None / 32 / 'fp' (full precision)")
_FLOAT_NAMES = ("fp", "float", "fp32", "float32", "none", "32")


def normalize_bits(bits: BitsSpec) -> Union[int, str, None]:
    """The one parser of weight bit widths (library, zoo and command line).

    Returns ``1``, ``'ternary'``, an int in ``[2, 8]`` or ``None`` (float
    weights); strings are accepted as the command line gives them.

    >>> normalize_bits(1.58), normalize_bits(32), normalize_bits(4)
    ('ternary', None, 4)
    >>> normalize_bits("fp"), normalize_bits("binary"), normalize_bits("2")
    (None, 1, 2)
    """
    if bits is None:
        return None
    if isinstance(bits, str):
        key = bits.strip().lower()
        if key in ("ternary", "1.58"):
            return "ternary"
        if key == "binary":
            return 1
        if key in _FLOAT_NAMES:
            return None
        if key.isdigit():
            return normalize_bits(int(key))
        raise ValueError(f"unknown weight bit spec {bits!r}; expected {_ACCEPTED}")
    if isinstance(bits, bool) or not isinstance(bits, numbers.Real):
        raise TypeError(f"weight bits must be int, str or None, got {type(bits).__name__}; "
                        f"expected {_ACCEPTED}")
    if not isinstance(bits, numbers.Integral):
        b = float(bits)
        if math.isclose(b, 1.58, abs_tol=1e-3):
            return "ternary"
        if not b.is_integer():
            raise ValueError(f"weight bits {bits!r} is not a valid bit width; expected {_ACCEPTED}")
    b = int(bits)
    if b == 32:
        return None
    if b == 1 or 2 <= b <= _MAX_BITS:
        return b
    raise ValueError(f"weight bits {bits!r} is out of range; expected {_ACCEPTED}")


def make_weight_quantizer(
    bits: BitsSpec,
    per_channel: Optional[bool] = None,
    *,
    num_channels: Optional[int] = None,
    **kwargs,
) -> Optional[WeightQuantizer]:
    """``1`` -> :class:`BinaryQuantizer`, ``'ternary'``/``1.58`` -> :class:`TernaryQuantizer`,
    ``k`` in ``[2, 8]`` -> :class:`LSQQuantizer`, ``None``/``32`` -> ``None`` (float).

    ``per_channel=None`` keeps each class's default (binary/ternary per channel,
    LSQ per tensor).  ``num_channels`` sizes a per-channel LSQ step up front and
    is ignored by the other kinds; ``kwargs`` go to the class.

    >>> make_weight_quantizer(4, per_channel=True, num_channels=8).scale.shape
    torch.Size([8])
    """
    spec = normalize_bits(bits)
    pc = {} if per_channel is None else {"per_channel": bool(per_channel)}
    if spec is None:
        if kwargs:
            raise TypeError(f"full precision (bits={bits!r}) takes no quantizer options: {sorted(kwargs)}")
        return None
    if spec == 1:
        return BinaryQuantizer(**pc, **kwargs)
    if spec == "ternary":
        return TernaryQuantizer(**pc, **kwargs)
    if per_channel:
        kwargs["num_channels"] = num_channels
    return LSQQuantizer(spec, **pc, **kwargs)
