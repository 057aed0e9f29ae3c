#!/usr/bin/env python
"""Build the bundled Fashion-MNIST test subset ``model_zoo/data/fmnist_test_subset.npz``.

A stratified, seeded sample of the official Fashion-MNIST TEST split
(``t10k-*``): ``--per-class`` images of each of the 10 classes (default 200,
2,000 in all), drawn with ``numpy.random.default_rng(--seed)`` (default 0).
Within each class the chosen original indices are sorted, and the classes are
concatenated then ordered by original index, so the file is reproducible.

Stored arrays (a deflate-compressed ``.npz``, byte-reproducible):
  images   uint8  [N, 28, 28]   raw pixels, exactly as in the IDX file
  labels   uint8  [N]
  indices  int32  [N]           position in the 10,000-image test split
  source_files, source_sha256   str [2]  IDX file names and their sha256
  seed, per_class               int64 scalars
  description                   str scalar

Usage:  python scripts/make_fmnist_subset.py [--root DIR] [--out PATH]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfp_plugin.data.fashion_mnist import load_fashion_mnist_arrays  # noqa: E402
from model_zoo import sha256_file  # noqa: E402


def save_npz_deterministic(path: Path, **arrays) -> None:
    """Like ``np.savez_compressed`` but byte-reproducible (fixed zip timestamps, fixed order)."""
    import io
    import zipfile

    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    tmp.replace(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=None, help="folder with the IDX files "
                    "(default: /usr/share/datasets/fashion-mnist, then $MFP_DATA)")
    ap.add_argument("--out", default=str(REPO / "model_zoo" / "data" / "fmnist_test_subset.npz"))
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    images, labels, (img_path, lbl_path) = load_fashion_mnist_arrays(args.root, train=False, strict_size=True)
    rng = np.random.default_rng(args.seed)
    chosen = []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        if len(idx) < args.per_class:
            raise SystemExit(f"class {c} has only {len(idx)} test images")
        chosen.append(np.sort(rng.choice(idx, size=args.per_class, replace=False)))
    indices = np.sort(np.concatenate(chosen)).astype(np.int32)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_npz_deterministic(
        out,
        images=images[indices].astype(np.uint8),
        labels=labels[indices].astype(np.uint8),
        indices=indices,
        source_files=np.array([img_path.name, lbl_path.name]),
        source_sha256=np.array([sha256_file(img_path), sha256_file(lbl_path)]),
        seed=np.int64(args.seed),
        per_class=np.int64(args.per_class),
        description=np.array(
            f"Stratified seeded subset of the Fashion-MNIST test split: {args.per_class} images "
            f"per class x 10 classes, numpy default_rng({args.seed}); made by "
            "scripts/make_fmnist_subset.py. Fashion-MNIST (c) Zalando SE, MIT license."),
    )
    digest = sha256_file(out)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(indices)} images) sha256={digest}")
    print(f"sources: {img_path} {lbl_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
