"""Shared building blocks of the model zoo.

Layout convention used by every zoo model (the reason for these helpers):

* stateless per-sample layers (conv, BN, pooling, linear) run on a merged
  ``[T*B, ...]`` tensor, so one kernel launch covers all time steps;
* neurons (any SpikingJelly-style multi-step module) receive ``[T, B, ...]``.

Parameter names are not wrapped in containers (no ``conv1.0.weight``), which is
what keeps torchvision / SpikingJelly checkpoints loadable by name.

Example::

    >>> import torch
    >>> from model_zoo.layers import merge_time, split_time, repeat_time
    >>> x = torch.zeros(2, 3, 8, 8)
    >>> seq = repeat_time(x, T=4)          # [4, 2, 3, 8, 8]
    >>> split_time(merge_time(seq), T=4).shape
    torch.Size([4, 2, 3, 8, 8])
"""
from __future__ import annotations

import copy
import importlib
import inspect
from typing import Any, Dict, Optional, Sequence, Tuple, Type, Union

import torch
from mfp_plugin import QuantConv2d, QuantLinear, reset_states
from mfp_plugin.quant import normalize_bits
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

__all__ = [
    "merge_time",
    "split_time",
    "repeat_time",
    "DirectEncoder",
    "TimeSharedDropout",
    "SeqSequential",
    "SeqBatchNorm2d",
    "SpikingClassifierBase",
    "resolve_neuron",
    "neuron_name",
    "make_neuron",
    "parse_bits",
    "quant_conv",
    "quant_linear",
    "is_temporal_module",
    "ALLOWED_NEURON_MODULES",
]

# Modules whose classes may be named by string in configs or checkpoint
# metadata. A string from a downloaded file must never be able to import and
# instantiate arbitrary code, so resolution is limited to these packages.
ALLOWED_NEURON_MODULES: Tuple[str, ...] = ("mfp_plugin", "spikingjelly", "snntorch", "model_zoo")

_SHORT_NEURON_NAMES = {
    "MFNode": "mfp_plugin.MFNode",
    "QLIFNode": "mfp_plugin.QLIFNode",
}


def merge_time(x: Tensor) -> Tensor:
    """``[T, B, ...] -> [T*B, ...]`` (a view when ``x`` is contiguous)."""
    return x.flatten(0, 1)


