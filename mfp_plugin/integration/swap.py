"""``swap_neurons``: put our neurons into an existing SpikingJelly model."""
from __future__ import annotations

import inspect

import torch
import torch.nn as nn

from .._compat import HAS_SPIKINGJELLY, invalidate_reset_cache, spikingjelly_neuron_module
from ..neuron import MFNode


def default_swappable() -> tuple[type, ...]:
    """SpikingJelly's IF, LIF and PLIF node classes (of the installed generation)."""
    if not HAS_SPIKINGJELLY:
        return ()
    sj = spikingjelly_neuron_module()
    return tuple(getattr(sj, n) for n in ("IFNode", "LIFNode", "ParametricLIFNode") if hasattr(sj, n))


def _scalar(value):
    """A float from a number or a one-element tensor; None for anything else (e.g. a per-neuron tensor)."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().item()) if value.numel() == 1 else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _snntorch_kwargs(old: nn.Module):
    """snnTorch's names (``MFLeaky`` takes them): beta, threshold, spike_grad, init_hidden, output, ... or None."""
    try:
        from snntorch import SpikingNeuron
    except ImportError:
        return None
    if not isinstance(old, SpikingNeuron):
        return None
    kw = {}
    beta = getattr(old, "beta", None)
    if beta is not None:
        # A per-neuron beta tensor goes through as is: MFLeaky refuses it with a clear message.
        kw["beta"] = _scalar(beta) if _scalar(beta) is not None else beta.detach()
        kw["learn_beta"] = isinstance(beta, nn.Parameter)
    threshold = getattr(old, "threshold", None)
    if threshold is not None:
        kw["threshold"] = _scalar(threshold) if _scalar(threshold) is not None else threshold.detach()
    for attr in ("spike_grad", "init_hidden", "output", "reset_mechanism"):
        if hasattr(old, attr):
            kw[attr] = getattr(old, attr)
    return kw


def _carried_kwargs(old: nn.Module) -> dict:
    """Hyper-parameters of ``old`` that mean the same thing in our neurons."""
    snn_kw = _snntorch_kwargs(old)
    if snn_kw is not None:
        return snn_kw
    kw = {}
    if isinstance(getattr(old, "v_threshold", None), (int, float)):
        kw["v_threshold"] = float(old.v_threshold)
    name = type(old).__name__
    if name == "ParametricLIFNode" and hasattr(old, "w"):
        # SpikingJelly's PLIF learns w with 1/tau = sigmoid(w).
        kw["tau"] = float(1.0 / torch.sigmoid(old.w.detach().float()).item())
    elif isinstance(getattr(old, "tau", None), (int, float)):
        kw["tau"] = float(old.tau)
    if hasattr(old, "v_reset"):
        v_reset = getattr(old, "v_reset", 0.0)
        if v_reset is None or isinstance(v_reset, (int, float)):
            kw["v_reset"] = v_reset
    for attr in ("step_mode", "surrogate_function", "detach_reset"):
        if hasattr(old, attr):
            kw[attr] = getattr(old, attr)
    if getattr(old, "decay_input", False) and "tau" in kw:
        # SpikingJelly's decay_input=True charges H = V + (X - (V - V_reset)) / tau: the input enters
        # scaled by 1/tau. Ours integrate X unscaled (H = beta V + X), so the same charge is the whole
        # membrane scaled by tau: threshold and reset value scale with it, and the spikes stay the same.
        if "v_threshold" in kw:
            kw["v_threshold"] *= kw["tau"]
        if isinstance(kw.get("v_reset"), float):
            kw["v_reset"] *= kw["tau"]
    return kw


def _accepted(cls, kwargs: dict) -> dict:
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def _device_of(module: nn.Module, fallback: nn.Module):
    for t in list(module.parameters()) + list(module.buffers()) + list(fallback.parameters()):
        return t.device
    return None


def swap_neurons(model: nn.Module, new_neuron=MFNode, old=None, **neuron_kwargs) -> nn.Module:
    """Replace every neuron of a class in ``old`` with ``new_neuron`` (in place) and return ``model``.

    ``old`` defaults to SpikingJelly's ``IFNode``, ``LIFNode`` and
    ``ParametricLIFNode``; pass a class or a tuple of classes to swap others.
    Carried over where they mean the same: from SpikingJelly neurons
    ``v_threshold``, ``tau`` (LIF; PLIF's learned ``1/sigmoid(w)``), ``v_reset``
    and ``detach_reset`` (when the new class takes them), ``step_mode`` and
    ``surrogate_function``; their ``decay_input=True`` (SpikingJelly's default:
    the input enters as ``X / tau``) becomes ``v_threshold`` and ``v_reset``
    times ``tau``, since our neurons integrate ``X`` unscaled (the same spikes
    up to the first reset; MF has none); from snnTorch neurons (e.g.
    ``swap_neurons(net, MFLeaky, old=snntorch.Leaky)``) ``beta``,
    ``learn_beta`` (a learnable beta), ``threshold``, ``spike_grad``,
    ``init_hidden``, ``output`` and ``reset_mechanism``. Explicit
    ``neuron_kwargs`` win. SpikingJelly 2.x's ``reset_net`` module cache is
    invalidated, so ``functional.reset_net`` sees the new neurons.

    >>> import torch.nn as nn, mfp_plugin as mfp
    >>> from spikingjelly.activation_based import neuron
    >>> net = nn.Sequential(nn.Linear(4, 4), neuron.LIFNode(tau=3.0, step_mode="m"))
    >>> net = mfp.swap_neurons(net, mfp.MFNode, membrane_bits=2)
    >>> type(net[1]).__name__, net[1].tau, net[1].membrane_bits
    ('MFNode', 3.0, 2)
    >>> net[1].v_threshold          # LIFNode's default decay_input=True: threshold 1.0 times tau
    3.0
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(new_neuron, type) and issubclass(new_neuron, nn.Module)) and not callable(new_neuron):
        raise TypeError(f"new_neuron must be a neuron class (e.g. mfp_plugin.MFNode), got {new_neuron!r}")
    if old is None:
        old = default_swappable()
        if not old:
            raise ValueError("no SpikingJelly installed: pass old=<neuron class or tuple of classes> to swap")
    elif isinstance(old, type):
        old = (old,)
    else:
        old = tuple(old)
        if not all(isinstance(c, type) for c in old):
            raise TypeError(f"old must be a class or a tuple of classes, got {old!r}")

    targets = [(name, m) for name, m in model.named_modules() if name and isinstance(m, old) and not isinstance(m, new_neuron if isinstance(new_neuron, type) else ())]
    for name, m in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        kwargs = _carried_kwargs(m)
        kwargs.update(neuron_kwargs)
        kwargs = _accepted(new_neuron, kwargs) if isinstance(new_neuron, type) else kwargs
        unknown = set(neuron_kwargs) - set(kwargs)
        if unknown:
            raise TypeError(f"{getattr(new_neuron, '__name__', new_neuron)} does not take {sorted(unknown)}")
        replacement = new_neuron(**kwargs)
        device = _device_of(m, model)
        if device is not None:
            replacement = replacement.to(device)
        setattr(parent, child, replacement)
    invalidate_reset_cache(model)
    return model
