"""timm-style model registry: builders, pretrained cards, ``create_model``.

>>> import model_zoo
>>> "mf_resnet18" in model_zoo.list_models("mf_resnet*")
True
>>> m = model_zoo.create_model("mf_vgg_small", T=2, weight_bits=4)
>>> m.pretrained_cfg["T"], m.weight_bits
(2, 4)
>>> model_zoo.default_pretrained_tag("mf_vgg_small")
'fmnist_w2_m2'

Names: ``arch`` or ``arch.tag`` where ``tag`` names one pretrained config
(``list_pretrained()``). A tagged name builds the architecture with that
config's hyper-parameters (T, bits, neuron, classes); ``pretrained=True``
also loads its weights.

The registry owns the card store: it reads card files through
:mod:`model_zoo.pretrained` (which never imports this module). A card file
that is invalid is skipped at import with one warning; its tags then raise
:class:`InvalidPretrainedCfgError` naming the file.
"""
from __future__ import annotations

import difflib
import fnmatch
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from torch import nn

from .checkpoint import CorruptCheckpointError, load_checkpoint, read_checkpoint_metadata
from .hub import download_cached_file, is_url, verify_sha256
from .jsonable import to_jsonable
from .layers import neuron_name
from .pretrained import (CFG_DIR, PretrainedCfg, card_claims_in_file, local_pretrained_file,
                         read_pretrained_cfg_file, resolve_pretrained_file)

__all__ = [
    "UnknownModelError",
    "InvalidPretrainedCfgError",
    "register_model",
    "list_models",
    "list_pretrained",
    "is_model",
    "create_model",
    "get_pretrained_cfg",
    "get_default_cfg",
    "default_pretrained_tag",
    "pretrained_available",
    "split_model_name",
    "build_model_with_cfg",
    "register_pretrained_cfg",
    "deregister_pretrained_cfg",
    "load_pretrained_cfgs",
]

_model_entrypoints: Dict[str, Callable[..., nn.Module]] = {}
_model_default_cfgs: Dict[str, Dict[str, Any]] = {}
_model_modules: Dict[str, str] = {}
# "arch.tag" -> PretrainedCfg (filled from model_zoo/pretrained_cfgs/*.json at import)
_pretrained_cfgs: Dict[str, PretrainedCfg] = {}
# "arch.tag" -> (why its card file was skipped, whether that card may have been the default)
_invalid_cfgs: Dict[str, Tuple[str, bool]] = {}


class UnknownModelError(KeyError, ValueError):
    """An unknown architecture or pretrained tag; the message lists close
    matches or the available tags. A ``KeyError`` (a name not in the
    registry) that is also the ``ValueError`` this raised before."""

    def __str__(self) -> str:  # KeyError's str() would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class InvalidPretrainedCfgError(ValueError):
    """The pretrained config asked for was skipped because its card file is invalid."""


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
    """Sorted ``"arch.tag"`` names of the valid pretrained configs matching ``pattern``."""
    return _match(_pretrained_cfgs.keys(), pattern, exclude_filters)


def is_model(name: str) -> bool:
    """True when the architecture part of ``name`` is registered (and, for
    ``arch.tag``, the tag exists)."""
    arch, tag = split_model_name(name)
    if arch not in _model_entrypoints:
        return False
    return tag is None or f"{arch}.{tag}" in _pretrained_cfgs


def _require_arch(name: str) -> str:
    arch, _ = split_model_name(name)
    if arch not in _model_entrypoints:
        pool = list(_model_entrypoints) + list(_pretrained_cfgs)
        close = difflib.get_close_matches(name, pool, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}.{hint} See model_zoo.list_models() / list_pretrained().")
    return arch


def get_default_cfg(name: str) -> Dict[str, Any]:
    """The architecture's default config (dataset, mean/std, input_size, T, ...)."""
    return dict(_model_default_cfgs[_require_arch(name)])