def split_time(x: Tensor, T: int) -> Tensor:
    """``[T*B, ...] -> [T, B, ...]``."""
    return x.unflatten(0, (T, x.shape[0] // T))


def repeat_time(x: Tensor, T: int) -> Tensor:
    """Direct encoding: ``[B, ...] -> [T, B, ...]`` (a real copy, not an
    ``expand`` view, because downstream neurons may write in place). Each step
    keeps ``x``'s memory format, so a channels-last model stays channels-last."""
    return torch.cat([x] * T).unflatten(0, (T, x.shape[0]))


class DirectEncoder(nn.Module):
    """Repeat a static input ``[B, ...]`` over ``T`` steps (direct encoding).

    >>> DirectEncoder(T=3)(torch.ones(2, 5)).shape
    torch.Size([3, 2, 5])
    """

    def __init__(self, T: int) -> None:
        super().__init__()
        self.T = int(T)

    def forward(self, x: Tensor) -> Tensor:
        return repeat_time(x, self.T)

    def extra_repr(self) -> str:
        return f"T={self.T}"


class TimeSharedDropout(nn.Module):
    """Dropout on ``[T, B, ...]`` with one mask shared by all time steps.

    A fresh mask per step would let a neuron see a different sub-network at
    every step, which acts as noise on the membrane integration; sharing the
    mask (as SpikingJelly's ``layer.Dropout``) drops whole neurons instead.
    Has no parameters, so it can sit where torchvision has ``nn.Dropout``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = torch.empty_like(x[0]).bernoulli_(1.0 - self.p) / (1.0 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


# Per-sample, stateless layers: they run on the merged [T*B, ...] tensor.
_PER_SAMPLE = (
    nn.modules.conv._ConvNd,
    nn.Linear,
    nn.modules.batchnorm._NormBase,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.Flatten,
    nn.Identity,
    nn.Dropout,
)


def is_temporal_module(m: nn.Module) -> bool:
    """True for modules that need ``[T, B, ...]`` (neurons, time-shared dropout).

    Decided by exclusion of known per-sample layers rather than by a neuron
    whitelist, so neurons swapped in later (``mfp.swap_neurons``) or any
    SpikingJelly / user neuron are still fed the time axis.
    """
    return not isinstance(m, _PER_SAMPLE)


class SeqSequential(nn.Sequential):
    """An ``nn.Sequential`` over ``[T, B, ...]`` that merges time for
    per-sample layers and keeps it for temporal ones. Indices (and so
    parameter names) are those of a plain ``nn.Sequential``."""

    def forward(self, x: Tensor) -> Tensor:  # x: [T, B, ...]
        return self.run(x, start=0)

    def run(self, x: Tensor, start: int = 0) -> Tensor:
        """Apply layers ``start:`` (no sliced copy of the container, so hooks
        on it and on its children behave as for a full call)."""
        T = x.shape[0]
        merged = False
        for m in list(self)[start:]:
            if is_temporal_module(m):
                if merged:
                    x, merged = split_time(x, T), False
            elif not merged:
                x, merged = merge_time(x), True
            x = m(x)
        return split_time(x, T) if merged else x


class SeqBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` that also takes ``[T, B, C, H, W]``: statistics over
    time and batch together (SpikingJelly's ``SeqToANNContainer(BN)``; the
    zoo models get the same by running BN on merged ``[T*B, ...]``).
    Parameter names are ``nn.BatchNorm2d``'s.

    >>> SeqBatchNorm2d(3)(torch.randn(4, 2, 3, 5, 5)).shape
    torch.Size([4, 2, 3, 5, 5])
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 5:
            return split_time(super().forward(merge_time(x)), x.shape[0])
        return super().forward(x)


def resolve_neuron(neuron: Union[None, str, Type[nn.Module]]) -> Type[nn.Module]:
    """Turn ``None`` / a name / a class into a neuron class.

    ``None`` -> ``mfp_plugin.MFNode``. Strings: ``"MFNode"``, ``"QLIFNode"``,
    a bare SpikingJelly name (``"LIFNode"``) or a dotted path inside one of
    :data:`ALLOWED_NEURON_MODULES`.

    >>> resolve_neuron("LIFNode").__name__
    'LIFNode'
    """
    if neuron is None:
        neuron = "mfp_plugin.MFNode"
    if isinstance(neuron, type):
        if not issubclass(neuron, nn.Module):
            raise TypeError(f"neuron must be an nn.Module subclass, got {neuron!r}")
        return neuron
    if not isinstance(neuron, str):
        raise TypeError(f"neuron must be a class or a string, got {type(neuron).__name__}")
    path = _SHORT_NEURON_NAMES.get(neuron, neuron)
    if "." not in path:
        path = f"spikingjelly.activation_based.neuron.{path}"
    module_name, _, attr = path.rpartition(".")
    if module_name.split(".")[0] not in ALLOWED_NEURON_MODULES:
        raise ValueError(
            f"neuron {neuron!r}: only classes from {ALLOWED_NEURON_MODULES} may be named "
            "by string; pass the class object itself for anything else"
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot resolve neuron {neuron!r} ({path}): {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"neuron {neuron!r} resolved to {cls!r}, which is not an nn.Module class")
    return cls


def neuron_name(cls: Type[nn.Module]) -> str:
    """A string :func:`resolve_neuron` maps back to ``cls`` (for configs)."""
    if cls.__module__.startswith("mfp_plugin"):
        import mfp_plugin

        if getattr(mfp_plugin, cls.__name__, None) is cls:
            return f"mfp_plugin.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def make_neuron(cls: Type[nn.Module], neuron_kwargs: Optional[Dict[str, Any]], T: int) -> nn.Module:
    """Instantiate one neuron in multi-step mode.

    ``step_mode="m"`` is forced (the zoo feeds ``[T, B, ...]``); a learnable
    MFNode kernel gets the model's ``T`` unless one is given.
    """
    kw = copy.deepcopy(dict(neuron_kwargs or {}))  # learnable surrogates must not be shared
    if kw.get("step_mode", "m") != "m":
        raise ValueError("zoo models run neurons in multi-step mode; drop step_mode from neuron_kwargs")
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if "step_mode" in params or var_kw:
        kw["step_mode"] = "m"
    if kw.get("kernel") == "learnable" and "T" in params:
        kw.setdefault("T", T)
    m = cls(**kw)
    if hasattr(m, "step_mode"):
        m.step_mode = "m"
    return m


def quant_conv(in_ch: int, out_ch: int, k: int, stride: int = 1, padding: int = 0,
               bias: bool = False, bits: Union[int, str, None] = 2) -> nn.Conv2d:
    """``mfp_plugin.QuantConv2d`` (``bits=None`` keeps float weights)."""
    return QuantConv2d(in_ch, out_ch, k, stride=stride, padding=padding, bias=bias, weight_bits=bits)


def quant_linear(in_f: int, out_f: int, bias: bool = True, bits: Union[int, str, None] = 2) -> nn.Linear:
    """``mfp_plugin.QuantLinear`` (``bits=None`` keeps float weights)."""
    return QuantLinear(in_f, out_f, bias=bias, weight_bits=bits)


def parse_bits(name: str, bits: Any) -> Union[int, str, None]:
    """``bits`` through :func:`mfp_plugin.quant.normalize_bits` (the one
    parser: ``1``/``'binary'``, ``'ternary'``, ``2``..``8`` or ``'2'``, ``None``/``'fp'``/``32``),
    with ``name`` in the error so a bad builder argument is named.

    >>> parse_bits("weight_bits", "binary"), parse_bits("first_last_bits", "fp")
    (1, None)
    """
    try:
        return normalize_bits(bits)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{name}: {e}") from e


class ConvFeaturesHead:
    """``_stem``/``_body`` of a conv classifier laid out as ``features`` (first conv, BN, neuron, ...),
    ``avgpool``, ``classifier``: shared by the spiking VGGs and ``mf_dvs_net``."""

    def _stem(self, x: Tensor) -> Tensor:
        # features[0:2] = first conv + BN, per-sample; features[2] is the neuron
        return self.features[1](self.features[0](x))

    def _body(self, seq: Tensor) -> Tensor:
        T = seq.shape[0]
        x = merge_time(self.features.run(seq, start=2))
        if tuple(x.shape[-2:]) != _pair(self.avgpool.output_size):
            x = self.avgpool(x)  # pooling to the map's own size is the identity: skip its 2 passes
        return self.classifier(split_time(torch.flatten(x, 1), T))


class SpikingClassifierBase(nn.Module):
    """Common input handling of the zoo classifiers.

    Subclasses implement ``_stem(x)`` (the first conv + BN: per-sample, so it
    can run on ``[B, ...]`` once for static images) and ``_body(seq)`` which
    maps the stem's ``[T, B, ...]`` output to per-step logits ``[T, B, K]``.

    * ``input_type="static"``: input ``[B, C, H, W]``; the stem runs once and
      its output is repeated over ``T`` (identical to repeating the image,
      BN statistics included, but ``T`` times cheaper).
    * ``input_type="frames"``: input ``[T, B, C, H, W]`` (event frames); ``T``
      is taken from the input.

    ``forward`` returns logits averaged over time, ``[B, num_classes]``;
    ``forward_steps`` returns the per-step logits ``[T, B, num_classes]``
    (for TET-style per-step losses).
    """

    first_layer: str = "conv1"
    classifier_name: str = "fc"

    def __init__(self, *, T: int, in_channels: int, num_classes: int, input_type: str,
                 weight_bits, first_last_bits) -> None:
        super().__init__()
        if input_type not in ("static", "frames"):
            raise ValueError(f"input_type must be 'static' or 'frames', got {input_type!r}")
        if int(T) < 1:
            raise ValueError(f"T must be >= 1, got {T}")
        if int(in_channels) < 1 or int(num_classes) < 1:
            raise ValueError("in_channels and num_classes must be >= 1")
        self.T = int(T)
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.input_type = input_type
        # parsed once here; subclasses build their layers from these attributes
        self.weight_bits = parse_bits("weight_bits", weight_bits)
        self.first_last_bits = parse_bits("first_last_bits", first_last_bits)

    # -- to implement -------------------------------------------------------
    def _stem(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _body(self, seq: Tensor) -> Tensor:
        raise NotImplementedError

    # -- public -------------------------------------------------------------
    def get_classifier(self) -> nn.Module:
        """The last (output) layer, as timm's ``get_classifier``."""
        return self.get_submodule(self.classifier_name)

    def get_first_layer(self) -> nn.Module:
        return self.get_submodule(self.first_layer)

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"expected a torch.Tensor input, got {type(x).__name__}")
        if self.input_type == "static":
            expected, rank = "[B, C, H, W]", 4
            hint = " (for event frames [T, B, C, H, W] build the model with input_type='frames')"
        else:
            expected, rank = "[T, B, C, H, W]", 5
            hint = " (for static images [B, C, H, W] build the model with input_type='static')"
        if x.dim() != rank:
            raise ValueError(
                f"{type(self).__name__} expects input of shape {expected} with C={self.in_channels}, "
                f"got shape {tuple(x.shape)}{hint}"
            )
        if x.shape[-3] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects {expected} with C={self.in_channels}, "
                f"got C={x.shape[-3]} (shape {tuple(x.shape)})"
            )
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__} expects a floating-point input, got dtype {x.dtype}")

    def forward_steps(self, x: Tensor) -> Tensor:
        """Per-step logits ``[T, B, num_classes]``."""
        self._check_input(x)
        # Reset here rather than leaving it to the caller: stateful neurons
        # (SpikingJelly LIF, QLIFNode) would otherwise carry membrane state
        # from the previous batch into this one.
        reset_states(self)
        if self.input_type == "static":
            seq = repeat_time(self._stem(x), self.T)
        else:
            T = x.shape[0]
            seq = split_time(self._stem(merge_time(x)), T)
        return self._body(seq)

    def forward(self, x: Tensor) -> Tensor:
        """Logits averaged over time, ``[B, num_classes]``."""
        return self.forward_steps(x).mean(0)

    def extra_repr(self) -> str:
        return (f"T={self.T}, input_type={self.input_type!r}, weight_bits={self.weight_bits!r}, "
                f"first_last_bits={self.first_last_bits!r}")


def _init_weights(model: nn.Module) -> None:
    """torchvision's init: Kaiming-normal convs (fan_out), BN (1, 0)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._NormBase) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

