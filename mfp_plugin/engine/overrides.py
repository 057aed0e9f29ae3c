"""Model options (time steps, neuron, its membrane bits and decay, weight bits) -> ``model_zoo.create_model`` kwargs.

The command line, ``bench/`` and the scripts spell them as ``--T``, ``--neuron``,
``--membrane-bits``, ``--tau``, ``--learnable-decay``, ``--weight-bits`` and
``--first-last-bits``; here they are the keys ``T``, ``neuron``,
``membrane_bits``, ``tau``, ``learnable_decay``, ``weight_bits`` and
``first_last_bits``. ``None`` always means *not given* (keep the model's
value); float weights are spelt ``"fp"`` (or anything
:func:`mfp_plugin.quant.normalize_bits` reads as float), so the two never mix.

>>> model_overrides({"T": 2, "weight_bits": "fp", "first_last_bits": None})
{'T': 2, 'weight_bits': None}
>>> sorted(model_overrides({"neuron": "qlif", "membrane_bits": 3}))
['neuron', 'neuron_kwargs']
>>> model_overrides({"neuron": "plif", "tau": 4})["neuron_kwargs"]      # ParametricLIFNode's name for it
{'init_tau': 4.0}
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Optional

from ..quant import normalize_bits

__all__ = ["NEURONS", "TAU_KEYWORD", "neuron_override", "model_overrides", "keep_neuron_kwargs"]

#: ``neuron`` option -> (module, class name)
NEURONS = {
    "mf": ("mfp_plugin", "MFNode"),
    "qlif": ("mfp_plugin", "QLIFNode"),
    "lif": ("spikingjelly.activation_based.neuron", "LIFNode"),
    "plif": ("spikingjelly.activation_based.neuron", "ParametricLIFNode"),
}
#: neurons whose membrane potential can be quantized (``membrane_bits``)
QUANTIZED_MEMBRANE = ("mf", "qlif")
#: the keyword each neuron takes its time constant by (``tau``); ParametricLIFNode learns it from ``init_tau``
TAU_KEYWORD = {"mf": "tau", "qlif": "tau", "lif": "tau", "plif": "init_tau"}
_KEYS = ("T", "weight_bits", "first_last_bits", "neuron", "membrane_bits", "tau", "learnable_decay", "num_classes")


def _check_membrane_bits(bits: Any) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 2:
        raise ValueError(f"membrane bits (--membrane-bits) must be an int >= 2, got {bits!r}")
    return bits


def _decay_kwargs(neuron: Optional[str], tau: Any, learnable_decay: Any) -> dict:
    """``tau`` under the neuron's own keyword; ``learnable_decay`` (MF's option) checked."""
    out: dict = {}
    if tau is not None:
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 1.0:
            raise ValueError(f"the membrane time constant (--tau) must be a number > 1 "
                             f"(decay beta = 1 - 1/tau in (0, 1)), got {tau!r}")
        out[TAU_KEYWORD.get(neuron, "tau")] = float(tau)
    if learnable_decay is not None:
        if not isinstance(learnable_decay, bool):
            raise ValueError(f"learnable decay (--learnable-decay) must be True or False, got {learnable_decay!r}")
        if neuron not in (None, "mf"):
            raise ValueError(f"a learnable decay (--learnable-decay) is an option of the mf neuron, not {neuron!r}"
                             + (" (plif learns its decay already)" if neuron == "plif" else ""))
        if learnable_decay:  # False is every neuron's default: nothing to pass
            out["learnable_decay"] = True
    return out


def neuron_override(neuron: Optional[str], membrane_bits: Optional[int], *, tau: Optional[float] = None,
                    learnable_decay: Optional[bool] = None) -> dict:
    """``{"neuron": cls, "neuron_kwargs": {...}}`` for ``create_model``; ``{}`` when nothing is given.

    ``membrane_bits``, ``tau`` or ``learnable_decay`` alone keep the model's
    neuron and set its option (``membrane_bits``: MF or QLIF; ``learnable_decay``: MF).

    >>> neuron_override(None, 2)
    {'neuron_kwargs': {'membrane_bits': 2}}
    >>> neuron_override("mf", None, tau=4.0, learnable_decay=True)["neuron_kwargs"]
    {'tau': 4.0, 'learnable_decay': True}
    >>> neuron_override("lif", 2)
    Traceback (most recent call last):
    ...
    ValueError: membrane bits (--membrane-bits) apply to the mf and qlif neurons, not 'lif'
    """
    if neuron is not None and neuron not in NEURONS:
        raise ValueError(f"unknown neuron {neuron!r} (--neuron); choose from {', '.join(sorted(NEURONS))}")
    kwargs: dict = {}
    if membrane_bits is not None:
        if neuron is not None and neuron not in QUANTIZED_MEMBRANE:
            raise ValueError(f"membrane bits (--membrane-bits) apply to the mf and qlif neurons, not {neuron!r}")
        kwargs["membrane_bits"] = _check_membrane_bits(membrane_bits)
    kwargs.update(_decay_kwargs(neuron, tau, learnable_decay))
    if neuron is None:
        return {"neuron_kwargs": kwargs} if kwargs else {}
    module, cls_name = NEURONS[neuron]
    return {"neuron": getattr(importlib.import_module(module), cls_name), "neuron_kwargs": kwargs}


def keep_neuron_kwargs(overrides: dict, base: Optional[Mapping]) -> dict:
    """``overrides`` with the ``neuron_kwargs`` of the model being overridden (``base``: a card's or a
    checkpoint's) kept under the given ones, when the neuron itself is not replaced.

    ``create_model`` replaces ``neuron_kwargs`` whole; without this, ``--tau 4`` on weights trained
    with a 2-bit membrane would silently drop the membrane bits.

    >>> keep_neuron_kwargs({"neuron_kwargs": {"tau": 4.0}}, {"membrane_bits": 2})
    {'neuron_kwargs': {'membrane_bits': 2, 'tau': 4.0}}
    """
    if "neuron" in overrides or "neuron_kwargs" not in overrides or not base:
        return overrides
    return {**overrides, "neuron_kwargs": {**dict(base), **overrides["neuron_kwargs"]}}


def _getter(options: Any, fallback: Optional[Mapping]):
    fb = dict(fallback or {})

    def get(key: str):
        v = options.get(key) if isinstance(options, Mapping) else getattr(options, key, None)
        return v if v is not None else fb.get(key)
    return get


def model_overrides(options: Any, fallback: Optional[Mapping] = None) -> dict:
    """``create_model`` overrides from ``options`` (a mapping or an ``argparse.Namespace``).

    Reads the keys ``T``, ``weight_bits``, ``first_last_bits``, ``neuron``,
    ``membrane_bits``, ``tau``, ``learnable_decay``, ``num_classes`` and
    ``model_kwargs`` (other builder arguments, a dict); a key that is missing or ``None``
    is taken from ``fallback`` (e.g. the arguments a checkpoint was trained
    with), else left to the model. Bad values raise ``ValueError``/``TypeError``.
    """
    get = _getter(options, fallback)
    out: dict = {}
    T = get("T")
    if T is not None:
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"time steps (--T) must be an int >= 1, got {T!r}")
        out["T"] = T
    for key in ("weight_bits", "first_last_bits"):
        v = get(key)
        if v is not None:  # "fp" -> None: float weights (the builders' bits=None)
            out[key] = normalize_bits(v)
    out.update(neuron_override(get("neuron"), get("membrane_bits"), tau=get("tau"),
                               learnable_decay=get("learnable_decay")))
    classes = get("num_classes")
    if classes is not None:
        out["num_classes"] = int(classes)
    out.update(_model_kwargs(get("model_kwargs")))
    return out


#: builder arguments that have their own option: model_kwargs may not set them behind its back
_OWN_OPTIONS = {"T": "--T", "weight_bits": "--weight-bits", "first_last_bits": "--first-last-bits",
                "neuron": "--neuron", "neuron_kwargs": "--neuron/--membrane-bits/--tau/--learnable-decay",
                "num_classes": "the dataset", "pretrained": "--pretrained/--checkpoint"}


def _model_kwargs(kwargs) -> dict:
    """``model_kwargs``: other builder arguments (e.g. ``{"channels": [32, 64, 64]}``), checked.

    >>> _model_kwargs({"channels": [32, 64, 64]})
    {'channels': [32, 64, 64]}
    >>> _model_kwargs({"T": 8})
    Traceback (most recent call last):
    ...
    ValueError: model_kwargs may not set T: use --T
    """
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) and k.isidentifier() for k in kwargs):
        raise TypeError(f"model_kwargs must map builder argument names to values, got {kwargs!r}")
    clash = sorted(set(kwargs) & set(_OWN_OPTIONS))
    if clash:
        raise ValueError(f"model_kwargs may not set {', '.join(clash)}: use "
                         + "; ".join(_OWN_OPTIONS[k] for k in clash))
    return dict(kwargs)
