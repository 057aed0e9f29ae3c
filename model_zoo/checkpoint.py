"""Checkpoint files: read a state_dict (safetensors or torch), load it into a
model, write one.

Checkpoints are safetensors (preferred: no code can run on load) or torch
files read with ``torch.load(weights_only=True)``; nothing else is ever
unpickled. A file that cannot be parsed raises :class:`CorruptCheckpointError`
naming it; a known sha256 is checked before the file is parsed.

>>> import tempfile, os, torch, model_zoo
>>> m = model_zoo.create_model("mf_vgg_small", T=1)
>>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
>>> digest = save_checkpoint(m, path)
>>> m2 = model_zoo.create_model("mf_vgg_small", pretrained=path, checkpoint_sha256=digest)
>>> m2.T
1
>>> sorted(strip_state_dict_prefixes({"module._orig_mod.fc.weight": torch.zeros(1)}))
['fc.weight']
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .hub import download_cached_file, is_url, sha256_file, verify_sha256
from .jsonable import to_jsonable

__all__ = [
    "CorruptCheckpointError",
    "WRAPPER_PREFIXES",
    "strip_state_dict_prefixes",
    "read_checkpoint_metadata",
    "load_state_dict_file",
    "load_checkpoint",
    "save_checkpoint",
]

# Added to every key by DDP / DataParallel ("module.") and torch.compile ("_orig_mod.").
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Where training scripts nest the weights inside a torch checkpoint dict.
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "state_dict_ema", "model_ema", "module")


class CorruptCheckpointError(ValueError, RuntimeError):
    """A checkpoint file that cannot be parsed (truncated, corrupt, not a
    checkpoint, or a pickle that needs arbitrary code). Also a
    ``RuntimeError``, which is what these failures raised before."""


def strip_state_dict_prefixes(sd: Mapping[str, Any], prefixes: Sequence[str] = WRAPPER_PREFIXES) -> Dict[str, Any]:
    """Remove wrapper prefixes that *every* key carries, repeatedly (so
    ``module._orig_mod.`` and ``_orig_mod.module.`` both go). A prefix only
    some keys have is part of the names and is kept."""
    out = dict(sd)
    changed = True
    while changed and out:
        changed = False
        for pref in prefixes:
            if all(k.startswith(pref) for k in out):
                out = {k[len(pref):]: v for k, v in out.items()}
                changed = True
    return out


def _looks_like_safetensors(path: Path) -> bool:
    # safetensors: u64 little-endian header length, then a JSON header "{...";
    # torch files start with "PK" (zip) or a pickle opcode. The suffix also
    # counts, so a truncated .safetensors file is reported as one.
    if path.suffix == ".safetensors":
        return True
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _corrupt(path: Path, e: BaseException) -> CorruptCheckpointError:
    return CorruptCheckpointError(
        f"corrupt safetensors file {path}: {e}. It is truncated or damaged; delete it and fetch or save it again.")


def read_checkpoint_metadata(path: Union[str, os.PathLike]) -> Dict[str, str]:
    """The string metadata of a safetensors file (``{}`` for torch files)."""
    path = _existing(path)
    if not _looks_like_safetensors(path):
        return {}
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except SafetensorError as e:
        raise _corrupt(path, e) from e


def _existing(path: Union[str, os.PathLike]) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    return p


def _unwrap(obj: Any, path: Path) -> Dict[str, Tensor]:
    if isinstance(obj, Mapping):
        for k in _WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], Mapping):
                return _unwrap(obj[k], path)
        sd = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
        if sd:
            return sd
    raise CorruptCheckpointError(f"{path} does not contain a state_dict (found {type(obj).__name__})")


def _read_safetensors(path: Path, map_location) -> Dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(os.fspath(path), device=str(map_location))
    except SafetensorError as e:
        raise _corrupt(path, e) from e


def _read_torch(path: Path, map_location) -> Dict[str, Tensor]:
    try:
        obj = torch.load(os.fspath(path), map_location=map_location, weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError (bad zip), EOFError...
        raise CorruptCheckpointError(
            f"could not read {path} as a safetensors or torch checkpoint: {type(e).__name__}: {e}. "
            "Only plain tensors are accepted (torch.load(weights_only=True)); objects that need "
            "arbitrary code to unpickle are refused.") from e
    return _unwrap(obj, path)


def load_state_dict_file(path_or_url: Union[str, os.PathLike], sha256: Optional[str] = None,
                         map_location: Union[str, torch.device] = "cpu") -> Dict[str, Tensor]:
    """Read a state_dict from a safetensors or torch file (or URL), verifying
    ``sha256`` first when given, with wrapper prefixes removed
    (:func:`strip_state_dict_prefixes`). Torch files are read with
    ``weights_only=True``: a pickle that needs arbitrary classes is refused;
    a ``{"state_dict": ...}`` / ``{"model": ...}`` wrapper is unwrapped."""
    if isinstance(path_or_url, str) and is_url(path_or_url):
        path = download_cached_file(path_or_url, sha256=sha256)
    else:
        path = _existing(path_or_url)
        verify_sha256(path, sha256)
    read = _read_safetensors if _looks_like_safetensors(path) else _read_torch
    return strip_state_dict_prefixes(read(path, map_location))


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
        sd.update({k: v for k, v in model.state_dict().items() if k.startswith(ex)})
    return model.load_state_dict(sd, strict=strict)


def _metadata_for(model: Any, metadata: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    meta: Dict[str, str] = {"format": "pt", "producer": "mfp-plugin model_zoo"}
    if isinstance(model, nn.Module):
        if getattr(model, "architecture", None):
            meta["architecture"] = model.architecture
        if getattr(model, "model_kwargs", None) is not None:
            meta["model_kwargs"] = json.dumps(model.model_kwargs, sort_keys=True)
        if getattr(model, "pretrained_cfg", None) is not None:
            meta["pretrained_cfg"] = json.dumps(to_jsonable(model.pretrained_cfg), sort_keys=True)
    for k, v in (metadata or {}).items():
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return meta


def _detached_tensors(sd: Mapping[str, Any]) -> Dict[str, Tensor]:
    tensors: Dict[str, Tensor] = {}
    seen = set()
    for k, v in sd.items():
        if not isinstance(v, Tensor):
            continue
        t = v.detach().to("cpu").contiguous()
        # safetensors refuses tensors sharing storage (tied weights) or views
        # of a larger storage: copy those
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        if ptr is not None and (ptr in seen or t.untyped_storage().nbytes() != t.numel() * t.element_size()):
            t = t.clone()
        if ptr is not None:
            seen.add(ptr)
        tensors[k] = t
    return tensors


def save_checkpoint(model: Union[nn.Module, Mapping[str, Tensor]], path: Union[str, os.PathLike],
                    metadata: Optional[Mapping[str, Any]] = None) -> str:
    """Write ``model``'s state_dict as safetensors, atomically, and return its sha256.

    The file is written atomically (:func:`mfp_plugin.atomic_io.atomic_output`),
    so a crash never leaves a half-written checkpoint under ``path``. Non-string ``metadata`` values are stored as
    JSON; a zoo model also records ``architecture``, ``model_kwargs`` and
    ``pretrained_cfg`` so ``create_model(arch, pretrained=path)`` rebuilds it.
    """
    from safetensors.torch import save_file

    from mfp_plugin.atomic_io import atomic_output

    tensors = _detached_tensors(model.state_dict() if isinstance(model, nn.Module) else dict(model))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=_metadata_for(model, metadata))
    return sha256_file(path)
