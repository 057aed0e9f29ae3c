"""Pretrained configurations (as data) and checkpoint loading / saving.

A pretrained config is a JSON object in ``model_zoo/pretrained_cfgs/*.json``
(one object or a list), read at import::

    {"architecture": "mf_vgg_small", "tag": "fmnist_w2",
     "file": "mf_vgg_small.fmnist_w2.safetensors", "sha256": "<64 hex>",
     "dataset": "fashion_mnist", "T": 4, "weight_bits": 2, "first_last_bits": 8,
     "neuron": "mfp_plugin.MFNode", "mean": [0.286], "std": [0.353],
     "input_size": [1, 28, 28], "num_classes": 10, "top1": 91.2,
     "eval_command": "...", "train_command": "...", "license": "Apache-2.0"}

``file`` is relative to ``model_zoo/weights/``; ``url`` is the fallback
download location. ``top1`` must be a measured number (``eval_command``
reproduces it).

Checkpoints are safetensors (preferred: no code can run on load) or torch
files read with ``torch.load(weights_only=True)``; nothing else is ever
unpickled.

>>> import tempfile, os, torch, model_zoo
>>> m = model_zoo.create_model("mf_vgg_small", T=1)
>>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
>>> digest = save_checkpoint(m, path)
>>> m2 = model_zoo.create_model("mf_vgg_small", pretrained=path, checkpoint_sha256=digest)
>>> m2.T
1
"""
from __future__ import annotations

import dataclasses
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .hub import download_cached_file, is_url, sha256_file, verify_sha256

__all__ = [
    "PretrainedCfg",
    "WEIGHTS_DIR",
    "CFG_DIR",
    "load_pretrained_cfgs",
    "resolve_pretrained_file",
    "load_state_dict_file",
    "read_checkpoint_metadata",
    "load_checkpoint",
    "save_checkpoint",
]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CFG_DIR = Path(__file__).resolve().parent / "pretrained_cfgs"


@dataclass
class PretrainedCfg:
    """One set of pretrained weights and everything needed to use and
    reproduce it. ``name`` is ``"architecture.tag"``."""

    architecture: str
    tag: str
    file: Optional[str] = None          # relative to model_zoo/weights/
    url: Optional[str] = None
    sha256: Optional[str] = None
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
    subset_top1: Optional[float] = None  # measured on the bundled 2,000-image test subset (the CI bar)
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
        if self.file is None and self.url is None:
            raise ValueError(f"pretrained config {self.name!r} needs a 'file' or a 'url'")
        if self.file is not None and (os.path.isabs(self.file) or ".." in Path(self.file).parts):
            raise ValueError(f"'file' must be relative to model_zoo/weights/, got {self.file!r}")
        if self.sha256 is not None:
            s = self.sha256.lower()
            if len(s) != 64 or any(c not in "0123456789abcdef" for c in s):
                raise ValueError(f"{self.name}: sha256 must be 64 hex chars, got {self.sha256!r}")
            self.sha256 = s
        for k in ("mean", "std", "input_size"):
            v = getattr(self, k)
            if v is not None:
                setattr(self, k, tuple(v))

    @property
    def name(self) -> str:
        return f"{self.architecture}.{self.tag}"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PretrainedCfg":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown PretrainedCfg field(s) {sorted(unknown)}; known: {sorted(known)}")
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


def load_pretrained_cfgs(directory: Union[str, os.PathLike] = CFG_DIR, *, register: bool = True,
                         overwrite: bool = False) -> List[PretrainedCfg]:
    """Read every ``*.json`` in ``directory`` (sorted) into :class:`PretrainedCfg`
    objects and, by default, register them. A bad file raises ``ValueError``
    naming it."""
    from .registry import register_pretrained_cfg

    out: List[PretrainedCfg] = []
    d = Path(directory)
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            items = data if isinstance(data, list) else [data]
            cfgs = [PretrainedCfg.from_dict(x) for x in items]
        except (ValueError, TypeError) as e:
            raise ValueError(f"invalid pretrained config file {p}: {e}") from e
        for c in cfgs:
            if register:
                register_pretrained_cfg(c, overwrite=overwrite)
            out.append(c)
    return out


def resolve_pretrained_file(cfg: PretrainedCfg) -> Tuple[Path, Optional[str]]:
    """Local path of ``cfg``'s weights (package file, else download from
    ``url``) and the sha256 to check it against."""
    if cfg.file is not None:
        p = WEIGHTS_DIR / cfg.file
        if p.exists():
            return p, cfg.sha256
        if cfg.url is None:
            raise RuntimeError(
                f"weights file for {cfg.name} not found: {p} (no url configured). Install the package "
                "with its weights or place the file there.")
    return download_cached_file(cfg.url, sha256=cfg.sha256, filename=cfg.file and Path(cfg.file).name), cfg.sha256


# ---------------------------------------------------------------------------
# checkpoint files

def _is_safetensors(path: Union[str, os.PathLike]) -> bool:
    # safetensors: u64 little-endian header length, then a JSON header "{..."
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 8 + n <= size


_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "state_dict_ema", "model_ema", "module")


def _unwrap(obj: Any, path) -> Dict[str, Tensor]:
    if isinstance(obj, Mapping):
        for k in _WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], Mapping):
                return _unwrap(obj[k], path)
        sd = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
        if sd:
            return sd
    raise ValueError(f"{os.fspath(path)} does not contain a state_dict (found {type(obj).__name__})")


