"""A root the user names is the root used: never silently replaced by the system copy or $MFP_DATA."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from _data_fakes import write_fmnist_split

from mfp_plugin.data import FashionMNIST, find_fashion_mnist_files, get_dataset
from mfp_plugin.data import fashion_mnist as fm


@pytest.fixture
def system_copy(monkeypatch, tmp_path):
    """A full fake system copy (40 train / 20 test images) and a full fake $MFP_DATA (30 / 10)."""
    system = tmp_path / "system"
    write_fmnist_split(system, "train", 40)
    write_fmnist_split(system, "t10k", 20)
    env = tmp_path / "env"
    write_fmnist_split(env, "train", 30)
    write_fmnist_split(env, "t10k", 10)
    monkeypatch.setattr(fm, "SYSTEM_DIR", system)
    monkeypatch.setenv("MFP_DATA", str(env))
    return system


def test_nonexistent_root_is_an_error_not_the_system_copy(tmp_path, system_copy):
    root = tmp_path / "nonexistent"
    for build in (lambda: FashionMNIST(root, train=False),
                  lambda: get_dataset("fmnist", "test", root)):
        with pytest.raises(FileNotFoundError) as ei:
            build()
        msg = str(ei.value)
        for needle in (f"root={root}", "does not exist", "t10k-images-idx3-ubyte.gz",
                       "t10k-labels-idx1-ubyte.gz", str(root / "FashionMNIST" / "raw"), "--download",
                       "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz"):
            assert needle in msg, needle
        assert str(system_copy) not in msg.split("default search")[0]  # not looked at
    assert find_fashion_mnist_files(root, train=False) is None


def test_test_only_root_does_not_borrow_the_train_split(tmp_path, system_copy):
    root = write_fmnist_split(tmp_path / "only-test", "t10k", 8)
    assert len(get_dataset("fmnist", "test", root)) == 8
    with pytest.raises(FileNotFoundError) as ei:
        get_dataset("fmnist", "train", root)
    msg = str(ei.value)
    assert "train split" in msg and "train-images-idx3-ubyte.gz" in msg and f"root={root}" in msg
    assert f"Found there: {root / 't10k-images-idx3-ubyte.gz'}" in msg


def test_default_search_is_unchanged(tmp_path, system_copy, monkeypatch):
    assert len(FashionMNIST(train=True)) == 40          # the system copy first
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "no-system")
    assert len(FashionMNIST(train=True)) == 30          # then $MFP_DATA
    monkeypatch.delenv("MFP_DATA")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        FashionMNIST(train=True)


def test_download_url_is_torchvisions_mirror():
    import torchvision.datasets as tvd
    assert fm.FMNIST_URL in tvd.FashionMNIST.mirrors


def test_offline_download_names_url_and_manual_placement(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "no-system")
    monkeypatch.delenv("MFP_DATA", raising=False)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = tmp_path / "dl"
    with pytest.raises(FileNotFoundError) as ei:
        get_dataset("fmnist", "train", root, download=True)
    msg = str(ei.value)
    for needle in ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", "offline",
                   "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "by hand",
                   str(root / "FashionMNIST" / "raw")):
        assert needle in msg, needle
