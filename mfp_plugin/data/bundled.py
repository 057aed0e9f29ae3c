"""The Fashion-MNIST test subset that ships with the package.

``model_zoo/data/fmnist_test_subset.npz``: 2,000 images of the official
Fashion-MNIST TEST split, 200 per class, drawn with a fixed seed by
``scripts/make_fmnist_subset.py`` (which records the source files' sha256).
It lets ``mfp eval ... --data fmnist-bundled`` run with no download.
Accuracy on it estimates full-test-set accuracy (binomial standard error
about 1 percentage point at 90 %); it is not the full test set.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .fashion_mnist import FMNIST_MEAN, FMNIST_STD, UInt8ImageDataset

__all__ = ["BUNDLED_FILENAME", "bundled_data_path", "bundled_fmnist_path", "BundledFashionMNIST", "load_bundled_fmnist"]

BUNDLED_FILENAME = "fmnist_test_subset.npz"


def bundled_data_path(filename: str, env: Optional[str] = None, rebuild: str = "") -> Path:
    """Locate ``model_zoo/data/<filename>`` (installed or source tree); ``$<env>`` overrides it."""
    candidates = []
    override = os.environ.get(env) if env else None
    if override:
        candidates.append(Path(override))
    spec = importlib.util.find_spec("model_zoo")  # does not import model_zoo
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "data" / filename for p in spec.submodule_search_locations]
    candidates.append(Path(__file__).resolve().parents[2] / "model_zoo" / "data" / filename)
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"The bundled file {filename} is missing; looked at:\n"
        + "\n".join(f"  - {c}" for c in candidates)
        + f"\nReinstall mfp-plugin{', or ' + rebuild if rebuild else ''}.")


def bundled_fmnist_path() -> Path:
    """Locate ``model_zoo/data/fmnist_test_subset.npz`` (installed or source tree)."""
    return bundled_data_path(
        BUNDLED_FILENAME, "MFP_BUNDLED_FMNIST",
        rebuild="rebuild it with `python scripts/make_fmnist_subset.py` (needs the full Fashion-MNIST "
                "test files, e.g. `apt-get install dataset-fashion-mnist`)")


class BundledFashionMNIST(UInt8ImageDataset):
    """The bundled 2,000-image stratified Fashion-MNIST test subset.

    Items are ``(float32 [1,28,28] normalized with mean 0.2860/std 0.3530, int)``
    unless ``normalize=False`` or a ``transform`` is given (see
    :class:`~mfp_plugin.data.fashion_mnist.UInt8ImageDataset`).
    ``self.indices`` are the positions in the official 10,000-image test split;
    ``self.source_sha256`` the sha256 of the IDX files it was cut from.
    """

    def __init__(self, path: Optional[os.PathLike] = None, transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None, *, normalize: bool = True,
                 mean: Sequence[float] = FMNIST_MEAN, std: Sequence[float] = FMNIST_STD,
                 transform_input: str = "tensor"):
        self.path = Path(path) if path is not None else bundled_fmnist_path()
        with np.load(self.path, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
            self.indices = z["indices"].astype(np.int64)
            self.source_files = [str(s) for s in z["source_files"]]
            self.source_sha256 = [str(s) for s in z["source_sha256"]]
            self.seed = int(z["seed"])
            self.per_class = int(z["per_class"])
            self.description = str(z["description"])
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"{self.path}: images must be uint8 [N,28,28], got {images.dtype} {images.shape}")
        if labels.shape[0] != images.shape[0] or self.indices.shape[0] != images.shape[0]:
            raise ValueError(f"{self.path}: images/labels/indices lengths differ")
        super().__init__(images, labels, transform=transform, target_transform=target_transform,
                         normalize=normalize, mean=mean, std=std, transform_input=transform_input)
        self.split = "test"
        self.train = False

    def __repr__(self) -> str:
        return f"BundledFashionMNIST(n={len(self)}, per_class={self.per_class}, seed={self.seed})"


def load_bundled_fmnist(transform: Optional[Callable] = None, **kwargs) -> BundledFashionMNIST:
    """Return the bundled Fashion-MNIST test subset as a Dataset (no download needed)."""
    return BundledFashionMNIST(transform=transform, **kwargs)
