"""``mfp eval``: top-1/top-5 accuracy and loss of a zoo model on a dataset."""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..engine import options as opt
from .errors import USAGE, CommandError, reading, usage_errors
from .train import data_help

__all__ = ["add_parser", "run"]

#: model options whose value differs from the one weights were trained with -> a warning
_ARCH_OPTIONS = ("T", "neuron", "membrane_bits", "tau", "learnable_decay", "weight_bits", "first_last_bits")
#: a full dataset -> its bundled test subset, used when the full test files are missing and --data was not given
_BUNDLED = {"fmnist": "fmnist-bundled", "fmnist-seq": "fmnist-seq-bundled", "fmnist-dvs": "fmnist-dvs-bundled"}


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "eval", help="evaluate a zoo model (pretrained, random or from a checkpoint)",
        description="Evaluate a model_zoo model and print top-1 accuracy and loss. Weights: the "
                    "model's released weights (the default when they ship; `arch` means its default tag), "
                    "a file (--checkpoint best.safetensors|last.pt|any model_zoo checkpoint) or random "
                    "(--no-pretrained).")
    p.add_argument("model", help="model name as in `mfp zoo list` (arch or arch.tag)")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--pretrained", dest="pretrained", action="store_true", default=None,
                   help="require the released weights (an error if none ship) "
                        "[default: use them when they ship, else random weights]")
    w.add_argument("--no-pretrained", dest="pretrained", action="store_false",
                   help="evaluate randomly initialised weights instead of the released ones")
    w.add_argument("--checkpoint", "--ckpt", metavar="PATH", default=None,
                   help="weights file written by `mfp train` (best.safetensors or last.pt) "
                        "or model_zoo.save_checkpoint")
    p.add_argument("--data", default=None,
                   help=f"{data_help(train=False)} [default: the dataset the weights were trained on]")
    p.add_argument("--split-by", choices=["number", "time"], default=None,
                   help="event datasets: frames of equal event count or equal duration "
                        "[the run's, else number]")
    p.add_argument("--data-root", default=None, help="dataset folder (see `mfp_plugin.data`)")
    p.add_argument("--split", default="test", choices=["test", "train", "val"], help="[test]")
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument("--batch-size", type=opt.positive_int, default=256, help="[256]")
    p.add_argument("--limit", type=opt.positive_int, default=None, metavar="N",
                   help="evaluate the first N images only")
    p.add_argument("--workers", type=opt.non_negative_int, default=0, help="DataLoader workers [0]")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N [auto]")
    p.add_argument("--amp", action="store_true", help="float16 (CUDA) / bfloat16 (CPU) autocast")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the results as JSON")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    opt.add_malloc_option(p)
    opt.add_model_options(p)
    p.set_defaults(func=run)
    return p


@dataclass
class Weights:
    """Where the evaluated weights came from."""

    kind: str                            # "pretrained" | "checkpoint" | "random"
    label: str                           # printed in brackets after the model name
    tag: Optional[str] = None            # "arch.tag" of released weights
    trained_with: dict = field(default_factory=dict)   # options released weights were trained with
    train_args: dict = field(default_factory=dict)      # a checkpoint's training arguments
    note: Optional[str] = None


def _from_checkpoint(args, overrides: dict):
    import model_zoo

    from ..engine import keep_neuron_kwargs, model_overrides, read_checkpoint

    path = Path(args.checkpoint).expanduser()
    train_args, state = read_checkpoint(path)
    if train_args.get("model") and train_args["model"] != args.model:
        print(f"note: checkpoint was trained as {train_args['model']!r}; building {args.model!r}", file=sys.stderr)
    with reading(f"cannot load {path} into {args.model}"):
        if state is None:  # safetensors: the zoo rebuilds the architecture from its metadata
            overrides = keep_neuron_kwargs(overrides, _metadata_neuron_kwargs(path))
            model = model_zoo.create_model(args.model, pretrained=str(path), **overrides)
        else:  # last.pt of `mfp train` (or a bare state dict)
            with usage_errors():
                overrides = model_overrides(args, fallback=train_args)
            model = model_zoo.create_model(args.model, pretrained=False, **overrides)
            model.load_state_dict(state)
    return model, Weights("checkpoint", f"checkpoint {path}", train_args=train_args)