def get_pretrained_cfg(name: str) -> Optional[PretrainedCfg]:
    """The :class:`~model_zoo.pretrained.PretrainedCfg` for ``"arch.tag"``, or
    for a bare ``arch`` its default tag (``None`` when it has no weights).

    Unknown architecture or tag: :class:`UnknownModelError` (a ``KeyError``).
    A tag whose card file was skipped as invalid, or a bare ``arch`` whose
    default may be such a card: :class:`InvalidPretrainedCfgError` naming the file.
    """
    arch = _require_arch(name)
    tag = split_model_name(name)[1]
    if tag is None:
        return _default_cfg_of(arch)
    full = f"{arch}.{tag}"
    if full in _pretrained_cfgs:
        return _pretrained_cfgs[full]
    if full in _invalid_cfgs:
        raise InvalidPretrainedCfgError(f"pretrained config {full!r} is unusable: {_invalid_cfgs[full][0]}")
    tags = [split_model_name(n)[1] for n in list_pretrained(f"{arch}.*")]
    raise UnknownModelError(f"unknown pretrained tag {tag!r} for {arch!r}; available tags: {tags or 'none'}")


def _default_cfg_of(arch: str) -> Optional[PretrainedCfg]:
    tags = list_pretrained(f"{arch}.*")
    defaults = [t for t in tags if _pretrained_cfgs[t].default]
    if defaults:
        return _pretrained_cfgs[defaults[0]]
    # Never substitute another tag for a default card that failed to load.
    broken = [why for n, (why, may_be_default) in sorted(_invalid_cfgs.items())
              if may_be_default and split_model_name(n)[0] == arch]
    if broken:
        raise InvalidPretrainedCfgError(f"the default pretrained config of {arch!r} is unusable: "
                                        + "; ".join(broken))
    return _pretrained_cfgs[tags[0]] if tags else None


def default_pretrained_tag(name: str) -> Optional[str]:
    """The tag ``create_model(arch, pretrained=True)`` loads (``None`` when
    the architecture has no pretrained config)."""
    cfg = get_pretrained_cfg(split_model_name(name)[0])
    return cfg.tag if cfg is not None else None


def pretrained_available(name: str, *, allow_download: bool = False) -> bool:
    """True when ``create_model(name, pretrained=True)`` has weights to load
    without a download: the card's file is shipped or already cached.
    ``allow_download=True`` also counts a card with a ``url``. False for an
    architecture without cards or a card skipped as invalid; an unknown
    name raises :class:`UnknownModelError`.

    >>> pretrained_available("mf_vgg_small.fmnist_w1"), pretrained_available("mf_resnet18")
    (True, False)
    """
    try:
        cfg = get_pretrained_cfg(name)
    except InvalidPretrainedCfgError:
        return False
    if cfg is None:
        return False
    return local_pretrained_file(cfg) is not None or (allow_download and cfg.url is not None)


def register_pretrained_cfg(cfg: PretrainedCfg, *, overwrite: bool = False) -> str:
    """Add a :class:`PretrainedCfg` (its ``architecture`` must be registered).
    Returns its ``"arch.tag"`` name."""
    if not isinstance(cfg, PretrainedCfg):
        raise TypeError(f"expected a model_zoo.PretrainedCfg, got {type(cfg).__name__}")
    _require_arch(cfg.architecture)
    if cfg.name in _pretrained_cfgs and not overwrite:
        raise ValueError(f"pretrained config {cfg.name!r} already registered (pass overwrite=True)")
    _pretrained_cfgs[cfg.name] = cfg
    _invalid_cfgs.pop(cfg.name, None)
    return cfg.name


def deregister_pretrained_cfg(name: str) -> None:
    """Remove a pretrained config (no error when absent)."""
    _pretrained_cfgs.pop(name, None)
    _invalid_cfgs.pop(name, None)


def load_pretrained_cfgs(directory: Union[str, os.PathLike] = CFG_DIR, *, register: bool = True,
                         overwrite: bool = False, on_error: str = "raise") -> List[PretrainedCfg]:
    """Read every ``*.json`` card file in ``directory`` (sorted) and, by
    default, register its cards; return the cards read.

    A bad file (malformed, an invalid field, an unknown architecture, a name
    already registered) raises ``ValueError`` naming it, or with
    ``on_error="warn"`` (what ``import model_zoo`` uses) is skipped with one
    warning naming it, so one broken card cannot take the others down.
    """
    if on_error not in ("raise", "warn"):
        raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
    out: List[PretrainedCfg] = []
    d = Path(directory)
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.json")):
        try:
            cfgs = read_pretrained_cfg_file(p)
            if register:
                _register_card_file(p, cfgs, overwrite)
        except ValueError as e:
            if on_error == "raise":
                raise
            _skip_card_file(p, e, register)
            continue
        out.extend(cfgs)
    return out


