"""Checkpoint files: writing them atomically, reading them without unpickling code, checking them.

* ``last.pt`` (:func:`save_torch`, :func:`load_torch`): plain tensors, numbers,
  strings, lists and dicts, so ``torch.load(weights_only=True)`` reads it;
  anything else is refused with a ``pickle.UnpicklingError`` that never
  suggests ``weights_only=False``.
* weights (:func:`save_weights`): safetensors through ``model_zoo.save_checkpoint``
  (which records what ``create_model`` needs to rebuild a zoo model).
* :func:`check_safetensors` names the file when a safetensors file is corrupt or truncated.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "last.pt"
>>> save_torch({"epoch": 3, "w": torch.ones(2)}, p)
>>> load_torch(p)["epoch"]
3
"""
from __future__ import annotations

import io
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import numpy as np
import torch
import torch.nn as nn

from ..atomic_io import atomic_write_bytes

__all__ = ["plain", "save_torch", "load_torch", "check_safetensors", "save_weights", "read_checkpoint"]

PathLike = Union[str, os.PathLike]


def plain(obj: Any) -> Any:
    """Reduce ``obj`` to what ``torch.load(weights_only=True)`` accepts (dict/list/str/int/float/bool/None/tensor).

    >>> plain({"bits": (2, 8), "n": np.int64(3), 1: None})
    {'bits': [2, 8], 'n': 3, '1': None}
    """
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, bool, int, float)) or torch.is_tensor(obj):
        return obj
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return str(obj)


def save_torch(obj: Any, path: PathLike) -> None:
    """``torch.save`` to ``path`` atomically (see :mod:`mfp_plugin.atomic_io`)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def _refused(path: Path, exc: pickle.UnpicklingError) -> pickle.UnpicklingError:
    found = re.search(r"GLOBAL ([\w.]+)", str(exc))
    what = f" (it references {found.group(1)})" if found else ""
    return pickle.UnpicklingError(
        f"{path} is not a weights-only checkpoint{what} and is refused: only plain tensors, numbers, "
        "strings, lists and dicts are read, since anything else could run code from the file")


def load_torch(path: PathLike, map_location: Union[str, torch.device] = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Raises ``FileNotFoundError`` (missing), ``pickle.UnpicklingError`` (not
    weights-only: refused) or ``ValueError`` (truncated or not a torch file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of files it then refuses
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(str(path), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _refused(path, exc) from None
    except (RuntimeError, EOFError) as exc:  # torch's zip reader: truncated or not a torch file
        first = str(exc).split(". ")[0]
        raise ValueError(f"{path} is not a readable torch checkpoint (truncated or corrupt): {first}") from None


def check_safetensors(path: PathLike) -> None:
    """Raise ``ValueError`` naming ``path`` unless it is a complete safetensors file.

    The header (its length, JSON, and every tensor's byte range against the
    file size) is checked by ``safetensors`` itself on open.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            fh.keys()
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid safetensors file (corrupt or truncated): {exc}") from None


def save_weights(model: nn.Module, path: PathLike, metadata: Optional[Mapping[str, Any]] = None) -> str:
    """Write ``model``'s weights as safetensors (``model_zoo.save_checkpoint``); return the sha256."""
    import model_zoo

    return model_zoo.save_checkpoint(model, str(path), metadata)


def read_checkpoint(path: PathLike) -> tuple[dict, Optional[dict]]:
    """``(training arguments or {}, state_dict or None)`` of a weights file.

    * safetensors (``best.safetensors``, zoo files): ``(args from its metadata, None)``;
      ``create_model(arch, pretrained=path)`` loads it.
    * torch files (``last.pt`` of a run, a bare or wrapped state dict): the state dict,
      unwrapped and with ``module.``/``_orig_mod.`` prefixes stripped by
      ``model_zoo.load_state_dict_file``.
    """
    import json

    import model_zoo

    path = Path(path)
    if path.suffix == ".safetensors":
        check_safetensors(path)
        meta = model_zoo.read_checkpoint_metadata(path)
        raw = meta.get("mfp_train_args") or meta.get("train_args") or "{}"
        try:
            args = json.loads(raw)
        except json.JSONDecodeError:
            args = {}
        return (args if isinstance(args, dict) else {}), None
    obj = load_torch(path)
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state dict or a training checkpoint")
    args = dict(obj.get("args") or {}) if isinstance(obj.get("model"), Mapping) else {}
    return args, model_zoo.load_state_dict_file(path)
