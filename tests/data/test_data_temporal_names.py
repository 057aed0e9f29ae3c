"""The temporal dataset names: listed with their shapes and T, aliases, arguments refused where void."""
from __future__ import annotations

import pytest

from mfp_plugin.data import DATASETS, canonical_name, dataset_info, get_dataset, item_shape

NEW = {  # name: (num_classes, input_size, T, kind)
    "fmnist-seq": (10, (28,), 28, "sequence"), "fmnist-seq-bundled": (10, (28,), 28, "sequence"),
    "nmnist": (10, (2, 34, 34), 10, "events"), "fmnist-dvs": (10, (2, 34, 34), 10, "events"),
    "fmnist-dvs-bundled": (10, (2, 34, 34), 10, "events"),
    "cifar10dvs": (10, (2, 128, 128), 10, "events"), "dvsgesture": (11, (2, 128, 128), 16, "events"),
}


@pytest.mark.parametrize("name", sorted(NEW))
def test_listed_with_classes_shape_and_T(name):
    info = dataset_info(name)
    assert (info["num_classes"], info["input_size"], info["T"], info["kind"]) == NEW[name]
    if info["kind"] == "events":
        assert info["split_by"] == "number" and info["mean"] is None
        assert item_shape(name) == (info["T"], *info["input_size"])
    else:
        assert item_shape(name) == (28, 28)


def test_static_datasets_say_they_have_no_T():
    for name in ("fmnist", "fmnist-bundled", "cifar10", "cifar100", "imagefolder"):
        assert DATASETS[name]["T"] is None and DATASETS[name]["kind"] == "image"
    assert item_shape("cifar10") == (3, 32, 32) and item_shape("nmnist", T=4) == (4, 2, 34, 34)


@pytest.mark.parametrize("alias,name", [
    ("N-MNIST", "nmnist"), ("n_mnist", "nmnist"), ("CIFAR10-DVS", "cifar10dvs"), ("cifar-10-dvs", "cifar10dvs"),
    ("DVS128-Gesture", "dvsgesture"), ("dvs_gesture", "dvsgesture"), ("fmnist_dvs", "fmnist-dvs"),
    ("Sequential-FMNIST", "fmnist-seq"), ("fmnist_seq_bundled", "fmnist-seq-bundled"),
])
def test_aliases(alias, name):
    assert canonical_name(alias) == name


def test_close_matches_still_point_at_cifar():
    with pytest.raises(ValueError, match="Did you mean 'cifar10' or 'cifar100'"):
        canonical_name("cifar")
    with pytest.raises(ValueError, match="Did you mean 'nmnist'"):
        canonical_name("nmnsit")


@pytest.mark.parametrize("kw", [dict(T=4), dict(split_by="number"), dict(cache_root="/tmp/x")])
def test_temporal_arguments_are_refused_for_static_images(kw):
    with pytest.raises(ValueError, match="temporal datasets"):
        get_dataset("fmnist-bundled", **kw)


def test_event_arguments_checked():
    with pytest.raises(ValueError, match="'number' or 'time'"):
        get_dataset("fmnist-dvs-bundled", split_by="events")
    with pytest.raises(ValueError, match=">= 1"):
        get_dataset("fmnist-dvs-bundled", T=0)
    with pytest.raises(ValueError, match=r"\(2, 34, 34\) per step"):
        get_dataset("fmnist-dvs-bundled", input_size=(1, 28, 28))
    with pytest.raises(ValueError, match="cache_root applies to nmnist"):
        get_dataset("fmnist-dvs-bundled", cache_root="/tmp/x")
