"""Lift ANN / SpikingJelly weights into zoo models.

``mf_resnet18/34`` and ``mf_vgg{11,13,16}_bn`` use torchvision's parameter
names, and SpikingJelly's ``spiking_resnet*`` / ``spiking_vgg*_bn`` use them
too. So both conversions are name-preserving; what this module adds is the
checking: every weight of the source must land on a same-shaped tensor, and
the only keys of the zoo model left unfilled may be neuron and quantizer
state (reported in a :class:`ConversionReport`).

Lifted ANN weights are an initialisation for spiking fine-tuning, not a
converted SNN: a BN output that a ReLU passed is now compared with a firing
threshold.

>>> import torchvision, model_zoo
>>> from model_zoo.convert import load_torchvision_weights
>>> ann = torchvision.models.resnet18(num_classes=10)
>>> snn = model_zoo.create_model("mf_resnet18", num_classes=10, T=1)
>>> report = load_torchvision_weights(snn, ann.state_dict())
>>> report.num_loaded      # every torchvision tensor, BN running stats included
122
"""
from __future__ import annotations

import re
import urllib.error
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
from mfp_plugin.quant.layers import QuantLayerMixin
from spikingjelly.activation_based import base as sj_base
from torch import Tensor, nn

from .checkpoint import strip_state_dict_prefixes
from .hub import TIMEOUT_ENV, download_timeout, socket_timeout

__all__ = ["ConversionReport", "TORCHVISION_ARCHS", "load_torchvision_weights",
           "convert_spikingjelly_state_dict", "adapt_input_conv"]

# torchvision name -> zoo architecture
TORCHVISION_ARCHS: Dict[str, str] = {
    "resnet18": "mf_resnet18",
    "resnet34": "mf_resnet34",
    "vgg11_bn": "mf_vgg11_bn",
    "vgg13_bn": "mf_vgg13_bn",
    "vgg16_bn": "mf_vgg16_bn",
}


@dataclass
class ConversionReport:
    """What a weight transfer did. ``missing_*``: zoo keys left as they were."""

    loaded: List[str] = field(default_factory=list)
    missing_neuron_keys: List[str] = field(default_factory=list)
    missing_quantizer_keys: List[str] = field(default_factory=list)
    skipped_head_keys: List[str] = field(default_factory=list)
    adapted_keys: List[str] = field(default_factory=list)

    @property
    def num_loaded(self) -> int:
        return len(self.loaded)

    def __str__(self) -> str:
        return (f"loaded {len(self.loaded)} tensors; left untouched: {len(self.missing_neuron_keys)} neuron, "
                f"{len(self.missing_quantizer_keys)} quantizer keys; skipped head: {self.skipped_head_keys}; "
                f"adapted: {self.adapted_keys}")


