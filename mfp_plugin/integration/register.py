"""``register()``: make our classes reachable from the host libraries' namespaces."""
from __future__ import annotations

import importlib

_REGISTERED = False


def register() -> None:
    """Expose ``MFNode``/``QLIFNode`` as ``spikingjelly.activation_based.neuron.MFNode``/``QLIFNode``
    and ``MFLeaky`` as ``snntorch.MFLeaky``.

    Idempotent. Importing :mod:`mfp_plugin` alone changes no host module; only
    this explicit call does.
    """
    global _REGISTERED
    from ..neuron import MFNode, QLIFNode

    try:
        sj_neuron = importlib.import_module("spikingjelly.activation_based.neuron")
    except ImportError:
        sj_neuron = None
    if sj_neuron is not None:
        sj_neuron.MFNode = MFNode
        sj_neuron.QLIFNode = QLIFNode
    try:
        snn = importlib.import_module("snntorch")
    except ImportError:
        snn = None
    if snn is not None:
        from ..snntorch import MFLeaky

        snn.MFLeaky = MFLeaky
    _REGISTERED = True


def is_registered() -> bool:
    return _REGISTERED
