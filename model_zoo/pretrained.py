"""Pretrained cards: :class:`PretrainedCfg`, reading card files, locating their weights.

A card is a JSON object in ``model_zoo/pretrained_cfgs/*.json`` (a file holds
one object or a list)::

    {"architecture": "mf_vgg_small", "tag": "fmnist_w2",
     "file": "mf_vgg_small.fmnist_w2.safetensors", "sha256": "<64 hex>",
     "dataset": "fashion_mnist", "T": 4, "weight_bits": 2, "first_last_bits": 8,
     "neuron": "mfp_plugin.MFNode", "mean": [0.286], "std": [0.353],
     "input_size": [1, 28, 28], "num_classes": 10, "top1": 91.2,
     "eval_command": "...", "train_command": "...", "license": "Apache-2.0"}

``file`` is relative to ``model_zoo/weights/``; ``url`` is the fallback
download location; either needs the file's ``sha256`` (a card cannot switch
verification off). Every field is type-checked; ``top1`` must be a measured
number (``eval_command`` reproduces it). This module only reads cards: the
registry (:mod:`model_zoo.registry`) registers them.

>>> cfg = PretrainedCfg(architecture="mf_vgg_small", tag="demo", file="demo.safetensors",
...                     sha256="0" * 64, weight_bits="2", mean=[0.5], std=[0.25])
>>> cfg.name, cfg.weight_bits, cfg.mean
('mf_vgg_small.demo', 2, (0.5,))
>>> PretrainedCfg(architecture="mf_vgg_small", tag="demo", file="demo.safetensors", sha256=None)
Traceback (most recent call last):
...
ValueError: pretrained config 'mf_vgg_small.demo': 'sha256' must be the 64 hex chars of the weights file ... got None
"""
from __future__ import annotations

import dataclasses
import json
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from mfp_plugin.quant import normalize_bits

from .hub import cached_file_path, download_cached_file, is_url

# Checkpoint I/O lives in model_zoo.checkpoint; it stays importable from here because
# scripts/publish_checkpoint.py and earlier user code import it from model_zoo.pretrained.
from .checkpoint import (load_checkpoint, load_state_dict_file, read_checkpoint_metadata,  # noqa: F401
                         save_checkpoint)

__all__ = [
    "PretrainedCfg",
    "WeightsNotFoundError",
    "WEIGHTS_DIR",
    "CFG_DIR",
    "read_pretrained_cfg_file",
    "card_claims_in_file",
    "local_pretrained_file",
    "resolve_pretrained_file",
]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CFG_DIR = Path(__file__).resolve().parent / "pretrained_cfgs"

_HEX = frozenset("0123456789abcdef")
_OPTIONAL_STR = ("dataset", "neuron", "eval_command", "train_command", "license", "notes")
_DICTS = ("neuron_kwargs", "model_kwargs", "training")


class WeightsNotFoundError(FileNotFoundError, RuntimeError):
    """A card's weights file is neither shipped nor downloadable. Also a
    ``RuntimeError``, which is what this raised before."""


