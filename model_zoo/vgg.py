"""Quantized spiking VGG with batch norm (torchvision layout).

``features`` and ``classifier`` have torchvision's indices: each ReLU slot
holds a spiking neuron and each ``nn.Dropout`` a :class:`TimeSharedDropout`
(neither has weights), so ``features.{i}.weight`` / ``classifier.{i}.weight``
keys are exactly torchvision's ``vgg*_bn`` keys and ANN weights lift by name.

``pool_size`` (default 7, torchvision) and ``hidden_features`` (default
4096) size the classifier; CIFAR users often pass ``pool_size=1,
hidden_features=512`` for a much smaller head (weights then no longer lift
from ImageNet for the classifier).

Example::

    >>> import torch, model_zoo
    >>> m = model_zoo.create_model("mf_vgg11_bn", num_classes=10, T=1, hidden_features=64, pool_size=1)
    >>> m(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

from torch import nn

from .layers import (ConvFeaturesHead, SeqSequential, SpikingClassifierBase, TimeSharedDropout, _init_weights,
                     make_neuron, quant_conv, quant_linear, resolve_neuron)
from .registry import build_model_with_cfg, register_model

__all__ = ["SpikingVGG", "VGG_CFGS"]

Bits = Union[int, str, None]

VGG_CFGS: Dict[str, List[Union[int, str]]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    # 28x28 grey-scale nets (Fashion-MNIST / MNIST): mf_vgg_small and mf_vgg_mini.
    "small": [64, 64, "M", 128, 128, "M"],
    "mini": [32, "M", 64, 64, "M"],
}


class SpikingVGG(ConvFeaturesHead, SpikingClassifierBase):
    """VGG-BN with spiking neurons; ``features`` run as a :class:`SeqSequential`.

    ``hidden_features=None`` gives a single-layer classifier
    (``classifier.0`` is the output layer), as in :func:`mf_vgg_small`.
    """

    first_layer = "features.0"

    def __init__(self, cfg: Sequence[Union[int, str]], *, num_classes: int = 1000,
                 in_channels: int = 3, T: int = 4, neuron=None,
                 neuron_kwargs: Optional[Dict[str, Any]] = None, weight_bits: Bits = 2,
                 first_last_bits: Bits = 8, pool_size: int = 7,
                 hidden_features: Optional[int] = 4096, dropout: float = 0.5,
                 conv_bias: bool = True, input_type: str = "static") -> None:
        super().__init__(T=T, in_channels=in_channels, num_classes=num_classes, input_type=input_type,
                         weight_bits=weight_bits, first_last_bits=first_last_bits)
        cls = resolve_neuron(neuron)
        self.neuron_cls = cls
        make_sn = lambda: make_neuron(cls, neuron_kwargs, self.T)  # noqa: E731
        layers: List[nn.Module] = []
        c = in_channels
        first = True
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            bits = self.first_last_bits if first else self.weight_bits
            layers += [quant_conv(c, int(v), 3, 1, 1, bias=conv_bias, bits=bits), nn.BatchNorm2d(int(v)), make_sn()]
            c, first = int(v), False
        self.features = SeqSequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        flat = c * pool_size * pool_size
        if hidden_features:
            self.classifier = SeqSequential(
                quant_linear(flat, hidden_features, bits=self.weight_bits), make_sn(), TimeSharedDropout(dropout),
                quant_linear(hidden_features, hidden_features, bits=self.weight_bits), make_sn(),
                TimeSharedDropout(dropout),
                quant_linear(hidden_features, num_classes, bits=self.first_last_bits),
            )
            self.classifier_name = "classifier.6"
        else:
            self.classifier = SeqSequential(quant_linear(flat, num_classes, bits=self.first_last_bits))
            self.classifier_name = "classifier.0"
        # Linear layers keep PyTorch's default init: torchvision's N(0, 0.01)
        # is tuned for ReLU and leaves a threshold-1 spiking classifier silent.
        _init_weights(self)


_IMAGENET = dict(dataset="imagenet", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                 input_size=(3, 224, 224), num_classes=1000, T=4, first_conv="features.0",
                 classifier="classifier.6")


def _vgg(arch: str, cfg_name: str, kwargs: dict) -> SpikingVGG:
    kwargs.setdefault("T", _IMAGENET["T"])
    kwargs.setdefault("num_classes", _IMAGENET["num_classes"])
    return build_model_with_cfg(SpikingVGG, arch, _IMAGENET, dict(cfg=VGG_CFGS[cfg_name]), kwargs)


@register_model(default_cfg=_IMAGENET)
def mf_vgg11_bn(**kwargs) -> SpikingVGG:
    """Quantized spiking VGG-11-BN (torchvision ``vgg11_bn`` names)."""
    return _vgg("mf_vgg11_bn", "vgg11", kwargs)


@register_model(default_cfg=_IMAGENET)
def mf_vgg13_bn(**kwargs) -> SpikingVGG:
    """Quantized spiking VGG-13-BN (torchvision ``vgg13_bn`` names)."""
    return _vgg("mf_vgg13_bn", "vgg13", kwargs)


@register_model(default_cfg=_IMAGENET)
def mf_vgg16_bn(**kwargs) -> SpikingVGG:
    """Quantized spiking VGG-16-BN (torchvision ``vgg16_bn`` names)."""
    return _vgg("mf_vgg16_bn", "vgg16", kwargs)
