"""``mfp train``: train a model_zoo model with a cosine schedule, CSV/PNG logs and resumable checkpoints.

Files written to ``--output DIR`` (by rank 0 only under torchrun):
  log.csv            epoch, train_loss, train_acc, test_loss, test_acc, lr, epoch_seconds
                     (accuracies in percent; lr is the rate used during the epoch)
  curves.png         training curves, redrawn every epoch
  last.pt            model + optimizer + scheduler + GradScaler + epoch + RNG states + args +
                     history; plain tensors/dicts, loadable with torch.load(weights_only=True)
  best.safetensors   weights of the best test-accuracy epoch (model_zoo.save_checkpoint)
  args.json          the resolved arguments
Every file is written to a temporary name and moved into place with os.replace. DIR is
locked while a run trains in it: a second `mfp train -o DIR` fails at once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine import options as opt
from .errors import RUNTIME, USAGE, CommandError, reading, usage_errors

__all__ = ["add_parser", "run", "data_help"]


def data_help(train: bool) -> str:
    """The dataset names by kind, for ``--data``'s help (``train``: the test-only subsets marked as such)."""
    from ..data import DATASETS

    groups = {}
    for name, info in DATASETS.items():
        test_only = train and "train" not in info["splits"]
        groups.setdefault(info["kind"], []).append(name + (" (test only)" if test_only else ""))
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in groups.items())


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train", help="train a zoo model (cosine LR, CSV/PNG logs, resumable checkpoints, DDP)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Data-parallel: torchrun --nproc_per_node N -m mfp_plugin train ... "
               "(--batch-size is per process; gloo on CPU, NCCL on CUDA).\n"
               "Resume: mfp train --output DIR --resume (other options are taken from DIR/last.pt; "
               "a larger --epochs extends the cosine schedule).")
    p.add_argument("model", nargs="?", default=None, help="model name (`mfp zoo list`); optional with --resume")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from DIR/last.pt")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh: delete the run files (last.pt, best.safetensors, logs) already in DIR")
    p.add_argument("--data", default=None, help=f"{data_help(train=True)} [fmnist]")
    p.add_argument("--split-by", choices=["number", "time"], default=None,
                   help="event datasets: cut each recording into T frames of equal event count or equal "
                        "duration [number]")
    p.add_argument("--data-root", default=None, help="dataset folder (see mfp_plugin.data)")
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument("--epochs", type=opt.positive_int, default=None, help="total epochs [10]")
    p.add_argument("--stop-after", type=opt.positive_int, default=None, metavar="K",
                   help="stop after K epochs in this invocation (time-sliced jobs; continue with --resume)")
    p.add_argument("--batch-size", type=opt.positive_int, default=None, help="per-process batch size [128]")
    p.add_argument("--eval-batch-size", type=opt.positive_int, default=None, help="[2 x batch size]")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate [1e-3]")
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default=None, help="[adam]")
    p.add_argument("--wd", "--weight-decay", dest="wd", type=float, default=None, help="weight decay [0]")
    p.add_argument("--momentum", type=float, default=None, help="SGD momentum [0.9]")
    p.add_argument("--warmup-epochs", type=opt.non_negative_int, default=None, help="linear LR warm-up epochs [0]")
    p.add_argument("--label-smoothing", type=float, default=None, help="[0]")
    p.add_argument("--seed", type=int, default=None, help="[0]")
    p.add_argument("--no-augment", dest="augment", action="store_const", const=False, default=None,
                   help="no random crop/flip on the train split")
    p.add_argument("--limit-train", type=opt.positive_int, default=None, metavar="N",
                   help="train on a seeded random subset of N images")
    p.add_argument("--limit-test", type=opt.positive_int, default=None, metavar="N",
                   help="test on a seeded random subset of N images")
    p.add_argument("--amp", action="store_const", const=True, default=None,
                   help="mixed precision: float16 autocast + GradScaler on CUDA, bfloat16 autocast on CPU "
                        "(about 2.8x faster on CPUs with AVX512-BF16 or AMX)")
    p.add_argument("--channels-last", action="store_const", const=True, default=None,
                   help="store 4-D weights, and so every conv activation, channels-last (NHWC): "
                        "faster convolutions on CPU (about 1.1x per step, mf_vgg_small --amp, "
                        "docs/benchmarks.md); MF neurons scan such maps in place")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--workers", type=opt.non_negative_int, default=None,
                   help="DataLoader workers per process [2; on --resume: the run's value]. Resume is "
                        "bit-exact for any value; a different value changes the augmentation streams")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    opt.add_malloc_option(p)
    opt.add_model_options(p)
    p.set_defaults(func=run)
    return p