@dataclass
class PretrainedCfg:
    """One set of pretrained weights and everything needed to use and
    reproduce it. ``name`` is ``"architecture.tag"``. Invalid fields raise
    ``ValueError`` / ``TypeError`` naming the card and the field."""

    architecture: str
    tag: str
    file: Optional[str] = None          # relative to model_zoo/weights/
    url: Optional[str] = None
    sha256: Optional[str] = None        # required: the card names a file or a url
    dataset: Optional[str] = None
    T: Optional[int] = None
    weight_bits: Union[int, str, None] = 2
    first_last_bits: Union[int, str, None] = 8
    neuron: Optional[str] = None        # e.g. "mfp_plugin.MFNode"
    neuron_kwargs: Dict[str, Any] = field(default_factory=dict)
    model_kwargs: Dict[str, Any] = field(default_factory=dict)  # other builder kwargs
    mean: Optional[Tuple[float, ...]] = None
    std: Optional[Tuple[float, ...]] = None
    input_size: Optional[Tuple[int, ...]] = None
    num_classes: Optional[int] = None
    top1: Optional[float] = None        # measured, with eval_command
    subset_top1: Optional[float] = None  # measured on the dataset's bundled test subset (the CI bar)
    size_kib: Optional[float] = None    # weights at their bit widths, other tensors at float32
    eval_command: Optional[str] = None
    train_command: Optional[str] = None
    training: Dict[str, Any] = field(default_factory=dict)  # epochs, hardware, wall time, recipe
    license: Optional[str] = None
    notes: Optional[str] = None
    default: bool = False               # the tag pretrained=True picks for the bare arch

    def __post_init__(self) -> None:
        for k in ("architecture", "tag"):
            v = getattr(self, k)
            if not isinstance(v, str) or not v or "." in v:
                raise ValueError(f"PretrainedCfg.{k} must be a non-empty string without '.', got {v!r}")
        self._check_source()
        self._check_scalars()
        self.weight_bits = self._bits("weight_bits")
        self.first_last_bits = self._bits("first_last_bits")
        self._check_shapes()

    @property
    def name(self) -> str:
        return f"{self.architecture}.{self.tag}"

    def _fail(self, k: str, expected: str, exc: type = TypeError):
        return exc(f"pretrained config {self.name!r}: {k!r} must be {expected}, got {getattr(self, k)!r}")

    def _check_source(self) -> None:
        if self.file is None and self.url is None:
            raise ValueError(f"pretrained config {self.name!r} needs a 'file' or a 'url'")
        if self.file is not None:
            if not isinstance(self.file, str) or not self.file:
                raise self._fail("file", "a non-empty path relative to model_zoo/weights/")
            if os.path.isabs(self.file) or ".." in Path(self.file).parts:
                raise ValueError(f"'file' must be relative to model_zoo/weights/, got {self.file!r}")
        if self.url is not None and not is_url(self.url):
            raise self._fail("url", "an http(s)://, ftp:// or file:// URL", ValueError)
        s = self.sha256
        if not isinstance(s, str) or len(s) != 64 or not set(s.lower()) <= _HEX:
            raise self._fail("sha256", "the 64 hex chars of the weights file (a card with a 'file' or 'url' "
                             "is always verified)", ValueError)
        self.sha256 = s.lower()

    def _check_scalars(self) -> None:
        for k in _OPTIONAL_STR:
            if getattr(self, k) is not None and not isinstance(getattr(self, k), str):
                raise self._fail(k, "a string or null")
        for k in _DICTS:
            v = getattr(self, k)
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v):
                raise self._fail(k, "an object with string keys")
        for k in ("T", "num_classes"):
            v = getattr(self, k)
            if v is not None and (not _is_int(v) or v < 1):
                raise self._fail(k, "an integer >= 1 or null")
        for k, hi in (("top1", 100.0), ("subset_top1", 100.0), ("size_kib", float("inf"))):
            v = getattr(self, k)
            if v is not None and (not _is_number(v) or not 0.0 <= v <= hi):
                raise self._fail(k, f"a number in [0, {hi:g}] or null")
        if not isinstance(self.default, bool):
            raise self._fail("default", "true or false")

    def _bits(self, k: str) -> Union[int, str, None]:
        try:
            return normalize_bits(getattr(self, k))
        except (TypeError, ValueError) as e:
            raise type(e)(f"pretrained config {self.name!r}: {k!r}: {e}") from e

    def _check_shapes(self) -> None:
        # [C, H, W] for images and event frames; [F] for sequences (features per step, e.g. fmnist-seq)
        if self.input_size is not None:
            v = self.input_size
            if not isinstance(v, (list, tuple)) or len(v) not in (1, 3) or not all(_is_int(x) and x >= 1 for x in v):
                raise self._fail("input_size", "a list of 3 integers >= 1 ([C, H, W]), of 1 ([F], a sequence's "
                                 "features per step) or null")
            self.input_size = tuple(v)
        # one number per channel; a sequence's features may also share one number
        sizes = (None,) if self.input_size is None else (
            (self.input_size[0],) if len(self.input_size) == 3 else (1, self.input_size[0]))
        for k in ("mean", "std"):
            v = getattr(self, k)
            if v is None:
                continue
            ok = isinstance(v, (list, tuple)) and len(v) >= 1 and all(_is_number(x) for x in v)
            if not ok or (sizes != (None,) and len(v) not in sizes) or (k == "std" and min(v) <= 0):
                n = "" if sizes == (None,) else " or ".join(map(str, sizes)) + " "
                raise self._fail(k, f"a list of {n}numbers (one per input channel{', > 0' if k == 'std' else ''})")
            setattr(self, k, tuple(float(x) for x in v))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PretrainedCfg":
        if not isinstance(d, Mapping):
            raise TypeError(f"a pretrained config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown PretrainedCfg field(s) {sorted(unknown)}; known: {sorted(known)}")
        missing = {"architecture", "tag"} - set(d)
        if missing:
            raise ValueError(f"pretrained config lacks the required field(s) {sorted(missing)}")
        return cls(**d)

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("mean", "std", "input_size"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    def build_kwargs(self) -> Dict[str, Any]:
        """Builder kwargs that reproduce the trained architecture."""
        kw: Dict[str, Any] = dict(self.model_kwargs)
        kw["weight_bits"] = self.weight_bits
        kw["first_last_bits"] = self.first_last_bits
        for k in ("T", "num_classes", "neuron"):
            if getattr(self, k) is not None:
                kw[k] = getattr(self, k)
        if self.neuron_kwargs:
            kw["neuron_kwargs"] = dict(self.neuron_kwargs)
        if self.input_size is not None:
            kw["in_channels"] = int(self.input_size[0])
        return kw


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def read_pretrained_cfg_file(path: Union[str, os.PathLike]) -> List[PretrainedCfg]:
    """The cards of one JSON file (an object or a list of objects). Any
    problem (unreadable, malformed JSON, an invalid field) raises
    ``ValueError`` naming the file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else [data]
        if not items:
            raise ValueError("the file holds an empty list")
        return [PretrainedCfg.from_dict(x) for x in items]
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as e:
        raise ValueError(f"invalid pretrained config file {p}: {e}") from e


def card_claims_in_file(path: Union[str, os.PathLike]) -> List[Tuple[str, bool]]:
    """``("arch.tag", may_be_default)`` for each card a file claims, even when
    it is invalid: from its objects where they parse, else from the
    ``<arch>.<tag>.json`` file name (so asking for a broken card's tag can
    name the file). ``may_be_default`` is False only where the object says
    ``"default": false`` or has no ``default``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        data = None
    items = data if isinstance(data, list) else [data]
    claims = [(f"{x['architecture']}.{x['tag']}", x.get("default", False) is not False) for x in items
              if isinstance(x, dict) and isinstance(x.get("architecture"), str) and isinstance(x.get("tag"), str)]
    if not claims and p.stem.count(".") == 1:
        claims = [(p.stem, True)]
    return claims


def _cache_name(cfg: PretrainedCfg) -> Optional[str]:
    return Path(cfg.file).name if cfg.file else None


def local_pretrained_file(cfg: PretrainedCfg) -> Optional[Path]:
    """The card's weights file if it is on this machine (shipped in
    ``model_zoo/weights/`` or already downloaded to the hub cache), else
    ``None``. Nothing is downloaded or hashed."""
    if cfg.file is not None and (WEIGHTS_DIR / cfg.file).is_file():
        return WEIGHTS_DIR / cfg.file
    if cfg.url is not None:
        cached = cached_file_path(cfg.url, _cache_name(cfg))
        if cached.is_file():
            return cached
    return None


def resolve_pretrained_file(cfg: PretrainedCfg) -> Tuple[Path, Optional[str]]:
    """Local path of ``cfg``'s weights (package file, else download from
    ``url``, sha256-checked) and the sha256 to check it against. Neither
    available: :class:`WeightsNotFoundError` naming the missing file."""
    if cfg.file is not None:
        p = WEIGHTS_DIR / cfg.file
        if p.is_file():
            return p, cfg.sha256
        if cfg.url is None:
            raise WeightsNotFoundError(
                f"weights file for {cfg.name} not found: {p} (the card has no url). Reinstall the package "
                f"with its weights, or place the file there (sha256 {cfg.sha256}).")
    return download_cached_file(cfg.url, sha256=cfg.sha256, filename=_cache_name(cfg)), cfg.sha256
