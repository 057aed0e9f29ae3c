"""Time the training step that ``mfp train`` runs, on a zoo model, and estimate an epoch.

The model is built exactly as ``mfp train`` builds it (the same option names and
``mfp_plugin.engine.model_overrides``); one step is ``reset; autocast? forward; CE loss; backward; Adam``
on random inputs of the model's input size (the data does not change the time).

    PYTHONPATH=. python -m bench.train_step --model mf_vgg_small --neuron mf \\
        --membrane-bits 2 --weight-bits 2 --first-last-bits 8 --T 4 --batch 128 --amp

``--profile K`` adds a ``torch.profiler`` table of K steps (self CPU/CUDA time per op),
which is how the CPU kernel's bfloat16 path and the VGG pooling skip were found.
"""
from __future__ import annotations

import argparse
import math

import torch
from torch import nn

from bench.common import base_parser, device_arg, environment, time_fn, write_json
from mfp_plugin.engine import tune_malloc


def build_parser() -> argparse.ArgumentParser:
    from mfp_plugin.engine.options import add_model_options

    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="mf_vgg_small", help="a model_zoo architecture")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--amp", action="store_true", help="autocast as `mfp train --amp` (bf16 CPU, fp16 CUDA)")
    p.add_argument("--train-size", type=int, default=60000, help="images per epoch for the estimate")
    p.add_argument("--channels-last", action="store_true", help="as `mfp train --channels-last`")
    p.add_argument("--profile", type=int, default=0, metavar="K", help="print a profiler table of K steps")
    add_model_options(p)
    return p


def make_step(args, device: torch.device):
    """(step function, model) for the configuration in ``args``."""
    import model_zoo
    from mfp_plugin import reset_states
    from mfp_plugin.engine import autocast_dtype, model_overrides

    torch.manual_seed(args.seed)
    model = model_zoo.create_model(args.model, **model_overrides(args)).to(device).train()
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = tuple(cfg.get("input_size") or (3, 32, 32))
    if cfg.get("input_type") in ("sequence", "events"):  # batch-first temporal models take [B, T, ...]
        size = (model.T, *size)
    classes = int(cfg.get("num_classes") or 10)
    x = torch.rand(args.batch, *size, device=device)
    y = torch.randint(0, classes, (args.batch,), device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    amp_dtype = autocast_dtype(device)
    scaler = torch.amp.GradScaler(device.type, enabled=args.amp and device.type == "cuda")

    def step():
        reset_states(model)
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=args.amp):
            loss = loss_fn(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return step, model


def run(args) -> dict:
    device = device_arg(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
        if not args.no_malloc_tune:
            tune_malloc()
    step, model = make_step(args, device)
    repeats = args.repeats or (3 if args.quick else 10)
    t = time_fn(step, device, repeats=repeats, warmup=args.warmup)
    steps = math.ceil(args.train_size / args.batch)
    result = {
        "benchmark": "train_step", "env": environment(device),
        "config": {k: v for k, v in vars(args).items() if k not in ("json",)},
        "median_ms": t["median_ms"], "min_ms": t["min_ms"], "repeats": t["repeats"],
        "steps_per_epoch": steps, "epoch_min_estimate": t["median_ms"] * steps / 60e3,
    }
    print(f"{args.model} batch {args.batch} T {args.T or 'default'} amp {args.amp} on {device}: "
          f"{t['median_ms']:.1f} ms/step (median of {t['repeats']}; min {t['min_ms']:.1f}) "
          f"-> {result['epoch_min_estimate']:.1f} min per {args.train_size}-image epoch (compute only)")
    if args.profile > 0:
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=acts) as prof:
            for _ in range(args.profile):
                step()
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=20))
    write_json(args.json, result)
    return result


def main(argv=None) -> dict:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
