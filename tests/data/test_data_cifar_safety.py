"""CIFAR folders: no file is unpickled unless it matches torchvision's published md5; clear errors otherwise."""
from __future__ import annotations

import pickle
import urllib.error
import urllib.request

import pytest
import torchvision.datasets as tvd
from _data_fakes import malicious_pickle, write_malicious_cifar

from mfp_plugin.data import CIFAR10, get_dataset


def test_malicious_payload_is_live(tmp_path):
    # The fake below is only a meaningful test if unpickling it really runs code.
    marker = tmp_path / "ran"
    pickle.loads(malicious_pickle(marker))
    assert marker.exists()


@pytest.mark.parametrize("name,tv_cls,split", [
    ("cifar10", tvd.CIFAR10, "test"), ("cifar10", tvd.CIFAR10, "train"),
    ("cifar100", tvd.CIFAR100, "train"),
])
def test_unverified_pickle_is_never_unpickled(tmp_path, name, tv_cls, split):
    marker = tmp_path / "PWNED"
    folder = write_malicious_cifar(tmp_path / "data", tv_cls, marker)
    first, expected = (tv_cls.train_list if split == "train" else tv_cls.test_list)[0]
    with pytest.raises(ValueError) as ei:
        get_dataset(name, split, root=tmp_path / "data")
    assert not marker.exists(), "a pickle from the folder was executed"
    msg = str(ei.value)
    assert str(folder / first) in msg and expected in msg and "md5" in msg


def test_metadata_pickle_is_verified_too(tmp_path, monkeypatch):
    marker = tmp_path / "PWNED"
    folder = write_malicious_cifar(tmp_path / "data", tvd.CIFAR10, marker)
    # Trust the (malicious) batch file, so that only the metadata file's check stands in the way.
    from mfp_plugin.data.verified_pickle import file_md5
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", file_md5(folder / "test_batch")]])
    with pytest.raises(ValueError, match=tvd.CIFAR10.meta["md5"]) as ei:
        get_dataset("cifar10", "test", root=tmp_path / "data")
    assert str(folder / "batches.meta") in str(ei.value)
    assert not marker.exists()


def test_file_swapped_after_the_check_is_refused(tmp_path):
    from mfp_plugin.data.verified_pickle import load_verified_pickle
    marker = tmp_path / "PWNED"
    path = tmp_path / "batch"
    path.write_bytes(malicious_pickle(marker))
    with pytest.raises(ValueError, match="0" * 32):
        load_verified_pickle(path, "0" * 32)
    assert not marker.exists()


def test_md5_check_cannot_be_switched_off(tmp_path):
    marker = tmp_path / "PWNED"
    write_malicious_cifar(tmp_path / "data", tvd.CIFAR10, marker)
    with pytest.raises(ValueError, match="verify_md5=False is not supported"):
        get_dataset("cifar10", "test", root=tmp_path / "data", verify_md5=False)
    with pytest.raises(ValueError, match="verify_md5=False is not supported"):
        CIFAR10(tmp_path / "data", train=False, verify_md5=False)
    assert not marker.exists()


def test_missing_root_names_root_layout_and_url(tmp_path):
    root = tmp_path / "nonexistent"
    with pytest.raises(FileNotFoundError) as ei:
        get_dataset("cifar10", "test", root=root)
    msg = str(ei.value)
    for needle in (str(root), "does not exist", "cifar-10-batches-py", "test_batch", "batches.meta",
                   tvd.CIFAR10.url, "--download"):
        assert needle in msg, needle


def test_train_split_missing_from_a_test_only_folder(tmp_path, monkeypatch):
    from mfp_plugin.data.verified_pickle import file_md5
    folder = tmp_path / "c10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": b"", "labels": []}))
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", file_md5(folder / "test_batch")]])
    with pytest.raises(FileNotFoundError) as ei:
        get_dataset("cifar10", "train", root=tmp_path / "c10")
    msg = str(ei.value)
    assert "train split" in msg and str(folder / "data_batch_1") in msg and str(tmp_path / "c10") in msg
    # Pointing at the batches folder itself gets a hint to use its parent.
    with pytest.raises(FileNotFoundError, match="try root="):
        get_dataset("cifar10", "train", root=folder)


def test_offline_download_names_url_and_manual_placement(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = tmp_path / "dl"
    with pytest.raises(FileNotFoundError) as ei:
        get_dataset("cifar100", "test", root=root, download=True)
    msg = str(ei.value)
    for needle in (tvd.CIFAR100.url, "offline", str(root), "cifar-100-python", "extract"):
        assert needle in msg, needle
    assert isinstance(ei.value.__cause__, urllib.error.URLError)


def test_dataset_downloads_run_under_the_download_timeout(tmp_path, monkeypatch):
    """torchvision's downloader takes no timeout: it must run with the socket default set to ours."""
    import socket

    import torchvision.datasets.utils as tvu

    from mfp_plugin.data import get_dataset

    seen = []

    def fake_download(*args, **kwargs):
        seen.append(socket.getdefaulttimeout())
        raise OSError("offline")

    monkeypatch.setenv("MFP_DOWNLOAD_TIMEOUT", "3.5")
    monkeypatch.setattr(tvu, "download_and_extract_archive", fake_download)
    with pytest.raises(FileNotFoundError):
        get_dataset("cifar10", "test", root=str(tmp_path), download=True)
    assert seen == [3.5] and socket.getdefaulttimeout() is None
