"""timm-style model registry.

>>> import model_zoo
>>> "mf_resnet18" in model_zoo.list_models("mf_resnet*")
True
>>> m = model_zoo.create_model("mf_vgg_small", T=2, weight_bits=4)
>>> m.pretrained_cfg["T"], m.weight_bits
(2, 4)

Names: ``arch`` or ``arch.tag`` where ``tag`` names one pretrained config
(``list_pretrained()``). A tagged name builds the architecture with that
config's hyper-parameters (T, bits, neuron, classes); ``pretrained=True``
also loads its weights.
"""
from __future__ import annotations

import difflib
import fnmatch
import json
import os
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from torch import nn

__all__ = [
    "register_model",
    "list_models",
    "list_pretrained",
    "is_model",
    "create_model",
    "get_pretrained_cfg",
    "get_default_cfg",
    "split_model_name",
    "build_model_with_cfg",
    "register_pretrained_cfg",
    "deregister_pretrained_cfg",
]

_model_entrypoints: Dict[str, Callable[..., nn.Module]] = {}
_model_default_cfgs: Dict[str, Dict[str, Any]] = {}
_model_modules: Dict[str, str] = {}
# "arch.tag" -> PretrainedCfg (filled from model_zoo/pretrained_cfgs/*.json at import)
_pretrained_cfgs: Dict[str, Any] = {}


def register_model(fn: Optional[Callable] = None, *, default_cfg: Optional[Dict[str, Any]] = None,
                   name: Optional[str] = None):
    """Register a model builder under its function name (or ``name``).

    Usable bare (``@register_model``) or with a default config
    (``@register_model(default_cfg={...})``). Builders take keyword
    arguments only and return an ``nn.Module``.
    """

    def deco(f: Callable) -> Callable:
        n = name or f.__name__
        if "." in n:
            raise ValueError(f"model names may not contain '.', got {n!r} ('.' separates the pretrained tag)")
        if n in _model_entrypoints and _model_entrypoints[n] is not f:
            warnings.warn(f"model {n!r} is registered twice; the later builder wins", UserWarning, stacklevel=2)
        _model_entrypoints[n] = f
        _model_default_cfgs[n] = dict(default_cfg or {})
        _model_modules[n] = f.__module__
        return f

    return deco(fn) if fn is not None else deco


def split_model_name(name: str) -> Tuple[str, Optional[str]]:
    """``"arch.tag" -> ("arch", "tag")``, ``"arch" -> ("arch", None)``."""
    arch, _, tag = name.partition(".")
    return arch, (tag or None)


def _match(names: Iterable[str], pattern: Union[str, Sequence[str]], exclude: Union[str, Sequence[str]]) -> List[str]:
    pats = [pattern] if isinstance(pattern, str) else list(pattern)
    excl = [exclude] if isinstance(exclude, str) else list(exclude)
    out = {n for n in names for p in pats if fnmatch.fnmatchcase(n, p)}
    out = {n for n in out if not any(fnmatch.fnmatchcase(n, e) for e in excl)}
    return sorted(out)


def list_models(pattern: Union[str, Sequence[str]] = "*", *, pretrained: bool = False,
                exclude_filters: Union[str, Sequence[str]] = ()) -> List[str]:
    """Sorted registered architecture names matching ``pattern`` (fnmatch).

    ``pretrained=True`` keeps only architectures that have a pretrained config.

    >>> list_models("mf_vgg1*")
    ['mf_vgg11_bn', 'mf_vgg13_bn', 'mf_vgg16_bn']
    """
    names = _model_entrypoints.keys()
    if pretrained:
        with_weights = {split_model_name(n)[0] for n in _pretrained_cfgs}
        names = [n for n in names if n in with_weights]
    return _match(names, pattern, exclude_filters)


def list_pretrained(pattern: Union[str, Sequence[str]] = "*", *,
                    exclude_filters: Union[str, Sequence[str]] = ()) -> List[str]:
    """Sorted ``"arch.tag"`` names of the pretrained configs matching ``pattern``."""
    return _match(_pretrained_cfgs.keys(), pattern, exclude_filters)


