"""Checks of command-line values that need the zoo or the dataset registry; failures are usage errors (exit 2).

They run before any work (no run folder is created, nothing is downloaded)
and give the message a user needs: close names for a typo, the tags that exist.

>>> model_name("mf_vgg_smal")
Traceback (most recent call last):
...
mfp_plugin.cli.errors.CommandError: unknown model 'mf_vgg_smal'; did you mean mf_vgg_small...? (see `mfp zoo list`)
>>> dataset_name("Fashion-MNIST"), cfg_dataset({"dataset": "fashion_mnist"})
('fmnist', 'fmnist')
>>> import model_zoo
>>> data_options("fmnist-dvs", model_zoo.create_model("mf_dvs_net", T=6), split_by="time")
{'T': 6, 'split_by': 'time'}
>>> data_options("fmnist-seq", model_zoo.create_model("mf_seq_mlp", T=8), split_by=None)
Traceback (most recent call last):
...
mfp_plugin.cli.errors.CommandError: mf_seq_mlp has T=8 time steps but fmnist-seq items have 28 (one image row per step): pass --T 28 or drop --T
"""
from __future__ import annotations

import difflib
from typing import Any, Optional

from ..engine import neuron_override as _neuron_override
from .errors import USAGE, CommandError, usage_errors

__all__ = ["model_name", "dataset_name", "cfg_dataset", "neuron_override", "data_root_given", "trainable",
           "split_by_applies", "data_options", "model_kwargs"]

#: a dataset's ``kind`` -> the ``input_type`` of a model that takes its DataLoader batches
INPUT_TYPE_FOR_KIND = {"image": "static", "sequence": "sequence", "events": "events"}
_BATCH = {"image": "images [B, C, H, W]", "sequence": "sequences [B, T, F]", "events": "event frames [B, T, C, H, W]"}


def model_name(name: str) -> str:
    """``name`` (``arch`` or ``arch.tag``) if the zoo knows it, else a usage error suggesting close names."""
    import model_zoo

    arch, tag = model_zoo.split_model_name(name)
    if arch not in model_zoo.list_models():
        pool = model_zoo.list_pretrained() if tag is not None else model_zoo.list_models()
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CommandError(f"unknown model {name!r}{hint} (see `mfp zoo list`)", USAGE)
    if tag is not None and not model_zoo.is_model(name):
        tags = model_zoo.list_pretrained(f"{arch}.*")
        raise CommandError(f"unknown pretrained tag {tag!r} for {arch}; available: "
                           f"{', '.join(tags) or 'none'} (see `mfp zoo list --pretrained`)", USAGE)
    return name


def dataset_name(name: str) -> str:
    """The canonical dataset name (``mfp_plugin.data.canonical_name``); unknown names are usage errors."""
    from ..data import canonical_name

    with usage_errors():
        return canonical_name(name)


def cfg_dataset(cfg: Optional[dict]) -> Optional[str]:
    """The canonical name of the dataset a model config names (``fashion_mnist`` -> ``fmnist``), if we know it."""
    from ..data import canonical_name

    name = (cfg or {}).get("dataset")
    if not name:
        return None
    try:
        return canonical_name(str(name))
    except ValueError:  # a dataset we cannot load: the caller asks for --data
        return None


def neuron_override(neuron: Optional[str], membrane_bits: Optional[int], *, tau: Optional[float] = None,
                    learnable_decay: Optional[bool] = None) -> dict:
    """:func:`mfp_plugin.engine.neuron_override` for ``--neuron``/``--membrane-bits``/``--tau``/``--learnable-decay``:
    a bad combination is a usage error."""
    with usage_errors():
        return _neuron_override(neuron, membrane_bits, tau=tau, learnable_decay=learnable_decay)


def model_kwargs(model: Optional[str], options) -> None:
    """``--model-kwargs`` given: build ``model`` with every override once, so that a misspelt or
    clashing builder argument is a usage error before anything is written."""
    if not getattr(options, "model_kwargs", None):
        return
    import model_zoo

    from ..engine import model_overrides

    with usage_errors():
        overrides = model_overrides(options)
        if model is not None:
            model_zoo.create_model(model, pretrained=False, **overrides)


def trainable(data: str) -> None:
    """A test-only dataset (every ``*-bundled`` subset) cannot be trained on: usage error naming the full one."""
    from ..data import DATASETS

    if "train" in DATASETS[data]["splits"]:
        return
    full = data[:-len("-bundled")] if data.endswith("-bundled") else None
    raise CommandError(f"{data} is a subset of a TEST split (it has only {'/'.join(DATASETS[data]['splits'])}); "
                       + (f"train on --data {full}" if full else "train on another dataset"), USAGE)


def split_by_applies(data: str, split_by: Optional[str]) -> None:
    """``--split-by`` frames event data; for any other dataset it is a usage error."""
    from ..data import DATASETS

    if split_by is not None and DATASETS[data]["kind"] != "events":
        events = ", ".join(n for n, i in DATASETS.items() if i["kind"] == "events")
        raise CommandError(f"--split-by applies to the event datasets ({events}), not to {data}", USAGE)


def _models_for(kind: str) -> str:
    import model_zoo
    from ..data import DATASETS, canonical_name

    names = [n for n in model_zoo.list_models()
             if DATASETS.get(canonical_name(str(model_zoo.get_default_cfg(n).get("dataset", "")), strict=False),
                             {}).get("kind") == kind]
    return ", ".join(names) or "none in the zoo"


def data_options(data: str, model, split_by: Optional[str]) -> dict:
    """The ``get_dataset`` keyword arguments for feeding ``data`` to ``model``: ``T`` (the model's) for
    temporal datasets only, ``split_by`` for event datasets when given. A model that cannot take the
    data's batches (static vs sequence vs event frames, features/channels, a sequence's fixed T) is a
    usage error naming both."""
    from ..data import DATASETS

    info, arch = DATASETS[data], getattr(model, "architecture", type(model).__name__)
    kind, have = info["kind"], getattr(model, "input_type", "static")
    split_by_applies(data, split_by)
    if have != INPUT_TYPE_FOR_KIND[kind]:
        raise CommandError(f"{arch} (input_type {have!r}) does not take {data}: its batches are {_BATCH[kind]}; "
                           f"models for {kind} data: {_models_for(kind)}", USAGE)
    if info["T"] is None:
        return {}
    size = tuple(info["input_size"])
    if getattr(model, "in_channels", size[0]) != size[0]:
        what = "features per step" if kind == "sequence" else "channels"
        raise CommandError(f"{arch} takes {model.in_channels} {what}, {data} items have {size[0]}", USAGE)
    if kind == "sequence":
        if model.T != info["T"]:
            raise CommandError(f"{arch} has T={model.T} time steps but {data} items have {info['T']} (one image "
                               f"row per step): pass --T {info['T']} or drop --T", USAGE)
        return {"T": model.T}
    return {"T": model.T, **({"split_by": split_by} if split_by is not None else {})}


def data_root_given(data: str, root: Any) -> None:
    """ImageFolder has no default location: ``--data imagefolder`` needs ``--data-root``."""
    if data == "imagefolder" and root is None:
        raise CommandError("--data imagefolder needs --data-root DIR (a folder with train/ and val/ "
                           "class sub-folders)", USAGE)
