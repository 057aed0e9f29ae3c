#!/usr/bin/env python
"""Generate fmnist-dvs: Fashion-MNIST through simulated N-MNIST saccades (see mfp_plugin/data/dvs_sim.py).

Full splits (what ``get_dataset("fmnist-dvs", split, root=OUT)`` reads; it also
generates a missing split by itself when it finds the IDX files):

    python scripts/make_fmnist_dvs.py [--fmnist-root DIR] [--out OUT] [--split train test] [--seed 0]

writes ``OUT/fmnist_dvs_<split>_seed<seed>.npz`` (default OUT: ``$MFP_DATA/fmnist-dvs`` or
``~/.cache/mfp_plugin/data/fmnist-dvs``; images from ``--fmnist-root``, default: the
Fashion-MNIST default search, /usr/share/datasets/fashion-mnist then $MFP_DATA).
An existing file is kept unless ``--force``.

The bundled test subset (``fmnist-dvs-bundled``):

    python scripts/make_fmnist_dvs.py --bundled [--bundled-out PATH] [--per-class 100]

simulates the first ``--per-class`` images of each class (by test-set index) of the
bundled Fashion-MNIST subset ``model_zoo/data/fmnist_test_subset.npz`` with seed 0
and writes ``model_zoo/data/fmnist_dvs_test_subset.npz`` (byte-reproducible).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfp_plugin.data.bundled import BundledFashionMNIST, bundled_fmnist_path  # noqa: E402
from mfp_plugin.data.dvs_sim import DVSParams  # noqa: E402
from mfp_plugin.data.fashion_mnist import load_fashion_mnist_arrays  # noqa: E402
from mfp_plugin.data.fmnist_dvs import (BUNDLED_DVS_FILENAME, fmnist_dvs_path, generate_events,  # noqa: E402
                                        make_meta, write_event_file)


def _report(path: Path, pack, seconds: float) -> None:
    n = len(pack)
    per = np.diff(pack.offsets)
    print(f"{path}: {n} images, {int(pack.offsets[-1])} events (mean {per.mean():.0f}, "
          f"min {per.min()}, max {per.max()} per image), {path.stat().st_size / 2**20:.2f} MiB, "
          f"{seconds:.1f} s ({1000 * seconds / n:.1f} ms per image)")


def make_split(split: str, fmnist_root, out, seed: int, force: bool) -> None:
    path = fmnist_dvs_path(out, split, seed)
    if path.is_file() and not force:
        print(f"{path} exists; kept (--force regenerates it)")
        return
    images, labels, files = load_fashion_mnist_arrays(fmnist_root, split)
    t0 = time.perf_counter()
    pack = generate_events(images, seed, desc=f"fmnist-dvs {split}")
    write_event_file(path, pack, labels, np.arange(len(labels)), make_meta(split, seed, DVSParams(), list(files)))
    _report(path, pack, time.perf_counter() - t0)


def make_bundled(out: Path, per_class: int) -> None:
    src = bundled_fmnist_path()
    subset = BundledFashionMNIST(src)
    labels = subset.targets.numpy()
    pick = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)]))
    if len(pick) != 10 * per_class:
        raise SystemExit(f"{src} has fewer than {per_class} images of some class")
    t0 = time.perf_counter()
    pack = generate_events(subset.data.numpy()[pick], 0, desc="fmnist-dvs bundled")
    meta = make_meta("test", 0, DVSParams(), [src], note=(
        f"the first {per_class} images of each class (by test-set index) of {src.name}, whose source "
        f"IDX files are {subset.source_files} with sha256 {subset.source_sha256}"))
    write_event_file(out, pack, labels[pick], subset.indices[pick], meta)
    _report(out, pack, time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fmnist-root", default=None, help="folder with the Fashion-MNIST IDX files")
    ap.add_argument("--out", default=None, help="folder for the event files")
    ap.add_argument("--split", nargs="+", choices=("train", "test"), default=["train", "test"])
    ap.add_argument("--seed", type=int, default=0, help="the simulated sensor's threshold mismatch")
    ap.add_argument("--force", action="store_true", help="regenerate existing files")
    ap.add_argument("--bundled", action="store_true", help="make the bundled test subset instead")
    ap.add_argument("--bundled-out", default=str(REPO / "model_zoo" / "data" / BUNDLED_DVS_FILENAME))
    ap.add_argument("--per-class", type=int, default=100)
    args = ap.parse_args(argv)
    if args.bundled:
        make_bundled(Path(args.bundled_out), args.per_class)
        return 0
    for split in args.split:
        make_split(split, args.fmnist_root, args.out, args.seed, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
