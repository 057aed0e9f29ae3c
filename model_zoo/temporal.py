"""Quantized spiking nets for temporal data: sequences ``[B, T, F]`` and event frames ``[B, T, C, H, W]``.

Both take their input batch-first, as :mod:`mfp_plugin.data` yields it (a
DataLoader stacks items ``[T, ...]`` into ``[B, T, ...]``), and move time
first inside the model, so the engine and ``mfp train``/``mfp eval`` need no
special case. ``T`` is taken from the input, as for ``input_type="frames"``
(a ``kernel="learnable"`` MF neuron then requires it to equal the model's
``T``); the model's ``T`` is what the command line frames event data into and
checks sequence data against.

``mf_seq_mlp``: a spiking MLP over a sequence, one feature vector per step
(sequential Fashion-MNIST: one 28-pixel image row per step, T = 28). Layers:
``QuantLinear(F, 256)`` -> ``BatchNorm1d`` -> neuron -> ``QuantLinear(256, 256)``
-> ``BatchNorm1d`` -> neuron -> ``QuantLinear(256, K)``; BN normalises each
feature over batch *and* time (it runs on the merged ``[T*B, 256]``), the
first and last linear layers have ``first_last_bits``. Readout: the per-step
logits averaged over all T steps (the zoo's readout), so every row votes as
it arrives and little memory is needed; ``readout="last"`` takes the last
step's logits only, the usual sequential-MNIST setting. A feed-forward net
remembers the past only through its neurons (``beta = 1 - 1/tau``: at tau = 2
a row's weight halves every step; a LIF or QLIF neuron also forgets at every
reset), so the last-step readout is where a neuron's memory decides the
result (docs/results.md, section 4). ``input_type``: ``"sequence"``
(``[B, T, F]``, the only one).

``mf_seq_tcn``: the same over time, but every hidden layer is a causal 1-D
convolution over time: :class:`~mfp_plugin.layers.CausalWindow` (kernel 3,
dilations 1, 2, 4, 8) -> ``QuantLinear(3C, 256)`` -> ``BatchNorm1d`` ->
neuron, then ``QuantLinear(256, K)``; same readout. Why: the MLP's weights
are shared by every step, so a feed-forward net can tell *where* in the
sequence a row was only through its neurons' decay, and on sequential
Fashion-MNIST it stays near 81 % whatever the neuron (docs/results.md). The
windows give each step the last 31 rows with weights per offset, which is
what the classic temporal convolutional networks do, and keep the net
feed-forward, so MF's parallel, memory-free neurons still apply; deployed
step by step (:mod:`mfp_plugin.deploy`), each window is a shift register of
``(k-1)d`` past inputs.

``mf_dvs_net``: SpikingJelly's DVS classifier pattern (``CIFAR10DVSNet`` /
``DVSGestureNet`` and its N-MNIST examples): blocks of 3x3 conv -> BN ->
neuron -> 2x2 max-pool, channels ``(16, 32, 32)`` by default. SpikingJelly
uses 128 channels throughout; at T = 10 every conv, BN, pool and neuron runs
on 10 frames per sample, and these widths are what keeps a 60,000-sample
fmnist-dvs epoch within minutes on one CPU thread (channels-last, measured
with ``scripts/temporal_experiment.py estimate``: about 4 min for MF, 8-12
min for the step-by-step LIF/QLIF; 32/64/64 doubles that). Pass
``channels=(64, 128, 128)`` for SpikingJelly's size class. Then an adaptive
average pool to 4x4 (the identity, and skipped, at
34x34 input: 34 -> 17 -> 8 -> 4; 128x128 DVS Gesture / CIFAR10-DVS frames are
pooled from 16x16), then ``QuantLinear(C*16, 256)`` -> neuron -> time-shared
dropout -> ``QuantLinear(256, K)`` (``hidden_features=None``: one linear
layer). The first conv and the last linear have ``first_last_bits``. No
voting layer: per-step logits averaged over T, as the other zoo models.
``dropout`` defaults to 0 (SpikingJelly's 0.5 is for schedules of 64+
epochs; a few-epoch CPU recipe only fits slower with it). ``input_type``:
``"events"`` (``[B, T, C, H, W]``, default), ``"frames"`` (``[T, B, C, H, W]``,
as the other zoo models) or ``"static"`` (``[B, C, H, W]`` repeated over T).

Both: ``features``/``avgpool``/``classifier`` with torchvision-style indices
(the layout :mod:`mfp_plugin.deploy` reads), neurons reset at the start of
every forward, ``forward_steps`` gives the per-step logits ``[T, B, K]``.

Example::

    >>> import torch, model_zoo
    >>> seq = model_zoo.create_model("mf_seq_mlp")             # MFNode, 2-bit weights, 8-bit first/last, T = 28
    >>> seq(torch.rand(4, 28, 28)).shape                        # [B, T, F] -> [B, num_classes]
    torch.Size([4, 10])
    >>> seq.forward_steps(torch.rand(4, 28, 28)).shape          # per-step logits [T, B, K]
    torch.Size([28, 4, 10])
    >>> dvs = model_zoo.create_model("mf_dvs_net", T=4, neuron_kwargs={"tau": 4.0})
    >>> dvs(torch.rand(2, 4, 2, 34, 34)).shape                  # [B, T, 2, H, W] event frames
    torch.Size([2, 10])
    >>> dvs(torch.rand(2, 4, 2, 128, 128)).shape                # 128x128 sensors: pooled to 4x4 before the FC
    torch.Size([2, 10])
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

from mfp_plugin import reset_states
from mfp_plugin.functional.window import check_window
from mfp_plugin.layers import CausalWindow
from torch import Tensor, nn

from .layers import (ConvFeaturesHead, SeqSequential, SpikingClassifierBase, TimeSharedDropout, _init_weights,
                     make_neuron, merge_time, quant_conv, quant_linear, resolve_neuron, split_time)
from .registry import build_model_with_cfg, register_model

__all__ = ["TemporalClassifierBase", "SpikingSeqMLP", "SpikingSeqTCN", "SpikingDVSNet", "mf_seq_mlp", "mf_seq_tcn",
           "mf_dvs_net",
           "BATCH_FIRST_INPUTS"]

Bits = Union[int, str, None]

#: batch-first input types -> (shape in words, rank)
BATCH_FIRST_INPUTS = {"sequence": ("[B, T, F]", 3), "events": ("[B, T, C, H, W]", 5)}


class TemporalClassifierBase(SpikingClassifierBase):
    """:class:`~model_zoo.layers.SpikingClassifierBase` that also takes batch-first temporal input.

    ``input_type="sequence"`` (``[B, T, F]``, ``F = in_channels``) and
    ``"events"`` (``[B, T, C, H, W]``) are transposed to ``[T, B, ...]``; the
    stem then runs on the merged ``[T*B, ...]`` tensor as for ``"frames"``.
    ``allowed`` lists the input types a subclass supports.

    ``readout``: ``"mean"`` (default, as every zoo model) averages the
    per-step logits over T; ``"last"`` takes the last step's only, the usual
    sequential-MNIST setting, where whatever the classifier uses must reach
    the last step through the neurons' state (the setting where a neuron's
    memory matters; docs/results.md, section 4).
    """

    allowed: Sequence[str] = ("events", "frames", "static")
    READOUTS = ("mean", "last")

    def __init__(self, *, input_type: str, readout: str = "mean", **kwargs) -> None:
        if input_type not in self.allowed:
            raise ValueError(f"{type(self).__name__}: input_type must be one of "
                             f"{', '.join(repr(a) for a in self.allowed)}, got {input_type!r}")
        if readout not in self.READOUTS:
            raise ValueError(f"{type(self).__name__}: readout must be 'mean' (logits averaged over T) or 'last' "
                             f"(the last step's), got {readout!r}")
        # the base checks and stores the rest; batch-first types are frames once transposed
        super().__init__(input_type="frames" if input_type in BATCH_FIRST_INPUTS else input_type, **kwargs)
        self.input_type = input_type
        self.readout = readout

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes]``: the per-step logits averaged over T, or the last step's."""
        steps = self.forward_steps(x)
        return steps.mean(0) if self.readout == "mean" else steps[-1]

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", readout={self.readout!r}" if self.readout != "mean" else "")

    def _check_input(self, x: Tensor) -> None:
        if self.input_type not in BATCH_FIRST_INPUTS:
            return super()._check_input(x)
        if not isinstance(x, Tensor):
            raise TypeError(f"expected a torch.Tensor input, got {type(x).__name__}")
        expected, rank = BATCH_FIRST_INPUTS[self.input_type]
        what = "F" if self.input_type == "sequence" else "C"
        dim = -1 if self.input_type == "sequence" else -3
        if x.dim() != rank or x.shape[dim] != self.in_channels:
            raise ValueError(f"{type(self).__name__} (input_type={self.input_type!r}) expects input of shape "
                             f"{expected} with {what}={self.in_channels}, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__} expects a floating-point input, got dtype {x.dtype}")

    def forward_steps(self, x: Tensor) -> Tensor:
        """Per-step logits ``[T, B, num_classes]``."""
        if self.input_type not in BATCH_FIRST_INPUTS:
            return super().forward_steps(x)
        self._check_input(x)
        reset_states(self)  # as the base: stateful neurons must not carry the previous batch's state
        seq = x.transpose(0, 1).contiguous()  # [B, T, ...] -> [T, B, ...]
        return self._body(split_time(self._stem(merge_time(seq)), seq.shape[0]))


