"""Small quantized spiking nets for 28x28 inputs (Fashion-MNIST, MNIST,
down-sampled event data).

``mf_vgg_small``: conv64-conv64-maxpool-conv128-conv128-maxpool, adaptive
average pool to 7x7 (an identity at 28x28, so other sizes such as 34x34
N-MNIST frames also work), then one FC output layer. About 0.3 M weights;
first conv and FC at ``first_last_bits``, the three inner convs at
``weight_bits``.

``mf_vgg_mini``: conv32-maxpool-conv64-conv64-maxpool, the same head; about
87 k weights and a quarter of ``mf_vgg_small``'s compute per time step. It is
the architecture of the side-by-side experiment in ``docs/results.md``,
sized so that its seven training runs fit on a CPU.

Example::

    >>> import torch, model_zoo
    >>> m = model_zoo.create_model("mf_vgg_small", T=2)
    >>> m(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> ev = model_zoo.create_model("mf_vgg_small", input_type="frames", in_channels=2)
    >>> ev(torch.rand(3, 2, 2, 34, 34)).shape      # [T, B, C, H, W]
    torch.Size([2, 10])
"""
from __future__ import annotations

from .registry import build_model_with_cfg, register_model
from .vgg import VGG_CFGS, SpikingVGG

__all__ = ["mf_vgg_small", "mf_vgg_mini"]

_FMNIST = dict(dataset="fashion_mnist", mean=(0.2860,), std=(0.3530,), input_size=(1, 28, 28),
               num_classes=10, T=4, first_conv="features.0", classifier="classifier.0")


@register_model(default_cfg=_FMNIST)
def mf_vgg_small(**kwargs) -> SpikingVGG:
    """Small quantized spiking VGG for 28x28 grey-scale images (default 1x28x28, 10 classes)."""
    return _small("mf_vgg_small", "small", kwargs)


@register_model(default_cfg=_FMNIST)
def mf_vgg_mini(**kwargs) -> SpikingVGG:
    """A quarter-compute variant of ``mf_vgg_small`` (conv32-M-conv64-conv64-M-FC) for 28x28 inputs."""
    return _small("mf_vgg_mini", "mini", kwargs)


def _small(arch_name: str, cfg_name: str, kwargs: dict) -> SpikingVGG:
    kwargs.setdefault("T", _FMNIST["T"])
    kwargs.setdefault("num_classes", _FMNIST["num_classes"])
    kwargs.setdefault("in_channels", _FMNIST["input_size"][0])
    arch = dict(cfg=VGG_CFGS[cfg_name], pool_size=7, hidden_features=None, conv_bias=False)
    return build_model_with_cfg(SpikingVGG, arch_name, _FMNIST, arch, kwargs)
