"""The dataset names, their aliases and defaults: the one place a dataset name is resolved.

>>> canonical_name("Fashion-MNIST")
'fmnist'
>>> canonical_name("fashion-mnist", strict=False), canonical_name("My-Set", strict=False)
('fmnist', 'my-set')
>>> dataset_info("cifar-10")["num_classes"]
10
>>> info = dataset_info("N-MNIST")
>>> info["name"], info["T"], info["input_size"], info["kind"]
('nmnist', 10, (2, 34, 34), 'events')
"""
from __future__ import annotations

import difflib

from .cifar import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD
from .fashion_mnist import FMNIST_MEAN, FMNIST_STD

__all__ = ["DATASETS", "ALIASES", "canonical_name", "dataset_info", "item_shape"]

#: name -> defaults: ``num_classes``; ``input_size``: one time step's shape (C, H, W) or (F,);
#: ``T``: time steps of an item (``None``: static images, the model repeats them);
#: ``kind``: "image" (item [C, H, W]), "sequence" (item [T, F]) or "events" (item [T, 2, H, W],
#: event counts, default ``split_by``); ``mean``/``std`` (``None``: counts, not normalised); ``splits``.
DATASETS = {
    "fmnist": dict(num_classes=10, input_size=(1, 28, 28), mean=FMNIST_MEAN, std=FMNIST_STD,
                   splits=("train", "test"), T=None, kind="image"),
    "fmnist-bundled": dict(num_classes=10, input_size=(1, 28, 28), mean=FMNIST_MEAN, std=FMNIST_STD,
                           splits=("test",), T=None, kind="image"),
    "cifar10": dict(num_classes=10, input_size=(3, 32, 32), mean=CIFAR10_MEAN, std=CIFAR10_STD,
                    splits=("train", "test"), T=None, kind="image"),
    "cifar100": dict(num_classes=100, input_size=(3, 32, 32), mean=CIFAR100_MEAN, std=CIFAR100_STD,
                     splits=("train", "test"), T=None, kind="image"),
    "imagefolder": dict(num_classes=None, input_size=(3, 224, 224), mean=(0.485, 0.456, 0.406),
                        std=(0.229, 0.224, 0.225), splits=("train", "test", "val"), T=None, kind="image"),
    "fmnist-seq": dict(num_classes=10, input_size=(28,), mean=FMNIST_MEAN, std=FMNIST_STD,
                       splits=("train", "test"), T=28, kind="sequence"),
    "fmnist-seq-bundled": dict(num_classes=10, input_size=(28,), mean=FMNIST_MEAN, std=FMNIST_STD,
                               splits=("test",), T=28, kind="sequence"),
    "nmnist": dict(num_classes=10, input_size=(2, 34, 34), mean=None, std=None,
                   splits=("train", "test"), T=10, kind="events", split_by="number"),
    "fmnist-dvs": dict(num_classes=10, input_size=(2, 34, 34), mean=None, std=None,
                       splits=("train", "test"), T=10, kind="events", split_by="number"),
    "fmnist-dvs-bundled": dict(num_classes=10, input_size=(2, 34, 34), mean=None, std=None,
                               splits=("test",), T=10, kind="events", split_by="number"),
    "cifar10dvs": dict(num_classes=10, input_size=(2, 128, 128), mean=None, std=None,
                       splits=("train", "test"), T=10, kind="events", split_by="number"),
    "dvsgesture": dict(num_classes=11, input_size=(2, 128, 128), mean=None, std=None,
                       splits=("train", "test"), T=16, kind="events", split_by="number"),
}
#: other spellings (lower case) -> canonical name
ALIASES = {
    "fashion-mnist": "fmnist", "fashion_mnist": "fmnist", "fashionmnist": "fmnist",
    "fmnist_bundled": "fmnist-bundled", "fmnist-subset": "fmnist-bundled", "bundled": "fmnist-bundled",
    "cifar-10": "cifar10", "cifar_10": "cifar10", "cifar-100": "cifar100", "cifar_100": "cifar100",
    "image-folder": "imagefolder", "image_folder": "imagefolder", "folder": "imagefolder",
    "fmnist_seq": "fmnist-seq", "sequential-fmnist": "fmnist-seq", "seq-fmnist": "fmnist-seq",
    "fmnist_seq_bundled": "fmnist-seq-bundled",
    "n-mnist": "nmnist", "n_mnist": "nmnist",
    "fmnist_dvs": "fmnist-dvs", "fashion-mnist-dvs": "fmnist-dvs",
    "fmnist_dvs_bundled": "fmnist-dvs-bundled",
    "cifar10-dvs": "cifar10dvs", "cifar10_dvs": "cifar10dvs", "cifar-10-dvs": "cifar10dvs",
    "dvs128-gesture": "dvsgesture", "dvs128_gesture": "dvsgesture", "dvs128gesture": "dvsgesture",
    "dvs-gesture": "dvsgesture", "dvs_gesture": "dvsgesture", "gesture": "dvsgesture",
}


def item_shape(name: str, T=None) -> tuple:
    """The shape of one item's input tensor (``T`` overrides the default of an event dataset).

    >>> item_shape("fmnist"), item_shape("fmnist-seq"), item_shape("nmnist"), item_shape("dvsgesture", T=8)
    ((1, 28, 28), (28, 28), (10, 2, 34, 34), (8, 2, 128, 128))
    """
    info = DATASETS[canonical_name(name)]
    if info["T"] is None:
        return tuple(info["input_size"])
    steps = T if (T is not None and info["kind"] == "events") else info["T"]
    return (int(steps), *info["input_size"])


def canonical_name(name: str, strict: bool = True) -> str:
    """The canonical dataset name for ``name`` or one of its aliases (case and surrounding spaces ignored).

    An unknown name raises ``ValueError`` listing the valid names and the close
    matches; with ``strict=False`` it comes back lower-cased and stripped
    instead (for names read from files, e.g. a checkpoint card's ``"dataset"``,
    that may name a dataset this package does not load).
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}: {name!r}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in DATASETS or not strict:
        return key
    close = difflib.get_close_matches(key, list(DATASETS) + list(ALIASES), n=3, cutoff=0.6)
    close = list(dict.fromkeys(ALIASES.get(c, c) for c in close))  # aliases -> their dataset, once
    hint = f". Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)} "
                     f"(aliases: {', '.join(sorted(ALIASES))}){hint}")


def dataset_info(name: str) -> dict:
    """The defaults of a dataset (``num_classes``, ``input_size``, ``T``, ``kind``, ``mean``, ``std``,
    ``splits``, and ``split_by`` for event data) and its ``name``."""
    key = canonical_name(name)
    return dict(DATASETS[key], name=key)