def _neuron_factory(model: SpikingClassifierBase, neuron, neuron_kwargs):
    cls = resolve_neuron(neuron)
    model.neuron_cls = cls
    return lambda: make_neuron(cls, neuron_kwargs, model.T)


class SpikingSeqMLP(TemporalClassifierBase):
    """Spiking MLP over ``[B, T, F]`` sequences (see the module docstring).

    ``kernel_size > 1`` puts a :class:`~mfp_plugin.layers.CausalWindow`
    (``dilations[i]``) before every hidden linear layer, making each a causal
    1-D convolution over time: :class:`SpikingSeqTCN`.
    """

    allowed = ("sequence",)
    first_layer = "features.0"
    classifier_name = "classifier.0"

    def __init__(self, *, in_channels: int = 28, num_classes: int = 10, T: int = 28,
                 hidden: Sequence[int] = (256, 256), kernel_size: int = 1, dilations: Optional[Sequence[int]] = None,
                 neuron=None, neuron_kwargs: Optional[Dict[str, Any]] = None,
                 weight_bits: Bits = 2, first_last_bits: Bits = 8, input_type: str = "sequence",
                 readout: str = "mean") -> None:
        super().__init__(T=T, in_channels=in_channels, num_classes=num_classes, input_type=input_type,
                         weight_bits=weight_bits, first_last_bits=first_last_bits, readout=readout)
        hidden = [int(h) for h in hidden]
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must list at least one layer width >= 1, got {hidden!r}")
        kernel_size, _ = check_window(kernel_size, 1)
        dilations = [1] * len(hidden) if dilations is None else list(dilations)
        if len(dilations) != len(hidden):
            raise ValueError(f"dilations must give one dilation per hidden layer ({len(hidden)}), got {dilations!r}")
        self.windowed = kernel_size > 1
        make_sn = _neuron_factory(self, neuron, neuron_kwargs)
        layers: List[nn.Module] = []
        width = self.in_channels
        for i, (h, d) in enumerate(zip(hidden, dilations)):
            bits = self.first_last_bits if i == 0 else self.weight_bits
            if self.windowed:
                layers.append(CausalWindow(kernel_size, d))
            layers += [quant_linear(kernel_size * width, h, bias=False, bits=bits), nn.BatchNorm1d(h), make_sn()]
            width = h
        if self.windowed:
            self.first_layer = "features.1"
        self.features = SeqSequential(*layers)
        self.avgpool = nn.Identity()  # no spatial map; kept so the layout is the zoo VGG's
        self.classifier = SeqSequential(quant_linear(width, self.num_classes, bits=self.first_last_bits))
        _init_weights(self)

    def _stem(self, x: Tensor) -> Tensor:  # [T*B, F] -> first linear + BN (a window needs time: no stem)
        return x if self.windowed else self.features[1](self.features[0](x))

    def _body(self, seq: Tensor) -> Tensor:
        return self.classifier(self.features.run(seq, start=0 if self.windowed else 2))


