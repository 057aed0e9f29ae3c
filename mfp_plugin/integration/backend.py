"""``set_backend``: choose the kernel of every neuron in a model, in both SpikingJelly generations."""
from __future__ import annotations

import torch.nn as nn

__all__ = ["set_backend"]


def set_backend(model: nn.Module, backend: str) -> nn.Module:
    """Set ``backend`` on every neuron of ``model`` that has backends (ours, and SpikingJelly 0.0.0.0.14's).

    SpikingJelly 2.x has no backends and so no ``functional.set_backend``;
    0.0.0.0.14's stops at the first neuron that lacks the backend. This one
    checks every neuron first and changes none if any cannot run
    ``backend``: the ``ValueError`` names each such neuron and why (e.g. a
    learnable decay learns on backend="torch", not on the cupy scan). A missing
    library (cupy) raises ``ImportError`` before anything changes. Returns
    ``model``.

    >>> import torch.nn as nn, mfp_plugin as mfp
    >>> net = nn.Sequential(nn.Linear(4, 4), mfp.MFNode(), nn.Linear(4, 2), mfp.QLIFNode())
    >>> mfp.set_backend(net, "torch")[1].backend
    'torch'
    >>> mfp.set_backend(nn.Sequential(mfp.MFNode(learnable_decay=True)), "cupy")
    Traceback (most recent call last):
    ...
    ValueError: set_backend: backend 'cupy' is not available for 0 (MFNode: supports ('torch',); backend='cupy' runs the fused scan of the exp kernel with a fixed decay; learnable_decay=True learns on backend='torch' (the C scan on CPU, the GEMM K @ X on CUDA))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string such as 'torch' or 'cupy', got {backend!r}")
    nodes = [(name or type(m).__name__, m) for name, m in model.named_modules() if hasattr(m, "supported_backends")]
    if not nodes:
        raise ValueError("set_backend: the model has no neuron with backends (MFNode, QLIFNode, SpikingJelly "
                         "0.0.0.0.14 nodes)")
    refused = []
    for name, m in nodes:
        if backend not in m.supported_backends:
            why = m._backend_refusal(backend) if hasattr(m, "_backend_refusal") else None
            refused.append(f"{name} ({type(m).__name__}: supports {tuple(m.supported_backends)}"
                           + (f"; {why}" if why else "") + ")")
    if refused:
        raise ValueError(f"set_backend: backend {backend!r} is not available for " + ", ".join(refused))
    for _, m in nodes:
        check = getattr(m, "_check_backend_available", None)
        if check is not None:
            check(backend)  # a missing library fails here, at the first neuron, before any change
            break
    for _, m in nodes:
        m.backend = backend
    return model
