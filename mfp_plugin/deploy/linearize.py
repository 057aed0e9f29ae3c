"""Flatten a model into the chain of layers the integer engine runs.

The engine compiles *chains*: each layer's output is the next layer's only
input. Two kinds of model are chains:

* ``nn.Sequential`` trees (SpikingJelly models converted with
  ``mfp.swap_neurons`` + ``mfp.quantize_model``; ``layer.SeqToANNContainer``
  and ``layer.MultiStepContainer`` are ``nn.Sequential`` subclasses and are
  opened too);
* the zoo's VGG (``features`` + ``avgpool`` + flatten + ``classifier``, the
  order of ``SpikingVGG.forward``).

The zoo's temporal models (``mf_seq_mlp``/``mf_seq_tcn``, ``input_type="sequence"``,
``[B, T, F]``; ``mf_dvs_net``, ``"events"``, ``[B, T, C, H, W]``) have the VGG
layout and take their input *batch-first*; the engine accepts that input and
moves time first itself (:data:`BATCH_FIRST`).

The zoo ResNets (``conv1``/``bn1``/``sn1``, ``layer1..N`` of basic blocks,
``avgpool``, optional ``fc1``/``sn_fc1``, ``fc``) are a chain of residual
blocks: each block is one entry, compiled as a
:class:`~.ops.ResidualBlock`. Any other model with a branch or a custom
forward is refused with :class:`~.errors.UnsupportedLayerError`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from torch import nn

from .errors import UnsupportedLayerError

__all__ = ["Chain", "linearize", "BATCH_FIRST", "INPUT_TYPES"]

#: batch-first input types (the zoo's temporal models) -> the input's shape in words
BATCH_FIRST = {"sequence": "[B, T, F]", "events": "[B, T, C, H, W]"}
INPUT_TYPES = ("static", "frames") + tuple(BATCH_FIRST)


@dataclass
class Chain:
    """``layers``: ``[(qualified name, module)]`` in execution order; the input spec."""

    layers: List[Tuple[str, nn.Module]]
    T: int
    input_type: str                  # "static" ([B, C, H, W] repeated over T), "frames" ([T, B, ...]),
    #                                  "sequence" ([B, T, F]) or "events" ([B, T, C, H, W]); see BATCH_FIRST
    input_shape: Tuple[int, ...]     # per-sample shape, e.g. (1, 28, 28)
    readout: str = "mean"            # the model's: logits averaged over T ("mean") or the last step's ("last")


def _is_zoo_vgg(model: nn.Module) -> bool:
    return all(hasattr(model, a) for a in ("features", "avgpool", "classifier", "T", "input_type")) \
        and isinstance(model.features, nn.Sequential) and isinstance(model.classifier, nn.Sequential)


def _is_zoo_resnet(model: nn.Module) -> bool:
    return all(hasattr(model, a) for a in ("conv1", "bn1", "sn1", "layer1", "avgpool", "fc", "T", "input_type"))


def _resnet_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The zoo ResNets' forward order; each residual block is one entry (compiled as a unit)."""
    layers = [("conv1", model.conv1), ("bn1", model.bn1), ("sn1", model.sn1)]
    if hasattr(model, "maxpool"):
        layers.append(("maxpool", model.maxpool))
    i = 1
    while hasattr(model, f"layer{i}"):
        layers += [(f"layer{i}.{n}", b) for n, b in getattr(model, f"layer{i}").named_children()]
        i += 1
    layers += [("avgpool", model.avgpool), ("flatten", nn.Flatten())]
    if getattr(model, "fc1", None) is not None:
        layers += [("fc1", model.fc1), ("sn_fc1", model.sn_fc1)]
    return layers + [("fc", model.fc)]


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
    if _is_zoo_vgg(model) or _is_zoo_resnet(model):
        if _is_zoo_vgg(model):
            layers = _open("features", model.features) + [("avgpool", model.avgpool), ("flatten", nn.Flatten())] \
                + _open("classifier", model.classifier)
        else:
            layers = _resnet_layers(model)
        T = int(model.T) if T is None else T
        input_type = model.input_type if input_type is None else input_type
        if input_type in BATCH_FIRST and model.input_type != input_type:
            raise ValueError(f"input_type={input_type!r} is batch-first; the model's own input_type is "
                             f"{model.input_type!r}: the float model must take the same input as the engine")
        if input_shape is None and input_type == "sequence" and hasattr(model, "in_channels"):
            input_shape = (int(model.in_channels),)   # one F-vector per step
        if input_shape is None:
            input_shape = _cfg_input_shape(model)
        if input_shape is None and hasattr(model, "in_channels"):
            raise ValueError("pass input_shape=(C, H, W): the model has no pretrained_cfg['input_size']")
    elif isinstance(model, nn.Sequential):
        layers = _open("", model)
        input_type = "frames" if input_type is None else input_type
        if input_type in BATCH_FIRST:
            raise ValueError(f"input_type={input_type!r} (batch-first {BATCH_FIRST[input_type]}) is for the zoo's "
                             "temporal models; an nn.Sequential takes 'frames' ([T, B, ...]) or 'static'")
    else:
        raise UnsupportedLayerError(
            "", model, "only chains of layers compile: an nn.Sequential (e.g. a SpikingJelly model "
            "after swap_neurons + quantize_model), a zoo VGG/temporal model or a zoo ResNet; other models "
            "with branches or a custom forward are not supported")
    if T is None or isinstance(T, bool) or int(T) != T or int(T) < 1:
        raise ValueError(f"T must be a positive int (the number of time steps), got {T!r}")
    if input_type not in INPUT_TYPES:
        raise ValueError(f"input_type must be one of {INPUT_TYPES}, got {input_type!r}")
    if input_shape is None:
        raise ValueError("pass input_shape: the per-sample input shape, e.g. (C, H, W) or (N,)")
    input_shape = tuple(int(v) for v in input_shape)
    if not input_shape or any(v < 1 for v in input_shape):
        raise ValueError(f"input_shape must be positive sizes without batch or time, got {input_shape}")
    readout = getattr(model, "readout", "mean")
    if readout not in ("mean", "last"):
        raise UnsupportedLayerError("", model, f"readout={readout!r}: the engine reads out 'mean' or 'last'")
    return Chain(layers=layers, T=int(T), input_type=input_type, input_shape=input_shape, readout=readout)