def _metadata_neuron_kwargs(path: Path) -> Optional[dict]:
    """The ``neuron_kwargs`` a zoo safetensors file was built with (its ``model_kwargs`` metadata), if any."""
    import model_zoo

    try:
        kwargs = json.loads(model_zoo.read_checkpoint_metadata(path).get("model_kwargs") or "{}")
    except ValueError:
        return None  # create_model reports a corrupt record itself
    nk = kwargs.get("neuron_kwargs") if isinstance(kwargs, dict) else None
    return nk if isinstance(nk, dict) else None


def _trained_with(pcfg) -> dict:
    from ..engine import NEURONS

    neuron = next((k for k, (mod, cls) in NEURONS.items() if pcfg.neuron in (f"{mod}.{cls}", cls)), pcfg.neuron)
    nk = pcfg.neuron_kwargs or {}
    return {"T": pcfg.T, "neuron": neuron, "membrane_bits": nk.get("membrane_bits"),
            "tau": float(nk.get("tau", nk.get("init_tau", 2.0))), "learnable_decay": bool(nk.get("learnable_decay")),
            "weight_bits": pcfg.weight_bits, "first_last_bits": pcfg.first_last_bits}


def _from_zoo(args, overrides: dict):
    import model_zoo

    pcfg = model_zoo.get_pretrained_cfg(args.model)
    if args.pretrained is True and pcfg is None:
        raise CommandError(f"no trained weights ship yet for {args.model!r} (see `mfp zoo list --pretrained`); "
                           "drop --pretrained to evaluate random weights", USAGE)
    if pcfg is None or args.pretrained is False:
        if pcfg is not None and "." in args.model:  # a tag's hyper-parameters build the model
            from ..engine import keep_neuron_kwargs

            overrides = keep_neuron_kwargs(overrides, pcfg.neuron_kwargs)
        note = ("NOTE: --no-pretrained: the accuracy below is of randomly initialised weights of "
                f"{args.model}." if pcfg is not None else
                f"NOTE: no trained weights ship yet for {args.model}; the accuracy below is of randomly "
                "initialised weights (about chance level).")
        return model_zoo.create_model(args.model, pretrained=False, **overrides), Weights("random", "random", note=note)
    from ..engine import keep_neuron_kwargs

    overrides = keep_neuron_kwargs(overrides, pcfg.neuron_kwargs)  # --tau alone keeps the card's membrane bits
    # A missing or corrupt weights file is an error (exit 1, naming the file), never random weights.
    with reading(f"cannot load the released weights of {pcfg.name}"):
        model = model_zoo.create_model(args.model, pretrained=True, **overrides)
    return model, Weights("pretrained", "pretrained weights", tag=pcfg.name, trained_with=_trained_with(pcfg))


def _differences(args, trained: dict) -> list[str]:
    """``--T 2 (trained with 4)`` for every model option given with a value the weights were not trained with."""
    from ..quant import normalize_bits

    out = []
    for key in _ARCH_OPTIONS:
        given, was = getattr(args, key, None), trained.get(key)
        if given is None:
            continue
        if key.endswith("_bits") and key != "membrane_bits":
            given, was = normalize_bits(given), (normalize_bits(was) if was is not None else None)
        if given != was:
            shown = ("fp" if key != "membrane_bits" else "none") if was is None else was
            out.append(f"--{key.replace('_', '-')} {getattr(args, key)} (trained with {shown})")
    return out


def load_model(args, overrides: dict):
    """(model, Weights) for the command line's choice of weights; model options warn when they change
    how released weights were trained."""
    if args.checkpoint:
        return _from_checkpoint(args, overrides)
    model, weights = _from_zoo(args, overrides)
    changed = _differences(args, weights.trained_with) if weights.kind == "pretrained" else []
    if changed:
        print(f"warning: the weights {weights.tag} were trained otherwise; evaluating them with "
              f"{', '.join(changed)} measures a different network, not the model card's", file=sys.stderr)
        weights.label = f"pretrained weights, overridden: {', '.join(changed)}"
    return model, weights