def _register_card_file(path: Path, cfgs: List[PretrainedCfg], overwrite: bool) -> None:
    # every card of the file is checked before any is registered: a file is skipped whole
    names = [c.name for c in cfgs]
    for c in cfgs:
        if c.architecture not in _model_entrypoints:
            raise ValueError(f"invalid pretrained config file {path}: unknown architecture "
                             f"{c.architecture!r}; registered: {list_models()}")
        if (c.name in _pretrained_cfgs and not overwrite) or names.count(c.name) > 1:
            raise ValueError(f"invalid pretrained config file {path}: {c.name!r} is already registered")
    for c in cfgs:
        register_pretrained_cfg(c, overwrite=overwrite)


def _skip_card_file(path: Path, err: Exception, register: bool) -> None:
    warnings.warn(f"skipping pretrained config file: {err}", UserWarning, stacklevel=3)
    if not register:
        return
    for name, may_be_default in card_claims_in_file(path):
        if name not in _pretrained_cfgs:
            _invalid_cfgs[name] = (f"its card file was skipped: {err}", may_be_default)


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
    cfg.update(architecture=arch, tag=None, input_size=tuple(input_size), T=model.T,
               num_classes=model.num_classes, weight_bits=model.weight_bits,
               first_last_bits=model.first_last_bits, neuron=neuron_name(model.neuron_cls),
               input_type=model.input_type, first_conv=model.first_layer,
               classifier=model.classifier_name)
    model.pretrained_cfg = cfg
    model.default_cfg = cfg  # timm's older name
    model.architecture = arch
    model.model_kwargs = to_jsonable(kwargs)
    return model


# ---------------------------------------------------------------------------
# create_model: resolve name/tag -> locate weights -> build -> attach card -> load

@dataclass
class _Weights:
    """A checkpoint ``create_model`` will load, already on this machine."""

    path: Path
    sha256: Optional[str]               # still to verify when loading (None: verified or not asked)
    num_classes: Optional[int]          # the classes it was trained with, when known
    build_kwargs: Dict[str, Any] = field(default_factory=dict)  # from its metadata
    label: Optional[str] = None         # recorded as pretrained_cfg["file"]


def create_model(model_name: str, pretrained: Union[bool, str, os.PathLike, None] = False, *,
                 checkpoint_sha256: Optional[str] = None, **kwargs) -> nn.Module:
    """Build a registered model, optionally with weights.

    ``pretrained``:

    * ``False``: random init. For ``"arch.tag"`` the tag's hyper-parameters
      are still used (as timm does).
    * ``True``: load the weights of the tag (or the architecture's default
      tag), verified against the config's sha256; package-local file first,
      then its URL (cached under ``torch.hub.get_dir()/checkpoints``). A card
      whose file is neither shipped nor downloadable raises ``FileNotFoundError``.
    * a path or URL: load that checkpoint (``checkpoint_sha256`` verifies it).
      Build kwargs stored in its safetensors metadata by
      :func:`~model_zoo.checkpoint.save_checkpoint` are used as defaults.

    ``kwargs`` override everything (``T``, ``num_classes``, ``weight_bits``,
    ``first_last_bits``, ``neuron``, ``neuron_kwargs``, ``in_channels``,
    ``input_type``, and architecture options). A ``num_classes`` differing
    from the checkpoint's loads everything except the classifier.

    >>> m = create_model("mf_resnet20", num_classes=100, T=2)
    >>> m.pretrained_cfg["num_classes"]
    100
    """
    arch, pcfg = _resolve_name(model_name, pretrained)
    weights = _locate_weights(arch, pcfg, pretrained, checkpoint_sha256)
    model = _build(arch, pcfg, weights, kwargs)
    if pcfg is not None:
        _attach_card(model, pcfg)
    if weights is not None:
        _load_into(model, weights)
    return model


