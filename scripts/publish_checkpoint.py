"""Turn a finished `mfp train` run into a shipped zoo checkpoint with a measured card.

    python scripts/publish_checkpoint.py RUN_DIR --tag fmnist_w2_m2 [--default] \\
        [--hardware "AMD EPYC (Zen 4), 2 vCPUs, 1 thread per run"] [--notes "..."]

Reads ``RUN_DIR/last.pt`` (the final epoch's weights: the card does not pick
the best epoch on the test set), rebuilds the model from the run's
arguments, and writes

* ``model_zoo/weights/<arch>.<tag>.safetensors`` (``model_zoo.save_checkpoint``),
* ``model_zoo/pretrained_cfgs/<arch>.<tag>.json``: sha256, T, bits, neuron and
  its kwargs, normalisation, **top-1 on the full 10,000-image test set** and
  **on the bundled 2,000-image subset** (both measured here, float32, CPU,
  with the same code path as ``mfp eval``), the size at the stored bit widths,
  the train and eval commands, and the training record (epochs, wall time
  from ``log.csv``, hardware).

The subset number is the bar of ``tests/model_zoo/test_shipped_checkpoints.py``.
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def _train_command(conf: dict) -> str:
    """The ``mfp train`` line that repeats the run (``RUN_DIR`` for its folder)."""
    argv = ["mfp", "train", conf["model"], "--data", conf.get("data", "fmnist"), "--output", "RUN_DIR",
            "--epochs", str(conf["epochs"]), "--batch-size", str(conf["batch_size"]), "--lr", str(conf["lr"]),
            "--optimizer", conf["optimizer"], "--seed", str(conf["seed"])]
    for key, flag in (("T", "--T"), ("neuron", "--neuron"), ("membrane_bits", "--membrane-bits"),
                      ("weight_bits", "--weight-bits"), ("first_last_bits", "--first-last-bits"),
                      ("tau", "--tau"), ("split_by", "--split-by"), ("limit_train", "--limit-train"),
                      ("wd", "--wd"), ("label_smoothing", "--label-smoothing"), ("warmup_epochs", "--warmup-epochs")):
        v = conf.get(key)
        if v not in (None, 0, 0.0):
            argv += [flag, str(v)]
    for key, flag in (("learnable_decay", "--learnable-decay"), ("amp", "--amp"), ("channels_last", "--channels-last")):
        if conf.get(key):
            argv.append(flag)
    if conf.get("augment") is False:
        argv.append("--no-augment")
    if conf.get("workers") is not None:  # the workers split the augmentation streams, so name them always
        argv += ["--workers", str(conf["workers"])]
    if conf.get("model_kwargs"):
        argv += ["--model-kwargs", *(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in conf["model_kwargs"].items())]
    return shlex.join(argv)


def bundled_subset(data: str) -> str:
    """The bundled test subset of a dataset (the CI bar is measured on it): ``fmnist`` -> ``fmnist-bundled``."""
    from mfp_plugin.data import DATASETS

    name = f"{data}-bundled"
    if name not in DATASETS:
        raise SystemExit(f"error: {data} has no bundled test subset, so the card could not carry a CI bar; "
                         f"datasets with one: {', '.join(d[:-len('-bundled')] for d in DATASETS if d.endswith('-bundled'))}")
    return name


def publish(run: Path, tag: str, *, default: bool = False, hardware: str | None = None, notes: str | None = None,
            weights_dir: Path | None = None, cfg_dir: Path | None = None, data_root: str | None = None,
            limit: int | None = None) -> dict:
    import model_zoo
    from model_zoo import PretrainedCfg, save_checkpoint
    from model_zoo.pretrained import CFG_DIR, WEIGHTS_DIR
    from mfp_plugin.engine import evaluate, model_overrides
    from mfp_plugin.data import DATASETS, canonical_name, get_dataset
    from mfp_plugin.quant import model_size

    weights_dir = Path(weights_dir or WEIGHTS_DIR)
    cfg_dir = Path(cfg_dir or CFG_DIR)
    ckpt = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    conf = dict(ckpt["args"])
    history = list(ckpt.get("history") or [])
    if int(ckpt["epoch"]) < int(conf["epochs"]):
        raise SystemExit(f"error: {run} stopped at epoch {ckpt['epoch']} of {conf['epochs']}; finish it with "
                         f"`mfp train --output {run} --resume` first")
    arch = conf["model"]
    data = canonical_name(conf.get("data") or "fmnist")
    subset_data = bundled_subset(data)
    overrides = model_overrides(conf)
    model = model_zoo.create_model(arch, **overrides)
    model.load_state_dict(ckpt["model"])
    model.eval()
    name = f"{arch}.{tag}"
    file = f"{name}.safetensors"
    sha = save_checkpoint(model, weights_dir / file, {"mfp_train_args": conf, "tag": tag})

    cfg = dict(model.pretrained_cfg)
    device = torch.device("cpu")

    def top1(dataset, root=None):
        temporal = DATASETS[dataset]["T"] is not None  # items framed with the model's T (and the run's split_by)
        kw = {"T": model.T, **({"split_by": conf["split_by"]} if conf.get("split_by") else {})} if temporal else {}
        ds = get_dataset(dataset, "test", root, cfg=cfg, **kw)
        if limit is not None:
            ds = torch.utils.data.Subset(ds, range(min(limit, len(ds))))
        loader = torch.utils.data.DataLoader(ds, batch_size=256, shuffle=False)
        res = evaluate(model, loader, device, progress=True, desc=f"eval {dataset}")
        return round(float(res["top1"]), 2), int(res["n"])

    full, n_full = top1(data, data_root)
    subset, n_subset = top1(subset_data)
    size = model_size(model)
    # Everything the card states is read off the built model, not the (partly defaulted) run args.
    # neuron_kwargs: what the run chose (membrane bits, tau, learnable decay), so that
    # create_model(name, pretrained=True) rebuilds the very same neurons.
    neuron_kwargs = dict(overrides.get("neuron_kwargs") or {})
    wb, flb = model.weight_bits, model.first_last_bits
    epochs_s = [float(r["epoch_seconds"]) for r in history if "epoch_seconds" in r]
    card = PretrainedCfg(
        architecture=arch, tag=tag, file=file, sha256=sha, dataset="fashion_mnist" if data == "fmnist" else data, T=int(model.T),
        weight_bits=wb, first_last_bits=flb, neuron=cfg.get("neuron"),
        neuron_kwargs=neuron_kwargs, model_kwargs=dict(conf.get("model_kwargs") or {}), mean=cfg.get("mean"), std=cfg.get("std"), input_size=cfg.get("input_size"),
        num_classes=cfg.get("num_classes"), top1=full, subset_top1=subset, size_kib=round(size.total_kib, 1),
        eval_command=f"mfp eval {name} --data {data}",
        train_command=_train_command(conf),
        training={
            "epochs": int(conf["epochs"]), "wall_time_s": round(sum(epochs_s), 1),
            "mean_epoch_s": round(sum(epochs_s) / len(epochs_s), 1) if epochs_s else None,
            "hardware": hardware or f"{platform.processor() or platform.machine()}, CPU",
            "amp": bool(conf.get("amp")), "seed": conf.get("seed"),
            "eval": f"float32, CPU; top1 on {n_full} {data} test images, subset_top1 on {n_subset} images of {subset_data}",
            "weights": "final epoch (last.pt), not the best test epoch",
        },
        license="Apache-2.0", notes=notes, default=default,
    )
    cfg_dir.mkdir(parents=True, exist_ok=True)
    (cfg_dir / f"{name}.json").write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    return card.to_dict()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a finished `mfp train` run folder (with last.pt)")
    ap.add_argument("--tag", required=True, help="the pretrained tag, e.g. fmnist_w2_m2")
    ap.add_argument("--default", action="store_true", help="the tag create_model(arch, pretrained=True) picks")
    ap.add_argument("--hardware", default=None, help="what it was trained on (recorded in the card)")
    ap.add_argument("--notes", default=None)
    ap.add_argument("--data-root", default=None, help="Fashion-MNIST folder (default: the usual search path)")
    ap.add_argument("--weights-dir", type=Path, default=None, help=argparse.SUPPRESS)  # tests
    ap.add_argument("--cfg-dir", type=Path, default=None, help=argparse.SUPPRESS)      # tests
    ap.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)         # tests
    args = ap.parse_args(argv)
    card = publish(args.run, args.tag, default=args.default, hardware=args.hardware, notes=args.notes,
                   weights_dir=args.weights_dir, cfg_dir=args.cfg_dir, data_root=args.data_root, limit=args.limit)
    print(json.dumps(card, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
