"""mfp-plugin model zoo: quantized spiking CNNs with a timm-like API.

>>> import torch, model_zoo
>>> model_zoo.list_models()
['mf_dvs_net', 'mf_resnet18', 'mf_resnet19', 'mf_resnet20', 'mf_resnet34', 'mf_seq_mlp', 'mf_seq_tcn', 'mf_vgg11_bn', 'mf_vgg13_bn', 'mf_vgg16_bn', 'mf_vgg_mini', 'mf_vgg_small']
>>> m = model_zoo.create_model("mf_vgg_small", T=2)      # MFNode, 2-bit weights, 8-bit first/last
>>> m(torch.rand(4, 1, 28, 28)).shape                   # [B, C, H, W] -> [B, num_classes]
torch.Size([4, 10])
>>> model_zoo.list_pretrained()
['mf_dvs_net.fmnist_dvs_w2', 'mf_seq_tcn.fmnist_seq_w2', 'mf_vgg_small.fmnist_w1', 'mf_vgg_small.fmnist_w2_m2']

Models: static images ``[B, C, H, W]`` are direct-encoded over ``T`` steps
(the first conv + BN runs once); ``input_type="frames"`` takes event frames
``[T, B, C, H, W]``; the temporal models of :mod:`~model_zoo.temporal` take
batch-first data as ``mfp_plugin.data`` yields it: ``mf_seq_mlp`` sequences
``[B, T, F]`` (``input_type="sequence"``), ``mf_dvs_net`` event frames
``[B, T, C, H, W]`` (``input_type="events"``). Output: logits averaged over time (``forward_steps``
gives the per-step logits); every forward starts from reset neuron state.
Builder kwargs: ``neuron`` (class or name, default ``mfp_plugin.MFNode``),
``neuron_kwargs``, ``weight_bits`` (2), ``first_last_bits`` (8; ``None`` or
``'fp'`` = float; any spec :func:`mfp_plugin.quant.normalize_bits` accepts),
``T``, ``in_channels``, ``num_classes``, ``input_type``.

Modules: :mod:`~model_zoo.registry` (names, cards, ``create_model``),
:mod:`~model_zoo.pretrained` (the card format), :mod:`~model_zoo.checkpoint`
(state-dict files), :mod:`~model_zoo.hub` (sha256, downloads),
:mod:`~model_zoo.convert` (torchvision / SpikingJelly weights).
"""
from .registry import (InvalidPretrainedCfgError, UnknownModelError, build_model_with_cfg, create_model,
                       default_pretrained_tag, deregister_pretrained_cfg, get_default_cfg, get_pretrained_cfg,
                       is_model, list_models, list_pretrained, load_pretrained_cfgs, pretrained_available,
                       register_model, register_pretrained_cfg, split_model_name)
from .hub import ChecksumError, DownloadError, download_cached_file, sha256_file, verify_sha256
from .checkpoint import (CorruptCheckpointError, load_checkpoint, load_state_dict_file, read_checkpoint_metadata,
                         save_checkpoint, strip_state_dict_prefixes)
from .pretrained import PretrainedCfg, WeightsNotFoundError
from .convert import ConversionReport, convert_spikingjelly_state_dict, load_torchvision_weights
from .resnet import CifarSpikingResNet, SpikingResNet, mf_resnet18, mf_resnet19, mf_resnet20, mf_resnet34
from .vgg import SpikingVGG, mf_vgg11_bn, mf_vgg13_bn, mf_vgg16_bn
from .small import mf_vgg_mini, mf_vgg_small
from .temporal import SpikingDVSNet, SpikingSeqMLP, mf_dvs_net, mf_seq_mlp

# Pretrained configs are data shipped with the package. A broken card file is
# skipped with a warning instead of making the whole zoo unimportable.
load_pretrained_cfgs(on_error="warn")

__all__ = [
    "register_model", "list_models", "list_pretrained", "is_model", "create_model", "get_pretrained_cfg",
    "get_default_cfg", "default_pretrained_tag", "pretrained_available", "split_model_name",
    "build_model_with_cfg", "register_pretrained_cfg", "deregister_pretrained_cfg", "load_pretrained_cfgs",
    "UnknownModelError", "InvalidPretrainedCfgError", "PretrainedCfg", "WeightsNotFoundError",
    "load_checkpoint", "save_checkpoint", "load_state_dict_file", "strip_state_dict_prefixes",
    "read_checkpoint_metadata", "CorruptCheckpointError", "ChecksumError", "DownloadError", "sha256_file",
    "verify_sha256", "download_cached_file", "ConversionReport", "load_torchvision_weights",
    "convert_spikingjelly_state_dict", "SpikingResNet", "CifarSpikingResNet", "SpikingVGG", "mf_resnet18",
    "mf_resnet34", "mf_resnet19", "mf_resnet20", "mf_vgg11_bn", "mf_vgg13_bn", "mf_vgg16_bn", "mf_vgg_mini", "mf_vgg_small",
    "SpikingSeqMLP", "SpikingDVSNet", "mf_seq_mlp", "mf_dvs_net",
]