def _resolve_name(model_name: str, pretrained) -> Tuple[str, Optional[PretrainedCfg]]:
    """The architecture and the card to use: the tag's, or with
    ``pretrained=True`` the default one."""
    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a str, got {type(model_name).__name__}")
    if not (pretrained is None or isinstance(pretrained, (bool, str, os.PathLike))):
        raise TypeError(f"pretrained must be True/False, a path or a URL, got {type(pretrained).__name__}")
    arch = _require_arch(model_name)
    if split_model_name(model_name)[1] is None and pretrained is not True:
        return arch, None
    pcfg = get_pretrained_cfg(model_name)
    if pcfg is None:
        raise ValueError(
            f"no pretrained weights registered for {arch!r} (list_pretrained() = "
            f"{list_pretrained() or 'empty'}); pass pretrained=<path to a checkpoint> "
            "or train one (see docs)")
    return arch, pcfg


def _locate_weights(arch: str, pcfg: Optional[PretrainedCfg], pretrained,
                    sha256: Optional[str]) -> Optional[_Weights]:
    if pretrained is True:
        path, expected = resolve_pretrained_file(pcfg)
        return _Weights(path, expected, pcfg.num_classes)
    if pretrained is False or pretrained is None:
        return None
    source = os.fspath(pretrained)
    if is_url(source):
        path = download_cached_file(source, sha256=sha256)
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        verify_sha256(path, sha256)  # before its header is parsed
    meta = read_checkpoint_metadata(path)
    if meta.get("architecture") and meta["architecture"] != arch:
        raise ValueError(f"checkpoint {source} was saved from {meta['architecture']!r}, not {arch!r}")
    classes = pcfg.num_classes if pcfg is not None else _json_metadata(meta, "pretrained_cfg", path).get("num_classes")
    return _Weights(path, None, classes, _json_metadata(meta, "model_kwargs", path), label=source)


def _build(arch: str, pcfg: Optional[PretrainedCfg], weights: Optional[_Weights],
           kwargs: Dict[str, Any]) -> nn.Module:
    # precedence, lowest first: the card, the checkpoint's metadata, the caller
    build = dict(pcfg.build_kwargs()) if pcfg is not None else {}
    build.update(weights.build_kwargs if weights is not None else {})
    build.update(kwargs)
    return _model_entrypoints[arch](**build)


def _json_metadata(meta: Dict[str, str], key: str, path: Path) -> Dict[str, Any]:
    if not meta.get(key):
        return {}
    try:
        value = json.loads(meta[key])
    except ValueError as e:
        raise CorruptCheckpointError(f"{path}: metadata {key!r} is not valid JSON ({e})") from e
    if not isinstance(value, dict):
        raise CorruptCheckpointError(f"{path}: metadata {key!r} must be a JSON object, got {type(value).__name__}")
    return value


def _attach_card(model: nn.Module, pcfg: PretrainedCfg) -> None:
    cfg = dict(model.pretrained_cfg)
    cfg.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in pcfg.to_dict().items() if v is not None})
    # the built model's actual values win over the card's
    for k in ("T", "num_classes", "weight_bits", "first_last_bits", "input_type"):
        cfg[k] = model.pretrained_cfg[k]
    cfg["tag"] = pcfg.tag
    model.pretrained_cfg = model.default_cfg = cfg


def _load_into(model: nn.Module, weights: _Weights) -> None:
    exclude = ()
    if weights.num_classes is not None and weights.num_classes != model.num_classes:
        # new head: keep the backbone, leave the freshly initialised classifier
        exclude = (model.classifier_name + ".",)
        warnings.warn(f"num_classes={model.num_classes} differs from the checkpoint's {weights.num_classes}: "
                      f"{model.classifier_name} is left randomly initialised", UserWarning, stacklevel=3)
    load_checkpoint(model, weights.path, sha256=weights.sha256, strict=True, exclude_prefixes=exclude)
    if weights.label is not None:
        model.pretrained_cfg["file"] = weights.label