def _check_usage(args: argparse.Namespace) -> None:
    """Everything that can be checked before touching the run folder."""
    from . import checks

    if args.resume and args.overwrite:
        raise CommandError("--resume continues DIR's run and --overwrite deletes it: pass one of them", USAGE)
    if args.resume and not Path(args.output).expanduser().is_dir():
        raise CommandError(f"--resume: there is no run folder {args.output}", RUNTIME)
    if args.model is not None:
        checks.model_name(args.model)
    if args.data is not None:
        args.data = checks.dataset_name(args.data)
        checks.trainable(args.data)
        checks.split_by_applies(args.data, args.split_by)
        checks.data_root_given(args.data, args.data_root)
    checks.neuron_override(args.neuron, args.membrane_bits, tau=args.tau, learnable_decay=args.learnable_decay)
    checks.model_kwargs(args.model, args)


def _note(text: str, info) -> None:
    if info.is_main:
        print(f"note: {text}", file=sys.stderr)


def _previous_run(run, args: argparse.Namespace, info) -> tuple:
    """``(last.pt contents or None, the saved run's arguments or None)``; starts the folder afresh if asked."""
    import json

    from ..engine import distributed as D
    from ..engine import load_torch

    last, args_json = run.file("last.pt"), run.file("args.json")
    if last.is_file() and not args.overwrite:
        if not args.resume:
            raise CommandError(f"{last} exists; pass --resume to continue it, --overwrite to start afresh, "
                               "or another --output", USAGE)
        ckpt = load_torch(last)
        return ckpt, dict(ckpt.get("args") or {})
    saved = None
    if args.resume:
        if not args_json.is_file():
            raise CommandError(f"--resume: {run.path} holds no run to continue (no last.pt, no args.json); "
                               "start the run without --resume", RUNTIME)
        saved = json.loads(args_json.read_text())
        _note(f"{run.path} has no last.pt (the run stopped before its first epoch was saved); "
              "restarting it from epoch 1 with the options in its args.json", info)
    elif run.existing() and not args.overwrite:
        _note(f"{run.path} holds files of a run that stopped before its first epoch was saved "
              f"({', '.join(run.existing())}); starting afresh", info)
    D.barrier(info)  # every rank has read the folder before rank 0 clears it
    if info.is_main:
        gone = run.clear()
        if args.overwrite and gone:
            _note(f"--overwrite: deleted {', '.join(gone)} of the previous run", info)
    return None, saved


def _data_classes(conf: dict):
    """Classes of the run's dataset (ImageFolder: counted from its folders), or None if the dataset does not say."""
    from ..data import dataset_info, get_dataset

    if conf["data"] != "imagefolder":
        return dataset_info(conf["data"])["num_classes"]
    with reading(f"cannot read the ImageFolder at {conf['data_root']}"):
        return len(get_dataset("imagefolder", "train", conf["data_root"], augment=False).classes)


def _build_model(conf: dict):
    """The zoo model of the run, with its classifier sized to the dataset (same seed on every rank)."""
    import model_zoo

    from ..engine import keep_neuron_kwargs, model_overrides, seed_all

    with usage_errors():
        overrides = model_overrides(conf)
    card = model_zoo.get_pretrained_cfg(conf["model"]) if "." in conf["model"] else None
    overrides = keep_neuron_kwargs(overrides, card.neuron_kwargs if card is not None else None)
    seed_all(conf["seed"])
    model = model_zoo.create_model(conf["model"], pretrained=False, **overrides)
    classes = _data_classes(conf)
    if classes is not None and model.pretrained_cfg.get("num_classes") not in (None, classes):
        conf["num_classes"] = overrides["num_classes"] = classes
        seed_all(conf["seed"])  # the same initial weights as a run that asked for these classes
        model = model_zoo.create_model(conf["model"], pretrained=False, **overrides)
    return model, dict(model.pretrained_cfg or {})


