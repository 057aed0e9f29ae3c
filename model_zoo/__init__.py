"""mfp-plugin model zoo: quantized spiking CNNs with a timm-like API.

>>> import torch, model_zoo
>>> model_zoo.list_models()
['mf_resnet18', 'mf_resnet19', 'mf_resnet20', 'mf_resnet34', 'mf_vgg11_bn', 'mf_vgg13_bn', 'mf_vgg16_bn', 'mf_vgg_small']
>>> m = model_zoo.create_model("mf_vgg_small", T=2)      # MFNode, 2-bit weights, 8-bit first/last
>>> m(torch.rand(4, 1, 28, 28)).shape                   # [B, C, H, W] -> [B, num_classes]
torch.Size([4, 10])

Models: static images ``[B, C, H, W]`` are direct-encoded over ``T`` steps
(the first conv + BN runs once); ``input_type="frames"`` takes event frames
``[T, B, C, H, W]``. Output: logits averaged over time (``forward_steps``
gives the per-step logits). Builder kwargs: ``neuron`` (class or name,
default ``mfp_plugin.MFNode``), ``neuron_kwargs``, ``weight_bits`` (2),
``first_last_bits`` (8; ``None`` = float), ``T``, ``in_channels``,
``num_classes``, ``input_type``.
"""
from .registry import (build_model_with_cfg, create_model, deregister_pretrained_cfg, get_default_cfg,
                       get_pretrained_cfg, is_model, list_models, list_pretrained, register_model,
                       register_pretrained_cfg, split_model_name)
from .hub import ChecksumError, download_cached_file, sha256_file
from .pretrained import (PretrainedCfg, load_checkpoint, load_pretrained_cfgs, load_state_dict_file,
                         read_checkpoint_metadata, save_checkpoint)
from .convert import ConversionReport, convert_spikingjelly_state_dict, load_torchvision_weights
from .resnet import CifarSpikingResNet, SpikingResNet, mf_resnet18, mf_resnet19, mf_resnet20, mf_resnet34
from .vgg import SpikingVGG, mf_vgg11_bn, mf_vgg13_bn, mf_vgg16_bn
from .small import mf_vgg_small

# Pretrained configs are data shipped with the package.
load_pretrained_cfgs()

__all__ = [
    "register_model", "list_models", "list_pretrained", "is_model", "create_model", "get_pretrained_cfg",
    "get_default_cfg", "split_model_name", "build_model_with_cfg", "register_pretrained_cfg",
    "deregister_pretrained_cfg", "PretrainedCfg", "load_pretrained_cfgs", "load_checkpoint",
    "save_checkpoint", "load_state_dict_file", "read_checkpoint_metadata", "ChecksumError",
    "sha256_file", "download_cached_file", "ConversionReport", "load_torchvision_weights",
    "convert_spikingjelly_state_dict", "SpikingResNet", "CifarSpikingResNet", "SpikingVGG",
    "mf_resnet18", "mf_resnet34", "mf_resnet19", "mf_resnet20", "mf_vgg11_bn", "mf_vgg13_bn",
    "mf_vgg16_bn", "mf_vgg_small",
]
