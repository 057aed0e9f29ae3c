"""Quantized spiking ResNets.

* ``mf_resnet18`` / ``mf_resnet34``: the ImageNet layout of torchvision's
  ``resnet18``/``resnet34`` with every ReLU replaced by a spiking neuron
  (``sn1``, ``sn2`` as in SpikingJelly's ``spiking_resnet``). Parameter names
  are torchvision's, so ANN weights lift with
  :func:`model_zoo.convert.load_torchvision_weights`. ``stem="cifar"`` swaps
  the 7x7/2 conv + max-pool stem for a 3x3/1 conv (the usual CIFAR variant).
* ``mf_resnet19``: the CIFAR ResNet-19 of tdBN (Zheng et al., AAAI 2021) and
  TET, widely used by QSNN papers: 3x3 conv 128, stages 128x3 / 256x3 / 512x2,
  global average pool, FC 256 + neuron, FC.
* ``mf_resnet20``: He et al.'s CIFAR ResNet-20 (16/32/64 channels, 3x3 blocks
  per stage) with a 1x1 conv + BN projection shortcut (option B) where the
  shape changes.

First conv and last FC use ``first_last_bits`` (default 8), everything else
``weight_bits`` (default 2); BN stays float (it folds into the threshold at
deployment).

Example::

    >>> import torch, model_zoo
    >>> m = model_zoo.create_model("mf_resnet20", num_classes=10, T=2)
    >>> m(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .layers import (SpikingClassifierBase, _init_weights, make_neuron, merge_time, quant_conv,
                     quant_linear, resolve_neuron, split_time)
from .registry import build_model_with_cfg, register_model

__all__ = ["BasicBlock", "SpikingResNet", "CifarSpikingResNet"]

Bits = Union[int, str, None]


class BasicBlock(nn.Module):
    """Spiking basic block; input and output are spikes ``[T, B, C, H, W]``.

    ``out = sn2(bn2(conv2(sn1(bn1(conv1(x))))) + shortcut(x))``: the second
    neuron fires on the sum, as torchvision's ReLU after the addition, so the
    residual path carries currents and the block still emits binary spikes.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int, make_sn, weight_bits: Bits) -> None:
        super().__init__()
        self.conv1 = quant_conv(inplanes, planes, 3, stride, 1, bias=False, bits=weight_bits)
        self.bn1 = nn.BatchNorm2d(planes)
        self.sn1 = make_sn()
        self.conv2 = quant_conv(planes, planes, 3, 1, 1, bias=False, bits=weight_bits)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                quant_conv(inplanes, planes, 1, stride, 0, bias=False, bits=weight_bits),
                nn.BatchNorm2d(planes),
            )
        self.sn2 = make_sn()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        T = x.shape[0]
        flat = merge_time(x)
        out = self.sn1(split_time(self.bn1(self.conv1(flat)), T))
        out = self.bn2(self.conv2(merge_time(out)))
        identity = flat if self.downsample is None else self.downsample(flat)
        return self.sn2(split_time(out + identity, T))


def _neuron_factory(neuron, neuron_kwargs, T):
    cls = resolve_neuron(neuron)
    return cls, (lambda: make_neuron(cls, neuron_kwargs, T))


class SpikingResNet(SpikingClassifierBase):
    """torchvision-layout spiking ResNet (BasicBlock only: 18/34 layers)."""

    first_layer = "conv1"
    classifier_name = "fc"

    def __init__(self, layers: Sequence[int], *, num_classes: int = 1000, in_channels: int = 3,
                 T: int = 4, neuron=None, neuron_kwargs: Optional[Dict[str, Any]] = None,
                 weight_bits: Bits = 2, first_last_bits: Bits = 8, stem: str = "imagenet",
                 input_type: str = "static", zero_init_residual: bool = False) -> None:
        super().__init__(T=T, in_channels=in_channels, num_classes=num_classes, input_type=input_type,
                         weight_bits=weight_bits, first_last_bits=first_last_bits)
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        self.neuron_cls, make_sn = _neuron_factory(neuron, neuron_kwargs, self.T)
        self.stem = stem
        if stem == "imagenet":
            self.conv1 = quant_conv(in_channels, 64, 7, 2, 3, bias=False, bits=self.first_last_bits)
            self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = quant_conv(in_channels, 64, 3, 1, 1, bias=False, bits=self.first_last_bits)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(64)
        self.sn1 = make_sn()
        inplanes = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(inplanes, planes, stride, make_sn, self.weight_bits))
                inplanes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = quant_linear(512, num_classes, bits=self.first_last_bits)
        _init_weights(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _stem(self, x: Tensor) -> Tensor:
        return self.bn1(self.conv1(x))

    def _body(self, seq: Tensor) -> Tensor:
        T = seq.shape[0]
        x = self.sn1(seq)
        # max-pool of spikes is an OR over the window: output stays binary.
        x = split_time(self.maxpool(merge_time(x)), T)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(merge_time(x)), 1)
        return split_time(self.fc(x), T)


