"""Builder kwargs and configs as JSON (checkpoint metadata, ``model.model_kwargs``).

>>> import mfp_plugin
>>> to_jsonable({"neuron": mfp_plugin.MFNode, "mean": (0.5,), "bits": None})
{'neuron': 'mfp_plugin.MFNode', 'mean': [0.5], 'bits': None}
"""
from __future__ import annotations

from typing import Any

from .layers import neuron_name

__all__ = ["to_jsonable"]


def to_jsonable(v: Any) -> Any:
    """``v`` with classes as the names :func:`~model_zoo.layers.resolve_neuron`
    maps back, tuples as lists and dict keys as strings; any other object
    becomes its ``repr`` (recorded, not round-trippable: e.g. a surrogate
    function object)."""
    if isinstance(v, type):
        return neuron_name(v)
    if isinstance(v, (tuple, list)):
        return [to_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)
