"""``mfp train``: train a model_zoo model with a cosine schedule, CSV/PNG logs and resumable checkpoints.

Files written to ``--output DIR`` (by rank 0 only under torchrun):
  log.csv            epoch, train_loss, train_acc, test_loss, test_acc, lr, epoch_seconds
                     (accuracies in percent; lr is the rate used during the epoch)
  curves.png         training curves, redrawn every epoch
  last.pt            model + optimizer + scheduler + GradScaler + epoch + RNG states + args +
                     history; plain tensors/dicts, loadable with torch.load(weights_only=True)
  best.safetensors   weights of the best test-accuracy epoch (model_zoo.save_checkpoint)
  args.json          the resolved arguments
All files are written to a temporary name and moved into place with os.replace.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .malloc import tune_malloc

__all__ = ["add_parser", "run", "add_model_options", "build_model", "model_overrides",
           "neuron_override", "NEURONS", "cfg_dataset_name", "TRAIN_DEFAULTS"]

#: --neuron choice -> (module, class name)
NEURONS = {
    "mf": ("mfp_plugin", "MFNode"),
    "qlif": ("mfp_plugin", "QLIFNode"),
    "lif": ("spikingjelly.activation_based.neuron", "LIFNode"),
    "plif": ("spikingjelly.activation_based.neuron", "ParametricLIFNode"),
}

#: defaults of the options that define a run (None on the command line means "not given")
TRAIN_DEFAULTS: dict[str, Any] = dict(
    data="fmnist", data_root=None, epochs=10, batch_size=128, lr=1e-3, optimizer="adam",
    wd=0.0, momentum=0.9, seed=0, limit_train=None, limit_test=None, augment=True,
    T=None, weight_bits=None, first_last_bits=None, neuron=None, membrane_bits=None,
    label_smoothing=0.0, warmup_epochs=0, num_classes=None, amp=False, channels_last=False,
)


# --------------------------------------------------------------------------- model helpers
def add_model_options(p: argparse.ArgumentParser, defaults_none: bool = True) -> None:
    g = p.add_argument_group("model overrides (passed to model_zoo.create_model)")
    g.add_argument("--T", type=int, default=None, help="time steps [default: the model's]")
    g.add_argument("--weight-bits", type=bits_arg, default=None,
                   help="weight bits of hidden layers: an int >= 1 (1 = binary), 'ternary', or 'fp' (float)")
    g.add_argument("--first-last-bits", type=bits_arg, default=None,
                   help="weight bits of the first and last layer (same choices)")
    g.add_argument("--neuron", choices=sorted(NEURONS), default=None,
                   help="mf=mfp_plugin.MFNode, qlif=mfp_plugin.QLIFNode, lif=SpikingJelly LIFNode, "
                        "plif=SpikingJelly ParametricLIFNode [default: the model's]")
    g.add_argument("--membrane-bits", type=int, default=None,
                   help="membrane bits for --neuron mf|qlif (QLIF default 2; MF default unquantized)")


def add_malloc_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-malloc-tune", action="store_true",
                   help="on CPU, keep glibc's default mmap threshold (by default large freed tensors are "
                        "kept in the heap instead of being unmapped and page-faulted back; "
                        "see mfp_plugin.cli.malloc)")


def bits_arg(text: str):
    """``--weight-bits`` / ``--first-last-bits``: an int >= 1, ``ternary``, or ``fp`` (float weights)."""
    t = str(text).strip().lower()
    if t in ("fp", "float", "none", "fp32"):
        return "fp"
    if t == "ternary":
        return "ternary"
    try:
        v = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, 'ternary' or 'fp', got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, 'ternary' or 'fp', got {text!r}")
    return v


def neuron_override(neuron: Optional[str], membrane_bits: Optional[int]) -> dict:
    """``{"neuron": cls, "neuron_kwargs": {...}}`` for create_model, or {} when not set."""
    if neuron is None:
        if membrane_bits is not None:  # keep the model's neuron (MFNode/QLIFNode), set its bits
            if membrane_bits < 2:
                raise SystemExit("error: --membrane-bits must be >= 2")
            return {"neuron_kwargs": {"membrane_bits": membrane_bits}}
        return {}
    if neuron not in NEURONS:
        raise SystemExit(f"error: unknown --neuron {neuron!r}; choose from {', '.join(sorted(NEURONS))}")
    module, cls_name = NEURONS[neuron]
    import importlib
    cls = getattr(importlib.import_module(module), cls_name)
    kwargs: dict = {}
    if membrane_bits is not None:
        if neuron not in ("mf", "qlif"):
            raise SystemExit(f"error: --membrane-bits applies to --neuron mf|qlif, not {neuron}")
        if membrane_bits < 2:
            raise SystemExit("error: --membrane-bits must be >= 2")
        kwargs["membrane_bits"] = membrane_bits
    return {"neuron": cls, "neuron_kwargs": kwargs}


def model_overrides(args: Any, fallback: Optional[dict] = None) -> dict:
    """create_model overrides from CLI args (values None are not passed); ``fallback`` fills gaps."""
    fb = fallback or {}

    def get(key):
        v = getattr(args, key, None)
        return v if v is not None else fb.get(key)

    out: dict = {}
    v = get("T")
    if v is not None:
        out["T"] = int(v)
    for key in ("weight_bits", "first_last_bits"):
        v = get(key)
        if v is not None:  # "fp" -> None: float weights (the builders' bits=None)
            out[key] = None if v == "fp" else (v if v == "ternary" else int(v))
    out.update(neuron_override(get("neuron"), get("membrane_bits")))
    if fb.get("num_classes") is not None and getattr(args, "num_classes", None) is None:
        out["num_classes"] = int(fb["num_classes"])
    elif getattr(args, "num_classes", None) is not None:
        out["num_classes"] = int(args.num_classes)
    return out


def build_model(name: str, pretrained=False, overrides: Optional[dict] = None) -> nn.Module:
    import model_zoo

    try:
        return model_zoo.create_model(name, pretrained=pretrained, **(overrides or {}))
    except KeyError as exc:
        raise SystemExit(f"error: unknown model {name!r} ({exc}); see `mfp zoo list`") from exc


_DATASET_ALIASES = {"fashion-mnist": "fmnist", "fashionmnist": "fmnist", "fashion_mnist": "fmnist",
                    "fmnist": "fmnist", "cifar10": "cifar10", "cifar-10": "cifar10",
                    "cifar100": "cifar100", "cifar-100": "cifar100"}


def cfg_dataset_name(cfg: dict) -> Optional[str]:
    d = (cfg or {}).get("dataset")
    if not d:
        return None
    return _DATASET_ALIASES.get(str(d).lower(), str(d).lower())


# --------------------------------------------------------------------------- parser
def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train", help="train a zoo model (cosine LR, CSV/PNG logs, resumable checkpoints, DDP)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Data-parallel: torchrun --nproc_per_node N -m mfp_plugin train ... "
               "(--batch-size is per process; gloo on CPU, NCCL on CUDA).\n"
               "Resume: mfp train --output DIR --resume (other options are taken from DIR/last.pt; "
               "a larger --epochs extends the cosine schedule).")
    p.add_argument("model", nargs="?", default=None, help="model name (`mfp zoo list`); "
                   "optional with --resume")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from DIR/last.pt")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if DIR/last.pt exists")
    p.add_argument("--data", default=None, help="fmnist | cifar10 | cifar100 | imagefolder [fmnist]")
    p.add_argument("--data-root", default=None, help="dataset folder (see mfp_plugin.data)")
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument("--epochs", type=int, default=None, help="total epochs [10]")
    p.add_argument("--stop-after", type=int, default=None, metavar="K",
                   help="stop after K epochs in this invocation (time-sliced jobs; continue with --resume)")
    p.add_argument("--batch-size", type=int, default=None, help="per-process batch size [128]")
    p.add_argument("--eval-batch-size", type=int, default=None, help="[2 x batch size]")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate [1e-3]")
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default=None, help="[adam]")
    p.add_argument("--wd", "--weight-decay", dest="wd", type=float, default=None, help="weight decay [0]")
    p.add_argument("--momentum", type=float, default=None, help="SGD momentum [0.9]")
    p.add_argument("--warmup-epochs", type=int, default=None, help="linear LR warm-up epochs [0]")
    p.add_argument("--label-smoothing", type=float, default=None, help="[0]")
    p.add_argument("--seed", type=int, default=None, help="[0]")
    p.add_argument("--no-augment", dest="augment", action="store_const", const=False, default=None,
                   help="no random crop/flip on the train split")
    p.add_argument("--limit-train", type=int, default=None, metavar="N",
                   help="train on a seeded random subset of N images")
    p.add_argument("--limit-test", type=int, default=None, metavar="N",
                   help="test on a seeded random subset of N images")
    p.add_argument("--amp", action="store_const", const=True, default=None,
                   help="mixed precision: float16 autocast + GradScaler on CUDA, bfloat16 autocast on CPU "
                        "(about 2.8x faster on CPUs with AVX512-BF16 or AMX)")
    p.add_argument("--channels-last", action="store_const", const=True, default=None,
                   help="store 4-D weights, and so every conv activation, channels-last (NHWC): "
                        "faster convolutions on CPU (about 1.1x per step, mf_vgg_small --amp, "
                        "docs/benchmarks.md); MF neurons scan such maps in place")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--workers", type=int, default=None,
                   help="DataLoader workers per process [2; on --resume: the run's value]. "
                        "Augmentation random streams depend on it, so keep it to resume bit-exactly")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    add_malloc_option(p)
    add_model_options(p)
    p.set_defaults(func=run)
    return p


# --------------------------------------------------------------------------- utilities
def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _atomic_torch_save(obj, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic_write_bytes(path, buf.getvalue())


def _rng_state(device: torch.device) -> dict:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": str(np_state[0]), "state": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": random.getstate(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["key"], n["state"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def _seeded_subset(ds, n: Optional[int], seed: int):
    from torch.utils.data import Subset
    if n is None or n >= len(ds):
        return ds
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=g)[:n].sort().values.tolist()
    return Subset(ds, idx)


def _write_csv(path: Path, history: list[dict]) -> None:
    cols = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_seconds"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in cols})
    _atomic_write_bytes(path, buf.getvalue().encode())


def _write_png(path: Path, history: list[dict], title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ep = [r["epoch"] for r in history]
    fig = Figure(figsize=(10, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot(ep, [r["train_loss"] for r in history], "o-", label="train")
    ax1.plot(ep, [r["test_loss"] for r in history], "s-", label="test")
    ax1.set_xlabel("epoch"); ax1.set_ylabel("cross-entropy"); ax1.set_title("loss"); ax1.legend()
    ax2.plot(ep, [r["train_acc"] for r in history], "o-", label="train")
    ax2.plot(ep, [r["test_acc"] for r in history], "s-", label="test")
    ax2.set_xlabel("epoch"); ax2.set_ylabel("top-1 (%)"); ax2.set_title("accuracy"); ax2.legend()
    ax3.plot(ep, [r["lr"] for r in history], "o-")
    ax3.set_xlabel("epoch"); ax3.set_title("learning rate")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))  # whole epochs, legible at any count
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())


def _lr_lambda(epochs: int, warmup: int):
    def f(epoch: int) -> float:
        if warmup > 0 and epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        span = max(1, epochs - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / span))
    return f


def _resolve_args(args: argparse.Namespace, saved: Optional[dict]) -> dict:
    """Merge CLI args with the saved run (on --resume) and the defaults; reject conflicts.

    On --resume every run-defining option comes from the saved run; one given on the
    command line must equal it, except --epochs, which may extend the run.
    """
    cli = vars(args)
    conf: dict = {}
    conflicts = []
    for k in [*TRAIN_DEFAULTS, "model"]:
        given = cli.get(k)
        if saved is None:
            conf[k] = given if given is not None else TRAIN_DEFAULTS.get(k)
            continue
        old = saved.get(k, TRAIN_DEFAULTS.get(k))
        if k == "epochs" and given is not None:
            conf[k] = given
        elif given is not None and given != old:
            conflicts.append(f"--{k.replace('_', '-')}: run has {old!r}, command line says {given!r}")
        else:
            conf[k] = old
    # workers: soft option (changes augmentation RNG streams, not the run's definition)
    saved_workers = (saved or {}).get("workers")
    conf["workers"] = cli.get("workers") if cli.get("workers") is not None else (
        saved_workers if saved_workers is not None else 2)
    if saved is not None and saved_workers is not None and conf["workers"] != saved_workers:
        print(f"note: --workers {conf['workers']} differs from the run's {saved_workers}; the data "
              "augmentation random streams change, so the result is not bit-identical to an "
              "uninterrupted run", file=sys.stderr)
    if conflicts:
        raise SystemExit("error: --resume must continue the same run; these options differ:\n  "
                         + "\n  ".join(conflicts))
    if conf.get("model") is None:
        raise SystemExit("error: a MODEL is required (or --resume with DIR/last.pt)")
    if conf["epochs"] < 1 or conf["batch_size"] < 1:
        raise SystemExit("error: --epochs and --batch-size must be >= 1")
    return conf


# --------------------------------------------------------------------------- main loop
def run(args: argparse.Namespace) -> int:
    from torch.utils.data import DataLoader, RandomSampler, Subset
    from torch.utils.data.distributed import DistributedSampler
    from tqdm.auto import tqdm

    import model_zoo

    from ..data import canonical_name, dataset_info, get_dataset
    from . import distributed as D
    from .evaluate import autocast_dtype, evaluate_model, reset_model_state

    info = D.setup(args.device)
    try:
        out = Path(args.output).expanduser()
        last_path = out / "last.pt"
        ckpt = None
        if args.resume:
            if not last_path.is_file():
                raise SystemExit(f"error: --resume but {last_path} does not exist")
            ckpt = torch.load(str(last_path), map_location="cpu", weights_only=True)
        elif last_path.exists() and not args.overwrite:
            raise SystemExit(f"error: {last_path} exists; pass --resume to continue it, "
                             "--overwrite to start afresh, or another --output")
        conf = _resolve_args(args, ckpt["args"] if ckpt is not None else None)
        conf["data"] = canonical_name(conf["data"])
        if conf["data"] == "fmnist-bundled":
            raise SystemExit("error: fmnist-bundled is a subset of the Fashion-MNIST TEST split; "
                             "train on --data fmnist")
        device = info.device
        if device.type == "cpu" and not args.no_malloc_tune:
            tune_malloc()
        amp = bool(conf["amp"])
        amp_dtype = autocast_dtype(device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = False

        # ---- model (same seed on every rank -> identical initial weights)
        _seed_all(conf["seed"])
        ds_info = dataset_info(conf["data"])
        overrides = model_overrides(argparse.Namespace(**conf))
        model = build_model(conf["model"], pretrained=False, overrides=overrides)
        cfg = dict(getattr(model, "pretrained_cfg", None) or {})
        n_cls_data = ds_info["num_classes"]
        if conf["data"] == "imagefolder":
            n_cls_data = len(get_dataset("imagefolder", "train", conf["data_root"], augment=False).classes)
        if n_cls_data is not None and cfg.get("num_classes") not in (None, n_cls_data):
            conf["num_classes"] = n_cls_data
            overrides["num_classes"] = n_cls_data
            _seed_all(conf["seed"])
            model = build_model(conf["model"], pretrained=False, overrides=overrides)
            cfg = dict(getattr(model, "pretrained_cfg", None) or {})
        model.to(device)
        if conf["channels_last"]:
            # Conv weights in NHWC make oneDNN / cuDNN emit NHWC activations all the way down.
            model.to(memory_format=torch.channels_last)

        # ---- data
        if args.download and info.enabled and not info.is_main:
            D.barrier(info)  # let rank 0 download first
        try:
            train_ds = get_dataset(conf["data"], "train", conf["data_root"], cfg=cfg,
                                   augment=conf["augment"], download=args.download)
            test_ds = get_dataset(conf["data"], "test", conf["data_root"], cfg=cfg,
                                  download=args.download)
        except FileNotFoundError as exc:
            raise SystemExit(f"error: {exc}") from exc
        if args.download and info.enabled and info.is_main:
            D.barrier(info)
        train_ds = _seeded_subset(train_ds, conf["limit_train"], conf["seed"])
        test_ds = _seeded_subset(test_ds, conf["limit_test"], conf["seed"] + 1)
        bs = conf["batch_size"]
        drop_last = len(train_ds) >= 2 * bs * info.world_size
        if info.enabled:
            sampler = DistributedSampler(train_ds, num_replicas=info.world_size, rank=info.rank,
                                         shuffle=True, seed=conf["seed"], drop_last=False)
            shard = list(range(info.rank, len(test_ds), info.world_size))
            test_shard = Subset(test_ds, shard)
        else:
            g = torch.Generator()
            sampler = RandomSampler(train_ds, generator=g)
            test_shard = test_ds
        pin = device.type == "cuda"
        train_loader = DataLoader(train_ds, batch_size=bs, sampler=sampler, num_workers=conf["workers"],
                                  pin_memory=pin, drop_last=drop_last,
                                  persistent_workers=conf["workers"] > 0)
        test_loader = DataLoader(test_shard, batch_size=args.eval_batch_size or 2 * bs, shuffle=False,
                                 num_workers=conf["workers"], pin_memory=pin)

        # ---- optimisation
        params = [p for p in model.parameters() if p.requires_grad]
        if conf["optimizer"] == "sgd":
            opt = torch.optim.SGD(params, lr=conf["lr"], momentum=conf["momentum"],
                                  weight_decay=conf["wd"], nesterov=conf["momentum"] > 0)
        elif conf["optimizer"] == "adamw":
            opt = torch.optim.AdamW(params, lr=conf["lr"], weight_decay=conf["wd"])
        else:
            opt = torch.optim.Adam(params, lr=conf["lr"], weight_decay=conf["wd"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(conf["epochs"], conf["warmup_epochs"]))
        # bfloat16 has float32's exponent range: no loss scaling on CPU.
        scaler = torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")
        train_model: nn.Module = model
        if info.enabled:
            train_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)

        start_epoch, history, best_acc, best_epoch = 0, [], -1.0, 0
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            if scaler.is_enabled() and ckpt.get("scaler"):
                scaler.load_state_dict(ckpt["scaler"])
            start_epoch = int(ckpt["epoch"])
            history = [dict(r) for r in ckpt.get("history", [])]
            best_acc = float(ckpt.get("best_acc", -1.0))
            best_epoch = int(ckpt.get("best_epoch", 0))
            states = ckpt.get("rng_per_rank") or []
            if len(states) == info.world_size:
                _set_rng_state(states[info.rank], device)
            elif info.is_main:
                print(f"note: checkpoint was written by {len(states)} processes, now {info.world_size}; "
                      "RNG streams are re-seeded (the run stays valid but is not bit-identical)",
                      file=sys.stderr)
                _seed_all(conf["seed"] + 7919 * (start_epoch + 1) + info.rank)
            if conf["epochs"] != ckpt["args"].get("epochs") and info.is_main:
                print(f"note: extending the cosine schedule from {ckpt['args'].get('epochs')} "
                      f"to {conf['epochs']} epochs", file=sys.stderr)
            # the schedule depends on the total epochs: rebuild the lambda on the loaded state
            sched.lr_lambdas = [_lr_lambda(conf["epochs"], conf["warmup_epochs"])]
            for group, lr in zip(opt.param_groups, [conf["lr"] * sched.lr_lambdas[0](start_epoch)]):
                group["lr"] = lr
        elif info.enabled:
            _seed_all(conf["seed"] + 1 + info.rank)  # different augmentation streams per rank

        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            saved_conf = {k: v for k, v in conf.items()}
            _atomic_write_bytes(out / "args.json", (json.dumps(
                {**saved_conf, "world_size": info.world_size, "device": str(device), "amp": amp},
                indent=2, default=str) + "\n").encode())
            n_params = sum(p.numel() for p in model.parameters())
            print(f"train {conf['model']} on {conf['data']}: {len(train_ds)} train / {len(test_ds)} test "
                  f"images, {n_params:,} parameters, {info.world_size} process(es) on {device}"
                  + (f" [{info.backend}]" if info.enabled else "")
                  + f", epochs {start_epoch + 1}..{conf['epochs']}", flush=True)

        loss_fn = nn.CrossEntropyLoss(label_smoothing=conf["label_smoothing"])
        epochs_run = 0
        for epoch in range(start_epoch, conf["epochs"]):
            if args.stop_after is not None and epochs_run >= args.stop_after:
                break
            t0 = time.perf_counter()
            lr = opt.param_groups[0]["lr"]
            if info.enabled:
                sampler.set_epoch(epoch)
            else:
                g.manual_seed(conf["seed"] * 100003 + epoch)
            train_model.train()
            loss_sum, correct, n = 0.0, 0, 0
            bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{conf['epochs']}", unit="batch",
                       disable=args.no_progress or not info.is_main, leave=False, file=sys.stderr)
            for x, y in bar:
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                reset_model_state(model)
                with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp):
                    logits = train_model(x)
                    loss = loss_fn(logits.float(), y)
                if not torch.isfinite(loss):
                    raise SystemExit(f"error: non-finite loss ({float(loss)}) at epoch {epoch + 1}; "
                                     "lower --lr")
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                with torch.no_grad():
                    loss_sum += float(loss) * y.numel()
                    correct += int((logits.argmax(1) == y).sum())
                    n += y.numel()
                bar.set_postfix(loss=f"{loss_sum / n:.4f}", acc=f"{100.0 * correct / n:.1f}%")
            bar.close()
            sched.step()
            loss_sum, correct, n = D.all_reduce_sum([loss_sum, correct, n], info)

            res = evaluate_model(model, test_loader, device, amp=amp,
                                 progress=not args.no_progress and info.is_main,
                                 desc=f"test {epoch + 1}/{conf['epochs']}")
            s = res["_sums"]
            t_loss, t_top1, t_n = D.all_reduce_sum([s["loss"], s["top1"], s["n"]], info)
            row = {"epoch": epoch + 1, "train_loss": loss_sum / max(n, 1),
                   "train_acc": 100.0 * correct / max(n, 1),
                   "test_loss": t_loss / max(t_n, 1), "test_acc": 100.0 * t_top1 / max(t_n, 1),
                   "lr": float(lr), "epoch_seconds": time.perf_counter() - t0}
            history.append(row)
            improved = row["test_acc"] > best_acc
            if improved:
                best_acc, best_epoch = row["test_acc"], epoch + 1
            rng_all = [_rng_state(device)]
            if info.enabled:
                import torch.distributed as dist
                rng_all = [None] * info.world_size
                dist.all_gather_object(rng_all, _rng_state(device))
                rng_all = [{k: (v.cpu() if torch.is_tensor(v) else v) for k, v in r.items()} for r in rng_all]
            if info.is_main:
                if improved:
                    _save_best(model, out / "best.safetensors", conf, cfg, row)
                _write_csv(out / "log.csv", history)
                _write_png(out / "curves.png", history, f"{conf['model']} on {conf['data']}")
                _atomic_torch_save({
                    "format": "mfp-train-v1",
                    "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                    "optimizer": opt.state_dict(), "scheduler": _sched_state(sched),
                    "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                    "epoch": epoch + 1, "best_acc": best_acc, "best_epoch": best_epoch,
                    "history": history, "rng_per_rank": rng_all,
                    "args": _plain(conf), "world_size": info.world_size,
                    "torch_version": str(torch.__version__),
                }, last_path)
                print(f"epoch {epoch + 1}/{conf['epochs']}: train loss {row['train_loss']:.4f} "
                      f"acc {row['train_acc']:.2f}% | test loss {row['test_loss']:.4f} "
                      f"acc {row['test_acc']:.2f}%{' *' if improved else ''} | lr {lr:.3g} | "
                      f"{row['epoch_seconds']:.1f} s", flush=True)
            D.barrier(info)
            epochs_run += 1
        if info.is_main:
            done = history[-1]["epoch"] if history else 0
            print(f"done: {done}/{conf['epochs']} epochs; best test top-1 {best_acc:.2f}% at epoch "
                  f"{best_epoch}; files in {out}", flush=True)
        return 0
    finally:
        D.cleanup(info)


def _sched_state(sched) -> dict:
    return _plain(sched.state_dict())


def _plain(obj):
    """Reduce to what torch.load(weights_only=True) accepts: dict/list/str/int/float/bool/None/tensor."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, bool, int, float)) or torch.is_tensor(obj):
        return obj
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return str(obj)


def _save_best(model: nn.Module, path: Path, conf: dict, cfg: dict, row: dict) -> None:
    """Weights only, via model_zoo.save_checkpoint (atomic: temp file + os.replace).

    The zoo records architecture/model_kwargs/pretrained_cfg in the safetensors
    metadata, so ``create_model(arch, pretrained=path)`` rebuilds the model.
    """
    import model_zoo

    model_zoo.save_checkpoint(model, str(path), {
        "mfp_format": "mfp-train-v1",
        "model": str(conf["model"]),
        "mfp_train_args": json.dumps(_plain(conf), sort_keys=True),
        "epoch": str(row["epoch"]), "test_acc": f"{row['test_acc']:.4f}",
        "dataset": str(conf["data"]),
    })