class SpikingSeqTCN(SpikingSeqMLP):
    """Spiking temporal convolutional net over ``[B, T, F]`` sequences (see the module docstring):
    :class:`SpikingSeqMLP` with ``kernel_size=3`` and dilations 1, 2, 4, 8."""

    def __init__(self, *, hidden: Sequence[int] = (256, 256, 256, 256), kernel_size: int = 3,
                 dilations: Optional[Sequence[int]] = (1, 2, 4, 8), **kwargs) -> None:
        super().__init__(hidden=hidden, kernel_size=kernel_size, dilations=dilations, **kwargs)
        if not self.windowed:
            raise ValueError("SpikingSeqTCN needs kernel_size >= 2 (kernel_size=1 is SpikingSeqMLP)")

    @property
    def receptive_field(self) -> int:
        """Consecutive input steps the last layer sees at each step: ``1 + sum_i (k-1) d_i``."""
        return 1 + sum(m.receptive_field - 1 for m in self.features if isinstance(m, CausalWindow))


class SpikingDVSNet(ConvFeaturesHead, TemporalClassifierBase):
    """Conv-BN-neuron-maxpool blocks + FC head for event frames (see the module docstring)."""

    first_layer = "features.0"

    def __init__(self, *, in_channels: int = 2, num_classes: int = 10, T: int = 10,
                 channels: Sequence[int] = (16, 32, 32), pool_size: int = 4, hidden_features: Optional[int] = 256,
                 dropout: float = 0.0, neuron=None, neuron_kwargs: Optional[Dict[str, Any]] = None,
                 weight_bits: Bits = 2, first_last_bits: Bits = 8, input_type: str = "events",
                 readout: str = "mean") -> None:
        super().__init__(T=T, in_channels=in_channels, num_classes=num_classes, input_type=input_type,
                         weight_bits=weight_bits, first_last_bits=first_last_bits, readout=readout)
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 1 or int(pool_size) < 1:
            raise ValueError(f"channels must list at least one width >= 1 and pool_size be >= 1, "
                             f"got channels={channels!r}, pool_size={pool_size!r}")
        make_sn = _neuron_factory(self, neuron, neuron_kwargs)
        layers: List[nn.Module] = []
        c = self.in_channels
        for i, out in enumerate(channels):
            bits = self.first_last_bits if i == 0 else self.weight_bits
            layers += [quant_conv(c, out, 3, 1, 1, bits=bits), nn.BatchNorm2d(out), make_sn(),
                       nn.MaxPool2d(2, 2)]
            c = out
        self.features = SeqSequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((int(pool_size), int(pool_size)))
        flat = c * int(pool_size) ** 2
        if hidden_features:
            self.classifier = SeqSequential(
                quant_linear(flat, int(hidden_features), bits=self.weight_bits), make_sn(),
                TimeSharedDropout(dropout), quant_linear(int(hidden_features), self.num_classes,
                                                         bits=self.first_last_bits))
            self.classifier_name = "classifier.3"
        else:
            self.classifier = SeqSequential(quant_linear(flat, self.num_classes, bits=self.first_last_bits))
            self.classifier_name = "classifier.0"
        _init_weights(self)


