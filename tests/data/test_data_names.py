"""Dataset names resolve in one place; ImageFolder states the root layout it needs."""
from __future__ import annotations

import pytest

from mfp_plugin.data import DATASETS, canonical_name, dataset_info, get_dataset


@pytest.mark.parametrize("alias,name", [
    ("fmnist", "fmnist"), ("Fashion-MNIST", "fmnist"), (" fashion_mnist ", "fmnist"),
    ("bundled", "fmnist-bundled"), ("CIFAR-10", "cifar10"), ("cifar_100", "cifar100"),
    ("image-folder", "imagefolder"),
])
def test_aliases(alias, name):
    assert canonical_name(alias) == name
    assert canonical_name(alias, strict=False) == name
    assert dataset_info(alias)["name"] == name


def test_unknown_name_lists_valid_names_and_close_matches():
    with pytest.raises(ValueError) as ei:
        canonical_name("fmnistt")
    msg = str(ei.value)
    assert "'fmnistt'" in msg and "Did you mean 'fmnist'" in msg
    for name in DATASETS:
        assert name in msg
    with pytest.raises(ValueError, match="unknown dataset 'cifar'.*Did you mean 'cifar10' or 'cifar100'"):
        get_dataset("cifar")


def test_non_strict_passes_unknown_names_through_lowercased():
    assert canonical_name("Fashion-MNIST", strict=False) == "fmnist"
    assert canonical_name("ImageNet-1k", strict=False) == "imagenet-1k"
    with pytest.raises(TypeError, match="str"):
        canonical_name(None, strict=False)


def test_imagefolder_without_root_says_what_root_needs():
    with pytest.raises(ValueError, match=r"needs a root.*--data-root.*train/ and val/ \(or test/"):
        get_dataset("imagefolder", "train")


def test_imagefolder_missing_split_folder_is_not_read_as_a_class(tmp_path):
    from PIL import Image
    (tmp_path / "train" / "cat").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "cat" / "0.png")
    assert get_dataset("imagefolder", "train", tmp_path).classes == ["cat"]
    with pytest.raises(FileNotFoundError) as ei:
        get_dataset("imagefolder", "test", tmp_path)
    msg = str(ei.value)
    assert str(tmp_path) in msg and "val/" in msg and "test split" in msg
