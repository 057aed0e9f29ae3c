"""Flatten a model into the chain of layers the integer engine runs.

The engine compiles *chains*: each layer's output is the next layer's only
input. Two kinds of model are chains:

* ``nn.Sequential`` trees (SpikingJelly models converted with
  ``mfp.swap_neurons`` + ``mfp.quantize_model``; ``layer.SeqToANNContainer``
  and ``layer.MultiStepContainer`` are ``nn.Sequential`` subclasses and are
  opened too);
* the zoo's VGG (``features`` + ``avgpool`` + flatten + ``classifier``, the
  order of ``SpikingVGG.forward``).

Anything with a branch (residual blocks, ``mf_resnet*``) is not a chain and is
refused with :class:`~.errors.UnsupportedLayerError`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from torch import nn

from .errors import UnsupportedLayerError

__all__ = ["Chain", "linearize"]


@dataclass
class Chain:
    """``layers``: ``[(qualified name, module)]`` in execution order; the input spec."""

    layers: List[Tuple[str, nn.Module]]
    T: int
    input_type: str                  # "static" ([B, C, H, W] repeated over T) or "frames" ([T, B, ...])
    input_shape: Tuple[int, ...]     # per-sample shape, e.g. (1, 28, 28)


def _is_zoo_vgg(model: nn.Module) -> bool:
    return all(hasattr(model, a) for a in ("features", "avgpool", "classifier", "T", "input_type")) \
        and isinstance(model.features, nn.Sequential) and isinstance(model.classifier, nn.Sequential)


def _open(prefix: str, seq: nn.Sequential) -> List[Tuple[str, nn.Module]]:
    out = []
    for name, child in seq.named_children():
        full = f"{prefix}.{name}" if prefix else name
        out += _open(full, child) if isinstance(child, nn.Sequential) else [(full, child)]
    return out


def _cfg_input_shape(model: nn.Module) -> Optional[Tuple[int, ...]]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = cfg.get("input_size") if isinstance(cfg, dict) else None
    return tuple(int(v) for v in size) if size else None


def linearize(model: nn.Module, T: Optional[int] = None, input_type: Optional[str] = None,
              input_shape: Optional[Tuple[int, ...]] = None) -> Chain:
    """The chain of ``model`` plus its input spec (``T``, ``input_type``, per-sample ``input_shape``).

    For a zoo VGG the spec defaults to the model's own (``model.T``,
    ``model.input_type``, ``pretrained_cfg["input_size"]``); an
    ``nn.Sequential`` needs ``T`` and ``input_shape`` and defaults to
    ``input_type="frames"`` (its input is ``[T, B, ...]``).

    >>> import torch.nn as nn, mfp_plugin as mfp
    >>> net = nn.Sequential(nn.Sequential(mfp.QuantLinear(4, 3), mfp.MFNode()), mfp.QuantLinear(3, 2))
    >>> [n for n, _ in linearize(net, T=2, input_shape=(4,)).layers]
    ['0.0', '0.1', '1']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"deploy expects an nn.Module, got {type(model).__name__}")
    if _is_zoo_vgg(model):
        layers = _open("features", model.features) + [("avgpool", model.avgpool), ("flatten", nn.Flatten())] \
            + _open("classifier", model.classifier)
        T = int(model.T) if T is None else T
        input_type = model.input_type if input_type is None else input_type
        if input_shape is None:
            input_shape = _cfg_input_shape(model)
        if input_shape is None and hasattr(model, "in_channels"):
            raise ValueError("pass input_shape=(C, H, W): the model has no pretrained_cfg['input_size']")
    elif isinstance(model, nn.Sequential):
        layers = _open("", model)
        input_type = "frames" if input_type is None else input_type
    else:
        raise UnsupportedLayerError(
            "", model, "only chains of layers compile: an nn.Sequential (e.g. a SpikingJelly model "
            "after swap_neurons + quantize_model) or a zoo VGG; models with branches or a custom "
            "forward (residual blocks, mf_resnet*) are not supported")
    if T is None or isinstance(T, bool) or int(T) != T or int(T) < 1:
        raise ValueError(f"T must be a positive int (the number of time steps), got {T!r}")
    if input_type not in ("static", "frames"):
        raise ValueError(f"input_type must be 'static' or 'frames', got {input_type!r}")
    if input_shape is None:
        raise ValueError("pass input_shape: the per-sample input shape, e.g. (C, H, W) or (N,)")
    input_shape = tuple(int(v) for v in input_shape)
    if not input_shape or any(v < 1 for v in input_shape):
        raise ValueError(f"input_shape must be positive sizes without batch or time, got {input_shape}")
    return Chain(layers=layers, T=int(T), input_type=input_type, input_shape=input_shape)