def _datasets(conf: dict, model, args: argparse.Namespace, info):
    """(train, test) datasets, subsets applied; under torchrun rank 0 downloads first.

    Temporal data gets the model's T (event data is framed into it; a sequence must have it)."""
    from ..data import get_dataset
    from ..engine import distributed as D
    from ..engine import seeded_subset
    from . import checks

    cfg = dict(model.pretrained_cfg or {})
    kw = checks.data_options(conf["data"], model, conf.get("split_by"))
    if args.download and info.enabled and not info.is_main:
        D.barrier(info)
    with reading(f"cannot load the {conf['data']} dataset"):
        train = get_dataset(conf["data"], "train", conf["data_root"], cfg=cfg, augment=conf["augment"],
                            download=args.download, **kw)
        test = get_dataset(conf["data"], "test", conf["data_root"], cfg=cfg, download=args.download, **kw)
    if args.download and info.enabled and info.is_main:
        D.barrier(info)
    train = seeded_subset(train, conf["limit_train"], conf["seed"])
    test = seeded_subset(test, conf["limit_test"], conf["seed"] + 1)
    if len(train) == 0 or len(test) == 0:
        raise CommandError(f"the {conf['data']} dataset at {conf['data_root']} has no train or no test images")
    return train, test


def _resolve(args: argparse.Namespace, saved) -> dict:
    from . import checks
    from .run_args import resolve_run_args

    conf = resolve_run_args(args, saved)
    conf["data"] = checks.dataset_name(conf["data"])
    checks.trainable(conf["data"])
    checks.split_by_applies(conf["data"], conf.get("split_by"))
    checks.data_root_given(conf["data"], conf["data_root"])
    checks.model_name(conf["model"])
    return conf


def _trainer(conf: dict, args: argparse.Namespace, info, run):
    from ..engine import Trainer, TrainConfig

    model, _ = _build_model(conf)
    train, test = _datasets(conf, model, args, info)
    with usage_errors():
        config = TrainConfig.from_dict({**conf, "eval_batch_size": args.eval_batch_size,
                                        "progress": not args.no_progress})
    return Trainer(model, train, test, config, dist=info, output=run, run_args=conf,
                   best_metadata={"model": str(conf["model"]), "dataset": str(conf["data"])},
                   title=f"{conf['model']} on {conf['data']}")


def _header(t, conf: dict) -> str:
    info = t.dist
    n_params = sum(p.numel() for p in t.model.parameters())
    return (f"train {conf['model']} on {conf['data']}: {len(t.train_set)} train / {len(t.test_set)} test "
            f"images, {n_params:,} parameters, {info.world_size} process(es) on {t.device}"
            + (f" [{info.backend}]" if info.enabled else "") + f", epochs {t.epoch + 1}..{t.config.epochs}")


def run(args: argparse.Namespace) -> int:
    from ..engine import RunDir, tune_malloc
    from ..engine import distributed as D

    _check_usage(args)
    with usage_errors():
        info = D.setup(args.device)
    run_dir = RunDir(args.output)
    try:
        if info.is_main:
            run_dir.acquire()
        ckpt, saved = _previous_run(run_dir, args, info)
        conf = _resolve(args, saved)
        if info.device.type == "cpu" and not args.no_malloc_tune:
            tune_malloc()
        trainer = _trainer(conf, args, info, run_dir)
        if ckpt is not None:
            trainer.resume(ckpt)
        if info.is_main:
            print(_header(trainer, conf), flush=True)
        trainer.fit(stop_after=args.stop_after)
        if info.is_main:
            done = trainer.history[-1]["epoch"] if trainer.history else 0
            print(f"done: {done}/{conf['epochs']} epochs; best test top-1 {trainer.best_acc:.2f}% at epoch "
                  f"{trainer.best_epoch}; files in {run_dir.path}", flush=True)
        return 0
    finally:
        run_dir.release()
        D.cleanup(info)