def adapt_input_conv(in_chans: int, w: Tensor) -> Tensor:
    """Adapt an RGB first-conv weight ``[O, 3, k, k]`` to ``in_chans`` inputs:
    summed for 1 channel; tiled and rescaled otherwise (timm's recipe), so
    that the response to a grey image stays the same."""
    O, I = w.shape[:2]
    if in_chans == I:
        return w
    if in_chans == 1:
        return w.sum(dim=1, keepdim=True)
    reps = -(-in_chans // I)
    return w.repeat(1, reps, 1, 1)[:, :in_chans] * (I / float(in_chans))


def _owner_chain(model: nn.Module, key: str) -> List[nn.Module]:
    parts = key.split(".")[:-1]
    chain, m = [model], model
    for p in parts:
        m = getattr(m, p, None) if not isinstance(m, nn.Sequential) or not p.isdigit() else m[int(p)]
        if m is None:
            break
        chain.append(m)
    return chain


def _classify_extra_key(model: nn.Module, key: str) -> Optional[str]:
    """'neuron' / 'quantizer' for keys a weight source is allowed to lack, else None."""
    chain = _owner_chain(model, key)
    leaf_name = key.rsplit(".", 1)[-1]
    for i, m in enumerate(chain[1:], start=1):
        if isinstance(m, QuantLayerMixin):
            # everything below a quant layer except its own weight / bias
            own_param = i == len(chain) - 1 and leaf_name in ("weight", "bias")
            return None if own_param else "quantizer"
        if _is_neuron(m) or type(m) is getattr(model, "neuron_cls", None):
            return "neuron"
    return None


def _is_neuron(m: nn.Module) -> bool:
    return isinstance(m, sj_base.MemoryModule) or type(m).__module__.startswith(("mfp_plugin.neuron", "snntorch"))


def _reset_quantizers(model: nn.Module) -> None:
    # LSQ steps are initialised from the weight on the first forward and the
    # 'initialized' buffer records that; after new weights arrive the step
    # must be re-derived from them, not kept from the random init.
    for m in model.modules():
        buf = getattr(m, "initialized", None)
        if isinstance(buf, Tensor) and buf.dtype == torch.bool and "Quantizer" in type(m).__name__:
            buf.fill_(False)


def _torchvision_state_dict(name: str, progress: bool) -> Dict[str, Tensor]:
    import torchvision

    try:
        if "." in name:  # "ResNet18_Weights.IMAGENET1K_V1" or "resnet18.IMAGENET1K_V1"
            head, _, member = name.partition(".")
            enum = (torchvision.models.get_model_weights(head) if head.lower() in TORCHVISION_ARCHS
                    else None)
            weights = enum[member] if enum is not None else torchvision.models.get_weight(name)
        else:
            weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError) as e:
        raise ValueError(f"unknown torchvision weights {name!r}; supported archs: {sorted(TORCHVISION_ARCHS)}") from e
    dst = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    timeout = download_timeout()
    try:
        # torchvision's downloader takes no timeout: bound its socket operations
        with socket_timeout(timeout):
            return weights.get_state_dict(progress=progress, check_hash=True)
    except (urllib.error.URLError, OSError) as e:
        raise RuntimeError(
            f"could not download torchvision weights {weights} from {weights.url} ({e}; each network "
            f"operation waits at most {timeout:g} s, set {TIMEOUT_ENV} to change). Offline: put the "
            f"file at {dst} (torch.hub cache) or pass a state_dict instead of a name.") from e


def load_torchvision_weights(model: nn.Module, tv_state_dict_or_name: Union[str, Mapping[str, Tensor]], *,
                             strict: bool = True, progress: bool = True) -> ConversionReport:
    """Copy torchvision-layout weights into a zoo model, in place.

    ``tv_state_dict_or_name``: a state_dict in torchvision layout (also what
    :func:`convert_spikingjelly_state_dict` returns), or a torchvision model /
    weights name (``"resnet18"`` -> its DEFAULT ImageNet weights,
    ``"ResNet18_Weights.IMAGENET1K_V1"``), downloaded into the torch.hub cache.

    Checks (``strict=True``): every source key exists in the model with the
    same shape, except the classifier when ``num_classes`` differs (skipped,
    reported) and the first conv when ``in_channels`` differs (adapted with
    :func:`adapt_input_conv`); every model key the source lacks is neuron or
    quantizer state. Violations raise ``ValueError`` listing the keys.
    """
    src = _torchvision_state_dict(tv_state_dict_or_name, progress) if isinstance(tv_state_dict_or_name, str) \
        else dict(tv_state_dict_or_name)
    own = model.state_dict()
    report = ConversionReport()
    head = getattr(model, "classifier_name", None)
    first = getattr(model, "first_layer", None)
    new: Dict[str, Tensor] = {}
    unexpected, bad_shape = [], []
    for k, v in src.items():
        if not isinstance(v, Tensor):
            continue
        if k not in own:
            unexpected.append(k)
            continue
        if own[k].shape != v.shape:
            if head and k.startswith(head + "."):
                report.skipped_head_keys.append(k)
                continue
            if first and k == f"{first}.weight" and v.dim() == 4 and own[k].shape[0] == v.shape[0] \
                    and own[k].shape[2:] == v.shape[2:]:
                v = adapt_input_conv(own[k].shape[1], v)
                report.adapted_keys.append(k)
            else:
                bad_shape.append(f"{k}: source {tuple(v.shape)} vs model {tuple(own[k].shape)}")
                continue
        new[k] = v.to(dtype=own[k].dtype)
        report.loaded.append(k)
    if report.skipped_head_keys:
        # a half-loaded classifier (bias only) would be meaningless
        for k in [k for k in report.loaded if head and k.startswith(head + ".")]:
            report.loaded.remove(k)
            new.pop(k)
            report.skipped_head_keys.append(k)
    unfilled = []
    for k in own:
        if k in new or k in report.skipped_head_keys:
            continue
        kind = _classify_extra_key(model, k)
        if kind == "neuron":
            report.missing_neuron_keys.append(k)
        elif kind == "quantizer":
            report.missing_quantizer_keys.append(k)
        else:
            unfilled.append(k)
    if strict and (unexpected or bad_shape or unfilled):
        raise ValueError(
            "state_dict does not match the model's torchvision layout:"
            + (f"\n  keys not in the model: {unexpected}" if unexpected else "")
            + (f"\n  shape mismatches: {bad_shape}" if bad_shape else "")
            + (f"\n  model weights the source lacks (not neuron/quantizer state): {unfilled}" if unfilled else ""))
    with torch.no_grad():
        model.load_state_dict(new, strict=False)
    _reset_quantizers(model)
    if report.skipped_head_keys:
        warnings.warn(f"classifier not loaded (shape differs): {report.skipped_head_keys}", UserWarning, stacklevel=2)
    return report