def _strip_prefixes(sd: Dict[str, Tensor]) -> Dict[str, Tensor]:
    # DDP ("module.") and torch.compile ("_orig_mod.") wrappers
    for pref in ("module.", "_orig_mod."):
        if sd and all(k.startswith(pref) for k in sd):
            sd = {k[len(pref):]: v for k, v in sd.items()}
    return sd


def read_checkpoint_metadata(path: Union[str, os.PathLike]) -> Dict[str, str]:
    """The string metadata of a safetensors file (``{}`` for torch files)."""
    if not _is_safetensors(path):
        return {}
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_state_dict_file(path_or_url: Union[str, os.PathLike], sha256: Optional[str] = None,
                         map_location: Union[str, torch.device] = "cpu") -> Dict[str, Tensor]:
    """Read a state_dict from a safetensors or torch file (or URL), verifying
    ``sha256`` first when given. Torch files are read with
    ``weights_only=True``: a pickle that needs arbitrary classes is refused."""
    if isinstance(path_or_url, str) and is_url(path_or_url):
        path = download_cached_file(path_or_url, sha256=sha256)
    else:
        path = Path(path_or_url)
        if not path.exists():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        verify_sha256(path, sha256)
    if _is_safetensors(path):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            sd = load_file(os.fspath(path), device=str(map_location))
        except SafetensorError as e:
            raise RuntimeError(f"corrupt safetensors file {path}: {e}") from e
    else:
        try:
            obj = torch.load(os.fspath(path), map_location=map_location, weights_only=True)
        except Exception as e:  # UnpicklingError, RuntimeError (bad zip), EOFError...
            raise RuntimeError(
                f"could not read {path} as a safetensors or torch checkpoint: {type(e).__name__}: {e}. "
                "Only plain tensors are accepted (torch.load(weights_only=True)); objects that need "
                "arbitrary code to unpickle are refused.") from e
        sd = _unwrap(obj, path)
    return _strip_prefixes(sd)


def load_checkpoint(model: nn.Module, path_or_url: Union[str, os.PathLike], sha256: Optional[str] = None,
                    strict: bool = True, *, exclude_prefixes: Sequence[str] = ()):
    """Load weights into ``model`` in place.

    ``sha256``: expected hex digest (a mismatch raises
    :class:`~model_zoo.hub.ChecksumError` naming both hashes).
    ``exclude_prefixes``: keys to leave untouched (e.g. a classifier being
    replaced); they are neither loaded nor reported missing.
    Returns ``model.load_state_dict``'s ``(missing_keys, unexpected_keys)``.

    >>> import tempfile, os, model_zoo
    >>> m = model_zoo.create_model("mf_resnet20", T=1)
    >>> p = os.path.join(tempfile.mkdtemp(), "r20.safetensors")
    >>> h = save_checkpoint(m, p)
    >>> load_checkpoint(m, p, sha256=h)
    <All keys matched successfully>
    """
    sd = load_state_dict_file(path_or_url, sha256=sha256)
    if exclude_prefixes:
        ex = tuple(exclude_prefixes)
        sd = {k: v for k, v in sd.items() if not k.startswith(ex)}
        own = model.state_dict()
        kept = {k: v for k, v in own.items() if k.startswith(ex)}
        sd.update(kept)
    return model.load_state_dict(sd, strict=strict)


def _metadata_for(model: Any, metadata: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    meta: Dict[str, str] = {"format": "pt", "producer": "mfp-plugin model_zoo"}
    if isinstance(model, nn.Module):
        if getattr(model, "architecture", None):
            meta["architecture"] = model.architecture
        if getattr(model, "model_kwargs", None) is not None:
            meta["model_kwargs"] = json.dumps(model.model_kwargs, sort_keys=True)
        if getattr(model, "pretrained_cfg", None) is not None:
            from .registry import _jsonable

            meta["pretrained_cfg"] = json.dumps(_jsonable(model.pretrained_cfg), sort_keys=True)
    for k, v in (metadata or {}).items():
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return meta


def save_checkpoint(model: Union[nn.Module, Mapping[str, Tensor]], path: Union[str, os.PathLike],
                    metadata: Optional[Mapping[str, Any]] = None) -> str:
    """Write ``model``'s state_dict as safetensors, atomically, and return its sha256.

    The file is written to a temporary name in the same directory and moved
    into place with ``os.replace``, so a crash never leaves a half-written
    checkpoint under ``path``. Non-string ``metadata`` values are stored as
    JSON; a zoo model also records ``architecture``, ``model_kwargs`` and
    ``pretrained_cfg`` so ``create_model(arch, pretrained=path)`` rebuilds it.
    """
    from safetensors.torch import save_file

    sd = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    tensors: Dict[str, Tensor] = {}
    seen = set()
    for k, v in sd.items():
        if not isinstance(v, Tensor):
            continue
        t = v.detach().to("cpu").contiguous()
        # safetensors refuses tensors sharing storage (tied weights): copy those
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        if ptr is not None and ptr in seen or (ptr is not None and t.untyped_storage().nbytes() != t.numel() * t.element_size()):
            t = t.clone()
        if ptr is not None:
            seen.add(ptr)
        tensors[k] = t
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=_metadata_for(model, metadata))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return sha256_file(path)