def _dataset(args, model, train_args: dict):
    """(canonical dataset name, dataset) to evaluate on, with --limit applied; temporal data gets the model's T."""
    from torch.utils.data import Subset

    from ..data import get_dataset
    from . import checks

    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    data = args.data or train_args.get("data") or checks.cfg_dataset(cfg)
    if data is None:
        raise CommandError(f"{args.model} has no default dataset; pass --data", USAGE)
    data = checks.dataset_name(data)
    same = data == checks.dataset_name(train_args.get("data") or data)
    # A root recorded by the training run is reused only where it exists (another machine keeps its
    # data elsewhere); a root given on the command line is always the one used.
    recorded = train_args.get("data_root") if same else None
    root = args.data_root if args.data_root is not None else (recorded if recorded and Path(recorded).expanduser().is_dir() else None)
    checks.data_root_given(data, root)
    split_by = args.split_by or (train_args.get("split_by") if same else None)
    kw = checks.data_options(data, model, split_by)
    try:
        with reading(f"cannot load the {data} dataset"):
            ds = get_dataset(data, args.split, root, cfg=cfg, download=args.download, **kw)
    except FileNotFoundError:
        if not (data in _BUNDLED and args.data is None and args.split == "test"):
            raise
        print(f"note: full {data} test files not found; using its bundled test subset ({_BUNDLED[data]})",
              file=sys.stderr)
        data = _BUNDLED[data]
        ds = get_dataset(data, "test", cfg=cfg, **kw)
    if len(ds) == 0:
        raise CommandError(f"the {data} {args.split} split at {root} has no images")
    if args.limit is not None:
        ds = Subset(ds, range(min(args.limit, len(ds))))
    return data, ds


def _result_line(res: dict, classes: int, seconds: float) -> str:
    line = f"top-1 {res['top1']:.2f}%"
    if "top5" in res and classes >= 10:
        line += f"  top-5 {res['top5']:.2f}%"
    return line + f"  loss {res['loss']:.4f}  n={res['n']} images  ({seconds:.1f} s)"


def _card_line(weights: Weights, cfg: dict, data: str, n: int, args) -> Optional[str]:
    # The card's number is for this very image set, with the weights exactly as trained: the full
    # test split of the card's dataset, or that dataset's bundled subset (the CI bar).
    from . import checks

    if weights.kind != "pretrained" or weights.label != "pretrained weights":
        return None
    if args.split != "test" or args.limit is not None:
        return None
    trained_on = checks.cfg_dataset(cfg)
    if trained_on is None or data not in (trained_on, f"{trained_on}-bundled"):
        return None
    key, what = (("subset_top1", f"bundled {n:,}-image subset") if data.endswith("-bundled")
                 else ("top1", "full test set"))
    return None if cfg.get(key) is None else f"(model card top-1 on the {what}: {cfg[key]})"


def _write_json(path: str, args, weights: Weights, data: str, res: dict, seconds: float, device, overrides):
    out = {"model": args.model, "pretrained_tag": weights.tag, "weights": weights.label,
           "random_weights": weights.kind == "random", "data": data, "split": args.split, "n": res["n"],
           "top1": res["top1"], "top5": res.get("top5"), "loss": res["loss"], "seconds": seconds,
           "device": str(device),
           "overrides": {k: (v if isinstance(v, (int, float, str, bool, type(None), dict)) else str(v))
                         for k, v in overrides.items()}}
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    from ..engine import atomic_write_bytes

    atomic_write_bytes(target, (json.dumps(out, indent=2, default=str) + "\n").encode())


def run(args: argparse.Namespace) -> int:
    from torch.utils.data import DataLoader

    from ..engine import evaluate, model_overrides, resolve_device, tune_malloc
    from . import checks

    checks.model_name(args.model)
    checks.model_kwargs(args.model, args)
    if args.data is not None:
        args.data = checks.dataset_name(args.data)
    with usage_errors():
        overrides = model_overrides(args)
        device = resolve_device(args.device)
    if device.type == "cpu" and not args.no_malloc_tune:
        tune_malloc()
    model, weights = load_model(args, overrides)
    model.to(device)
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    data, ds = _dataset(args, model, weights.train_args)
    loader = DataLoader(ds, batch_size=args.batch_size, shuffle=False, num_workers=args.workers,
                        pin_memory=device.type == "cuda")
    if weights.note:
        print(weights.note, flush=True)
    print(f"model {weights.tag or args.model} ({weights.label}) on {data}/{args.split}: {len(ds)} images, "
          f"device {device}", flush=True)
    t0 = time.perf_counter()
    res = evaluate(model, loader, device, amp=args.amp, progress=not args.no_progress, desc=f"eval {args.model}")
    seconds = time.perf_counter() - t0
    print(_result_line(res, cfg.get("num_classes") or 10, seconds), flush=True)
    card = _card_line(weights, cfg, data, len(ds), args)
    if card:
        print(card, flush=True)
    if args.json:
        _write_json(args.json, args, weights, data, res, seconds, device, overrides)
    return 0