_SEQ = dict(dataset="fmnist-seq", mean=(0.2860,), std=(0.3530,), input_size=(28,), num_classes=10, T=28,
            first_conv="features.0", classifier="classifier.0")
_DVS = dict(dataset="fmnist-dvs", mean=(0.0, 0.0), std=(1.0, 1.0), input_size=(2, 34, 34), num_classes=10,
            T=10, split_by="number", first_conv="features.0", classifier="classifier.3")


@register_model(default_cfg=_SEQ)
def mf_seq_mlp(**kwargs) -> SpikingSeqMLP:
    """Spiking MLP F -> 256 -> 256 -> K for ``[B, T, F]`` sequences (default sequential Fashion-MNIST:
    F = 28, T = 28, 10 classes); per-step logits averaged over T."""
    kwargs.setdefault("T", _SEQ["T"])
    kwargs.setdefault("num_classes", _SEQ["num_classes"])
    model = build_model_with_cfg(SpikingSeqMLP, "mf_seq_mlp", _SEQ, {}, kwargs)
    # the normalisation applies to the image's pixels before its rows are read, whatever F is
    # (build_model_with_cfg drops a mean whose length differs from in_channels = F)
    model.pretrained_cfg.update(mean=_SEQ["mean"], std=_SEQ["std"])
    return model


_TCN = dict(_SEQ, first_conv="features.1")


@register_model(default_cfg=_TCN)
def mf_seq_tcn(**kwargs) -> SpikingSeqTCN:
    """Spiking temporal convolutional net for ``[B, T, F]`` sequences: four layers of causal window
    (k = 3, dilations 1, 2, 4, 8: each step sees the last 31 steps) -> linear 256 -> BN -> neuron, then
    linear K; per-step logits averaged over T (default sequential Fashion-MNIST: F = 28, T = 28)."""
    kwargs.setdefault("T", _TCN["T"])
    kwargs.setdefault("num_classes", _TCN["num_classes"])
    model = build_model_with_cfg(SpikingSeqTCN, "mf_seq_tcn", _TCN, {}, kwargs)
    model.pretrained_cfg.update(mean=_TCN["mean"], std=_TCN["std"])  # as mf_seq_mlp: per pixel, whatever F is
    return model


@register_model(default_cfg=_DVS)
def mf_dvs_net(**kwargs) -> SpikingDVSNet:
    """SpikingJelly-style DVS net (conv16-32-32 blocks with max-pool, FC 256, FC K) for event frames
    ``[B, T, 2, H, W]`` (default fmnist-dvs / N-MNIST: 2x34x34, T = 10, 10 classes)."""
    kwargs.setdefault("T", _DVS["T"])
    kwargs.setdefault("num_classes", _DVS["num_classes"])
    return build_model_with_cfg(SpikingDVSNet, "mf_dvs_net", _DVS, {}, kwargs)