def is_model(name: str) -> bool:
    """True when the architecture part of ``name`` is registered (and, for
    ``arch.tag``, the tag exists)."""
    arch, tag = split_model_name(name)
    if arch not in _model_entrypoints:
        return False
    return tag is None or f"{arch}.{tag}" in _pretrained_cfgs


def _unknown(name: str) -> ValueError:
    pool = list(_model_entrypoints) + list(_pretrained_cfgs)
    close = difflib.get_close_matches(name, pool, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ValueError(f"unknown model {name!r}.{hint} See model_zoo.list_models() / list_pretrained().")


def get_default_cfg(name: str) -> Dict[str, Any]:
    """The architecture's default config (dataset, mean/std, input_size, T, ...)."""
    arch, _ = split_model_name(name)
    if arch not in _model_entrypoints:
        raise _unknown(name)
    return dict(_model_default_cfgs[arch])


def get_pretrained_cfg(name: str):
    """The :class:`~model_zoo.pretrained.PretrainedCfg` for ``"arch.tag"``, or
    for a bare ``arch`` its default tag (``None`` when it has no weights)."""
    arch, tag = split_model_name(name)
    if arch not in _model_entrypoints:
        raise _unknown(name)
    if tag is not None:
        full = f"{arch}.{tag}"
        if full not in _pretrained_cfgs:
            tags = list_pretrained(f"{arch}.*")
            raise ValueError(f"unknown pretrained tag {tag!r} for {arch!r}; available: {tags or 'none'}")
        return _pretrained_cfgs[full]
    tags = list_pretrained(f"{arch}.*")
    if not tags:
        return None
    defaults = [t for t in tags if getattr(_pretrained_cfgs[t], "default", False)]
    return _pretrained_cfgs[(defaults or tags)[0]]


def register_pretrained_cfg(cfg, *, overwrite: bool = False) -> str:
    """Add a :class:`PretrainedCfg` (its ``architecture`` must be registered).
    Returns its ``"arch.tag"`` name."""
    full = cfg.name
    if cfg.architecture not in _model_entrypoints:
        raise _unknown(cfg.architecture)
    if full in _pretrained_cfgs and not overwrite:
        raise ValueError(f"pretrained config {full!r} already registered (pass overwrite=True)")
    _pretrained_cfgs[full] = cfg
    return full


def deregister_pretrained_cfg(name: str) -> None:
    """Remove a pretrained config (no error when absent)."""
    _pretrained_cfgs.pop(name, None)


def _jsonable(v: Any) -> Any:
    if isinstance(v, type):
        from .layers import neuron_name

        return neuron_name(v)
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)  # e.g. a surrogate-function object: recorded, not round-trippable


def build_model_with_cfg(model_cls, arch: str, default_cfg: Dict[str, Any], arch_kwargs: Dict[str, Any],
                         kwargs: Dict[str, Any]) -> nn.Module:
    """Instantiate ``model_cls(**arch_kwargs, **kwargs)`` and attach
    ``model.pretrained_cfg`` (the default config updated with the actual T,
    classes, channels, bits and neuron) and ``model.model_kwargs`` (the
    JSON-able builder kwargs, enough to rebuild the same architecture)."""
    model = model_cls(**{**arch_kwargs, **kwargs})
    cfg = dict(default_cfg)
    input_size = list(cfg.get("input_size", (model.in_channels, 224, 224)))
    input_size[0] = model.in_channels
    if model.in_channels != len(cfg.get("mean", ())):
        # per-channel normalisation of the default dataset no longer applies
        cfg["mean"], cfg["std"] = (0.0,) * model.in_channels, (1.0,) * model.in_channels
    from .layers import neuron_name

    cfg.update(architecture=arch, tag=None, input_size=tuple(input_size), T=model.T,
               num_classes=model.num_classes, weight_bits=model.weight_bits,
               first_last_bits=model.first_last_bits, neuron=neuron_name(model.neuron_cls),
               input_type=model.input_type, first_conv=model.first_layer,
               classifier=model.classifier_name)
    model.pretrained_cfg = cfg
    model.default_cfg = cfg  # timm's older name
    model.architecture = arch
    model.model_kwargs = _jsonable(kwargs)
    return model