class CifarSpikingResNet(SpikingClassifierBase):
    """CIFAR-style spiking ResNet: 3x3 stem, no max-pool, ``len(layers)`` stages.

    ``hidden_fc`` adds ``fc1`` + neuron ``sn_fc1`` before the output ``fc``
    (ResNet-19's FC-256).
    """

    first_layer = "conv1"
    classifier_name = "fc"

    def __init__(self, layers: Sequence[int], widths: Sequence[int], *, stem_width: int,
                 hidden_fc: Optional[int] = None, num_classes: int = 10, in_channels: int = 3,
                 T: int = 4, neuron=None, neuron_kwargs: Optional[Dict[str, Any]] = None,
                 weight_bits: Bits = 2, first_last_bits: Bits = 8, input_type: str = "static",
                 strides: Optional[Sequence[int]] = None) -> None:
        super().__init__(T=T, in_channels=in_channels, num_classes=num_classes, input_type=input_type,
                         weight_bits=weight_bits, first_last_bits=first_last_bits)
        if len(layers) != len(widths):
            raise ValueError("layers and widths must have the same length")
        strides = list(strides) if strides is not None else [1] + [2] * (len(layers) - 1)
        self.neuron_cls, make_sn = _neuron_factory(neuron, neuron_kwargs, self.T)
        self.conv1 = quant_conv(in_channels, stem_width, 3, 1, 1, bias=False, bits=self.first_last_bits)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.sn1 = make_sn()
        inplanes = stem_width
        self.num_stages = len(layers)
        for i, (planes, n, s) in enumerate(zip(widths, layers, strides)):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(inplanes, planes, s if j == 0 else 1, make_sn, self.weight_bits))
                inplanes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        if hidden_fc:
            self.fc1 = quant_linear(inplanes, hidden_fc, bits=self.weight_bits)
            self.sn_fc1 = make_sn()
            inplanes = hidden_fc
        else:
            self.fc1 = None
            self.sn_fc1 = None
        self.fc = quant_linear(inplanes, num_classes, bits=self.first_last_bits)
        _init_weights(self)

    def _stem(self, x: Tensor) -> Tensor:
        return self.bn1(self.conv1(x))

    def _body(self, seq: Tensor) -> Tensor:
        T = seq.shape[0]
        x = self.sn1(seq)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        x = torch.flatten(self.avgpool(merge_time(x)), 1)
        if self.fc1 is not None:
            x = merge_time(self.sn_fc1(split_time(self.fc1(x), T)))
        return split_time(self.fc(x), T)


_IMAGENET = dict(dataset="imagenet", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                 input_size=(3, 224, 224), num_classes=1000, T=4, first_conv="conv1", classifier="fc")
_CIFAR10 = dict(dataset="cifar10", mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
                input_size=(3, 32, 32), num_classes=10, T=4, first_conv="conv1", classifier="fc")


def _cfg_kwargs(cfg: dict, kwargs: dict) -> dict:
    kwargs.setdefault("T", cfg["T"])
    kwargs.setdefault("num_classes", cfg["num_classes"])
    return kwargs


@register_model(default_cfg=_IMAGENET)
def mf_resnet18(**kwargs) -> SpikingResNet:
    """Quantized spiking ResNet-18 (torchvision layout, ImageNet stem).

    >>> import torch, model_zoo
    >>> m = model_zoo.create_model("mf_resnet18", num_classes=10, T=1).eval()
    >>> m(torch.randn(1, 3, 32, 32)).shape
    torch.Size([1, 10])
    """
    return build_model_with_cfg(SpikingResNet, "mf_resnet18", _IMAGENET,
                                dict(layers=(2, 2, 2, 2)), _cfg_kwargs(_IMAGENET, kwargs))


@register_model(default_cfg=_IMAGENET)
def mf_resnet34(**kwargs) -> SpikingResNet:
    """Quantized spiking ResNet-34 (torchvision layout, ImageNet stem)."""
    return build_model_with_cfg(SpikingResNet, "mf_resnet34", _IMAGENET,
                                dict(layers=(3, 4, 6, 3)), _cfg_kwargs(_IMAGENET, kwargs))


@register_model(default_cfg=_CIFAR10)
def mf_resnet19(**kwargs) -> CifarSpikingResNet:
    """Quantized spiking ResNet-19 for CIFAR (tdBN / TET layout, FC-256 head).

    >>> import torch, model_zoo
    >>> m = model_zoo.create_model("mf_resnet19", T=1)
    >>> m(torch.randn(1, 3, 32, 32)).shape
    torch.Size([1, 10])
    """
    arch = dict(layers=(3, 3, 2), widths=(128, 256, 512), stem_width=128, hidden_fc=256)
    return build_model_with_cfg(CifarSpikingResNet, "mf_resnet19", _CIFAR10, arch,
                                _cfg_kwargs(_CIFAR10, kwargs))


@register_model(default_cfg=_CIFAR10)
def mf_resnet20(**kwargs) -> CifarSpikingResNet:
    """Quantized spiking ResNet-20 for CIFAR (He et al. 2016, 16/32/64 channels)."""
    arch = dict(layers=(3, 3, 3), widths=(16, 32, 64), stem_width=16, hidden_fc=None)
    return build_model_with_cfg(CifarSpikingResNet, "mf_resnet20", _CIFAR10, arch,
                                _cfg_kwargs(_CIFAR10, kwargs))