_SJ_ARCH = re.compile(r"^(?:spiking_|mf_)?(resnet18|resnet34|vgg11_bn|vgg13_bn|vgg16_bn)$")


def _reference_keys(tv_arch: str) -> Dict[str, Tuple[int, ...]]:
    import torchvision

    with torch.device("meta"):  # shapes only: no memory, no init cost
        ref = getattr(torchvision.models, tv_arch)()
    return {k: tuple(v.shape) for k, v in ref.state_dict().items()}


def convert_spikingjelly_state_dict(sd: Mapping[str, Tensor], arch: str, *,
                                    return_dropped: bool = False):
    """Map a SpikingJelly ``spiking_resnet18/34`` or ``spiking_vgg{11,13,16}_bn``
    state_dict (either SpikingJelly generation) to the zoo's torchvision layout.

    ``arch``: ``"spiking_resnet18"``, ``"resnet18"`` or ``"mf_resnet18"`` (same
    for the others). Conv / BN / linear tensors keep their names; neuron
    parameters (e.g. PLIF's ``w``) are dropped because the zoo's neuron is a
    different model; ``module.`` / ``_orig_mod.`` prefixes are stripped. Returns the new
    state_dict (and the dropped keys with ``return_dropped=True``); load it
    with :func:`load_torchvision_weights`, which checks it.

    >>> from spikingjelly.activation_based import neuron
    >>> from spikingjelly.activation_based.model import spiking_resnet
    >>> sj = spiking_resnet.spiking_resnet18(spiking_neuron=neuron.IFNode)
    >>> sd = convert_spikingjelly_state_dict(sj.state_dict(), "spiking_resnet18")
    >>> len(sd)
    122
    """
    m = _SJ_ARCH.match(arch)
    if not m:
        raise ValueError(f"unsupported SpikingJelly arch {arch!r}; supported: "
                         f"{['spiking_' + a for a in TORCHVISION_ARCHS]}")
    ref = _reference_keys(m.group(1))
    sd = strip_state_dict_prefixes({k: v for k, v in sd.items() if isinstance(v, Tensor)})
    out = {k: v for k, v in sd.items() if k in ref}
    dropped = sorted(k for k in sd if k not in ref)
    missing = sorted(k for k in ref if k not in out and not k.endswith("num_batches_tracked"))
    if missing:
        raise ValueError(f"state_dict is not a SpikingJelly {arch} (missing {len(missing)} keys, "
                         f"e.g. {missing[:5]})")
    bad = [k for k, v in out.items() if k in ref and v.dim() != len(ref[k])]
    if bad:
        raise ValueError(f"tensors with unexpected rank for {arch}: {bad[:5]}")
    return (out, dropped) if return_dropped else out
