"""Reset every stateful neuron of a model, at any depth, whichever library it comes from."""
from __future__ import annotations

import torch.nn as nn


def reset_states(model: nn.Module) -> nn.Module:
    """Reset our neurons, SpikingJelly's and snnTorch's, anywhere in ``model``.

    * modules with ``reset()`` (SpikingJelly ``MemoryModule``s, our nodes, ``MFLeaky``)
      are reset;
    * snnTorch neurons (``snntorch.SpikingNeuron``) get ``reset_mem()`` (or
      ``init_*`` hidden states zeroed): unlike ``snntorch.utils.reset``, which
      only looks at the top level, this walks the whole tree.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    snn_base = _snntorch_base()
    for m in model.modules():
        if snn_base is not None and isinstance(m, snn_base):
            if callable(getattr(m, "reset_mem", None)):
                m.reset_mem()
            continue
        reset = getattr(m, "reset", None)
        if callable(reset) and _is_stateful(m):
            reset()
    return model


def _is_stateful(m: nn.Module) -> bool:
    # Only modules that declare state: avoid calling unrelated ``reset`` methods.
    return hasattr(m, "_memories") or getattr(m, "_mfp_stateful", False)


def _snntorch_base():
    try:
        from snntorch import SpikingNeuron
    except ImportError:
        return None
    return SpikingNeuron
