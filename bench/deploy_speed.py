"""Speed of the integer engine (mfp_plugin.deploy) on CPU: images per second, both schedules.

    python -m bench.deploy_speed [--model mf_vgg_small.fmnist_w2_m2] [--batch 100] [--images 400]
                                 [--threads 2] [--repeats 3] [--json out.json]

Runs the shipped checkpoint's float model (``torch.no_grad``, eval) and its
compiled integer engine on the first ``--images`` images of the bundled
Fashion-MNIST subset in batches of ``--batch``, ``--repeats`` times after one
warm-up pass, and prints the median images/s of each. The integer engine runs
its MACs on PyTorch's float32/float64 kernels (exact, see
``mfp_plugin/deploy/mac.py``) and everything else (shift, add, compare,
pooling) on integer tensors. Measured numbers only; not a unit test.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch


def _time(fn, batches, repeats):
    fn(batches[0])  # warm-up (kernel caches, allocator)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = 0
        for x in batches:
            fn(x)
            n += x.shape[0]
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates), rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mf_vgg_small.fmnist_w2_m2")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    import model_zoo
    from mfp_plugin import deploy
    from mfp_plugin.data import get_dataset

    model = model_zoo.create_model(args.model, pretrained=True).eval()
    data = get_dataset("fmnist-bundled", cfg=model.pretrained_cfg)
    n = min(args.images, len(data))
    xs = torch.stack([data[i][0] for i in range(n)])
    batches = list(xs.split(args.batch))
    net = deploy.compile(model)

    def float_model(x):
        with torch.no_grad():
            return model(x)

    rows = {"float model (torch, no_grad)": float_model,
            "integer engine, layer schedule": lambda x: net.run(x, "layer"),
            "integer engine, stream schedule": lambda x: net.run(x, "stream")}
    env = dict(model=args.model, images=n, batch=args.batch, threads=torch.get_num_threads(),
               torch=torch.__version__, cpu=platform.processor() or platform.machine(), cpu_count=os.cpu_count())
    print(f"{args.model}: {n} images, batch {args.batch}, {env['threads']} threads, torch {torch.__version__}, "
          f"median of {args.repeats}")
    results = {}
    for name, fn in rows.items():
        med, all_rates = _time(fn, batches, args.repeats)
        results[name] = dict(images_per_s=med, runs=all_rates)
        print(f"  {name:<34s} {med:8.1f} images/s   (runs: {', '.join(f'{r:.1f}' for r in all_rates)})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(environment=env, results=results), fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