def create_model(model_name: str, pretrained: Union[bool, str, os.PathLike] = False, *,
                 checkpoint_sha256: Optional[str] = None, **kwargs) -> nn.Module:
    """Build a registered model, optionally with weights.

    ``pretrained``:

    * ``False``: random init. For ``"arch.tag"`` the tag's hyper-parameters
      are still used (as timm does).
    * ``True``: load the weights of the tag (or the architecture's default
      tag), verified against the config's sha256; package-local file first,
      then its URL (cached under ``torch.hub.get_dir()/checkpoints``).
    * a path or URL: load that checkpoint (``checkpoint_sha256`` verifies it).
      Build kwargs stored in its safetensors metadata by
      :func:`~model_zoo.pretrained.save_checkpoint` are used as defaults.

    ``kwargs`` override everything (``T``, ``num_classes``, ``weight_bits``,
    ``first_last_bits``, ``neuron``, ``neuron_kwargs``, ``in_channels``,
    ``input_type``, and architecture options). A ``num_classes`` differing
    from the checkpoint's loads everything except the classifier.

    >>> m = create_model("mf_resnet20", num_classes=100, T=2)
    >>> m.pretrained_cfg["num_classes"]
    100
    """
    from .pretrained import read_checkpoint_metadata, resolve_pretrained_file

    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a str, got {type(model_name).__name__}")
    arch, tag = split_model_name(model_name)
    if arch not in _model_entrypoints:
        raise _unknown(model_name)
    pcfg = None
    if tag is not None or pretrained is True:
        pcfg = get_pretrained_cfg(model_name)
        if pcfg is None and pretrained is True:
            raise ValueError(
                f"no pretrained weights registered for {arch!r} (list_pretrained() = "
                f"{list_pretrained() or 'empty'}); pass pretrained=<path to a checkpoint> "
                "or train one (see docs)")
    ckpt_path = None
    meta: Dict[str, str] = {}
    build = {}
    if pcfg is not None:
        build.update(pcfg.build_kwargs())
    if pretrained not in (False, True, None):
        ckpt_path = pretrained
        meta = read_checkpoint_metadata(ckpt_path) if not _looks_like_url(str(ckpt_path)) else {}
        stored_arch = meta.get("architecture")
        if stored_arch and stored_arch != arch:
            raise ValueError(f"checkpoint {ckpt_path} was saved from {stored_arch!r}, not {arch!r}")
        if meta.get("model_kwargs"):
            build.update(json.loads(meta["model_kwargs"]))
    build.update(kwargs)
    model = _model_entrypoints[arch](**build)
    if pcfg is not None:
        cfg = dict(model.pretrained_cfg)
        cfg.update({k: (tuple(v) if isinstance(v, list) else v)
                    for k, v in pcfg.to_dict().items() if v is not None})
        # the built model's actual values win over the config's
        for k in ("T", "num_classes", "weight_bits", "first_last_bits", "input_type"):
            cfg[k] = model.pretrained_cfg[k]
        cfg["tag"] = pcfg.tag
        model.pretrained_cfg = model.default_cfg = cfg
    if pretrained is True:
        path, sha = resolve_pretrained_file(pcfg)
        _load_into(model, path, sha, pcfg.num_classes)
    elif ckpt_path is not None:
        ckpt_classes = pcfg.num_classes if pcfg is not None else None
        if ckpt_classes is None and meta.get("pretrained_cfg"):
            ckpt_classes = json.loads(meta["pretrained_cfg"]).get("num_classes")
        _load_into(model, ckpt_path, checkpoint_sha256, ckpt_classes)
        model.pretrained_cfg["file"] = str(ckpt_path)
    return model


def _looks_like_url(s: str) -> bool:
    from .hub import is_url

    return is_url(s)


def _load_into(model: nn.Module, path, sha256: Optional[str], ckpt_num_classes: Optional[int]) -> None:
    from .pretrained import load_checkpoint

    exclude = ()
    if ckpt_num_classes is not None and ckpt_num_classes != model.num_classes:
        # new head: keep the backbone, leave the freshly initialised classifier
        exclude = (model.classifier_name + ".",)
        warnings.warn(f"num_classes={model.num_classes} differs from the checkpoint's {ckpt_num_classes}: "
                      f"{model.classifier_name} is left randomly initialised", UserWarning, stacklevel=3)
    load_checkpoint(model, path, sha256=sha256, strict=True, exclude_prefixes=exclude)
