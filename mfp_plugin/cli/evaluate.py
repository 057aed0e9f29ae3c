"""``mfp eval``: top-1/top-5 accuracy and loss of a zoo model on a dataset."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .malloc import tune_malloc

__all__ = ["add_parser", "run", "evaluate_model", "reset_model_state"]


def reset_model_state(model: nn.Module) -> None:
    """Reset spiking-neuron state before a forward (harmless for memory-free neurons)."""
    try:
        import mfp_plugin
        fn = getattr(mfp_plugin, "reset_states", None)
    except ImportError:  # pragma: no cover - the package is importable whenever the CLI runs
        fn = None
    if fn is not None:
        fn(model)
        return
    for m in model.modules():
        if m is not model and hasattr(m, "reset") and callable(m.reset):
            m.reset()


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The ``--amp`` dtype: float16 on CUDA (with a GradScaler when training), bfloat16 elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


@torch.no_grad()
def evaluate_model(model: nn.Module, loader, device: torch.device, *, amp: bool = False,
                   progress: bool = True, desc: str = "eval", topk: tuple[int, ...] = (1, 5)) -> dict:
    """Return ``{"loss", "top1", "top5"?, "n"}`` summed over ``loader`` (accuracies in percent).

    The sums (not the means) are in ``_sums`` so data-parallel callers can all-reduce them.
    """
    from tqdm.auto import tqdm

    model.eval()
    loss_sum, n = 0.0, 0
    correct = {k: 0 for k in topk}
    bar = tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False, file=sys.stderr)
    for x, y in bar:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        reset_model_state(model)
        with torch.autocast(device_type=device.type, dtype=autocast_dtype(device), enabled=amp):
            logits = model(x)
        logits = logits.float()
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        n += y.numel()
        maxk = min(max(topk), logits.shape[1])
        pred = logits.topk(maxk, dim=1).indices
        hit = pred.eq(y.unsqueeze(1))
        for k in topk:
            if k <= logits.shape[1]:
                correct[k] += int(hit[:, :k].any(dim=1).sum())
        if n:
            bar.set_postfix(top1=f"{100.0 * correct[topk[0]] / n:.2f}%")
    bar.close()
    out = {"n": n, "_sums": {"loss": loss_sum, **{f"top{k}": correct[k] for k in topk}, "n": n}}
    out["loss"] = loss_sum / n if n else math.nan
    for k in topk:
        out[f"top{k}"] = 100.0 * correct[k] / n if n else math.nan
    return out


def add_parser(sub) -> argparse.ArgumentParser:
    from .train import add_malloc_option, add_model_options

    p = sub.add_parser(
        "eval", help="evaluate a zoo model (pretrained, random or from a checkpoint)",
        description="Evaluate a model_zoo model and print top-1 accuracy and loss. Weights: the "
                    "model's released weights (--pretrained, the default when they ship), a file "
                    "(--checkpoint best.safetensors|last.pt|any model_zoo checkpoint) or random "
                    "(--no-pretrained).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model", help="model name as in `mfp zoo list` (arch or arch.tag)")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--pretrained", dest="pretrained", action="store_true", default=None,
                   help="use the released weights (error if none ship) [default: use them when they ship]")
    w.add_argument("--no-pretrained", dest="pretrained", action="store_false",
                   help="evaluate randomly initialised weights")
    w.add_argument("--checkpoint", "--ckpt", metavar="PATH", default=None,
                   help="weights file written by `mfp train` (best.safetensors or last.pt) "
                        "or model_zoo.save_checkpoint")
    p.add_argument("--data", default=None,
                   help="fmnist-bundled | fmnist | cifar10 | cifar100 | imagefolder "
                        "[default: the dataset the weights were trained on]")
    p.add_argument("--data-root", default=None, help="dataset folder (see `mfp_plugin.data`)")
    p.add_argument("--split", default="test", choices=["test", "train", "val"])
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--limit", type=int, default=None, metavar="N", help="evaluate the first N images only")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--amp", action="store_true", help="float16 (CUDA) / bfloat16 (CPU) autocast")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the results as JSON")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    add_malloc_option(p)
    add_model_options(p, defaults_none=True)
    p.set_defaults(func=run)
    return p


def _checkpoint_info(path: Path) -> tuple[dict, Optional[dict]]:
    """(training args or {}, state_dict or None) from a checkpoint file."""
    if not path.is_file():
        raise SystemExit(f"error: checkpoint {path} not found")
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        args = {}
        for key in ("mfp_train_args", "train_args"):
            if key in meta:
                try:
                    args = json.loads(meta[key])
                except json.JSONDecodeError:
                    pass
                break
        return args, None
    ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(ckpt, dict) and "model" in ckpt and isinstance(ckpt["model"], dict):
        return dict(ckpt.get("args") or {}), ckpt["model"]
    if isinstance(ckpt, dict):
        return {}, ckpt  # a bare state dict
    raise SystemExit(f"error: {path} is not a checkpoint (no state dict inside)")


def run(args: argparse.Namespace) -> int:
    import model_zoo
    from torch.utils.data import DataLoader, Subset

    from ..data import canonical_name, get_dataset
    from .distributed import resolve_device
    from .train import build_model, cfg_dataset_name, model_overrides

    device = resolve_device(args.device)
    if device.type == "cpu" and not args.no_malloc_tune:
        tune_malloc()
    weights_note = None
    source = "random"
    train_args: dict = {}
    if args.checkpoint:
        ckpt_path = Path(args.checkpoint).expanduser()
        train_args, state = _checkpoint_info(ckpt_path)
        if train_args.get("model") and train_args["model"] != args.model:
            print(f"note: checkpoint was trained as {train_args['model']!r}; building {args.model!r}",
                  file=sys.stderr)
        if state is None:  # safetensors: the zoo rebuilds the architecture from its metadata
            overrides = model_overrides(args)
            try:
                model = build_model(args.model, pretrained=str(ckpt_path), overrides=overrides)
            except (RuntimeError, ValueError) as exc:
                raise SystemExit(f"error: cannot load {ckpt_path} into {args.model}: {exc}") from exc
        else:  # last.pt of `mfp train` (or a bare state dict)
            overrides = model_overrides(args, fallback=train_args)
            model = build_model(args.model, pretrained=False, overrides=overrides)
            try:
                model.load_state_dict(state)
            except RuntimeError as exc:
                raise SystemExit(f"error: cannot load {ckpt_path} into {args.model}: {exc}") from exc
        source = f"checkpoint {ckpt_path}"
    else:
        overrides = model_overrides(args)
        available = pretrained_available(args.model)
        if args.pretrained is True and not available:
            raise SystemExit(f"error: no trained weights ship yet for {args.model!r} "
                             "(see `mfp zoo list --pretrained`); drop --pretrained to evaluate "
                             "random weights")
        use_pretrained = available if args.pretrained is None else bool(args.pretrained)
        model = None
        if use_pretrained:
            try:
                model = build_model(args.model, pretrained=True, overrides=overrides)
                source = "pretrained weights"
            except (RuntimeError, OSError) as exc:
                if args.pretrained is True or "sha256" in str(exc).lower() or "checksum" in str(exc).lower():
                    raise SystemExit(f"error: cannot load the released weights of {args.model}: {exc}")
                weights_note = (f"NOTE: the released weights of {args.model} could not be loaded "
                                f"({exc}); the accuracy below is of randomly initialised weights.")
        if model is None:
            model = build_model(args.model, pretrained=False, overrides=overrides)
            if weights_note is None:
                if not available:
                    weights_note = (f"NOTE: no trained weights ship yet for {args.model}; the accuracy "
                                    "below is of randomly initialised weights (about chance level).")
                else:
                    weights_note = ("NOTE: --no-pretrained: the accuracy below is of randomly "
                                    f"initialised weights of {args.model}.")
    model.to(device)
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})

    data = args.data or train_args.get("data") or cfg_dataset_name(cfg)
    if data is None:
        raise SystemExit(f"error: {args.model} has no default dataset; pass --data")
    data = canonical_name(data)
    data_root = args.data_root if args.data_root is not None else (
        train_args.get("data_root") if data == canonical_name(train_args.get("data") or data) else None)
    try:
        ds = get_dataset(data, args.split, data_root, cfg=cfg, download=args.download)
    except FileNotFoundError as exc:
        if data == "fmnist" and args.data is None and args.split == "test":
            print("note: full Fashion-MNIST test files not found; using the bundled 2,000-image "
                  "test subset (fmnist-bundled)", file=sys.stderr)
            data = "fmnist-bundled"
            ds = get_dataset(data, "test", cfg=cfg)
        else:
            raise SystemExit(f"error: {exc}")
    if args.limit is not None:
        ds = Subset(ds, range(min(args.limit, len(ds))))
    loader = DataLoader(ds, batch_size=args.batch_size, shuffle=False, num_workers=args.workers,
                        pin_memory=device.type == "cuda")

    if weights_note:
        print(weights_note, flush=True)
    print(f"model {args.model} ({source}) on {data}/{args.split}: {len(ds)} images, device {device}",
          flush=True)
    t0 = time.perf_counter()
    res = evaluate_model(model, loader, device, amp=args.amp, progress=not args.no_progress,
                         desc=f"eval {args.model}")
    dt = time.perf_counter() - t0
    line = f"top-1 {res['top1']:.2f}%"
    if "top5" in res and (cfg.get("num_classes") or 10) >= 10:
        line += f"  top-5 {res['top5']:.2f}%"
    line += f"  loss {res['loss']:.4f}  n={res['n']} images  ({dt:.1f} s)"
    print(line, flush=True)
    if source == "pretrained weights" and args.split == "test" and args.limit is None:
        # Compare with the card's number for this very image set, not the other one.
        key, what = (("subset_top1", "bundled 2,000-image subset") if data == "fmnist-bundled"
                     else ("top1", "full test set"))
        if cfg.get(key) is not None:
            print(f"(model card top-1 on the {what}: {cfg[key]})", flush=True)
    if args.json:
        out = {"model": args.model, "weights": source, "random_weights": source == "random",
               "data": data, "split": args.split, "n": res["n"], "top1": res["top1"],
               "top5": res.get("top5"), "loss": res["loss"], "seconds": dt, "device": str(device),
               "overrides": {k: (v if isinstance(v, (int, float, str, bool, type(None), dict)) else str(v))
                             for k, v in overrides.items()}}
        Path(args.json).expanduser().parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).expanduser().write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


def pretrained_available(name: str) -> bool:
    """True when released weights for ``name`` ship in the package or have a download URL."""
    import model_zoo

    try:
        pcfg = model_zoo.get_pretrained_cfg(name)
    except (ValueError, KeyError):
        return False
    if pcfg is None:
        return False
    if getattr(pcfg, "file", None):
        from model_zoo.pretrained import WEIGHTS_DIR
        if (WEIGHTS_DIR / pcfg.file).is_file():
            return True
    return bool(getattr(pcfg, "url", None))
