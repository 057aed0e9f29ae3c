"""N-MNIST from tiny ATIS .bin files: frames, labels, splits, cache, archives, missing data."""
from __future__ import annotations

import urllib.error
import zipfile

import numpy as np
import pytest
import torch
from _event_fakes import frames_of, write_atis_bin

from mfp_plugin.data import NMNIST, DatasetNotFoundError, get_dataset
from mfp_plugin.data.nmnist import NMNIST_RESOURCES

# (t_us, x, y, p); t uses all 23 bits, x/y the full 34x34 range
A = [(5, 0, 0, 1), (70_000, 33, 0, 0), (70_001, 33, 0, 0), (8_388_607, 0, 33, 1), (8_388_607, 16, 17, 1)]
B = [(10, 1, 2, 0), (20, 1, 2, 1), (30, 3, 4, 1)]
C = [(0, 7, 7, 1), (1, 8, 8, 1)]


def make_nmnist(root):
    write_atis_bin(root / "Train" / "0" / "00002.bin", A)
    write_atis_bin(root / "Train" / "3" / "00001.bin", B)
    write_atis_bin(root / "Test" / "7" / "00005.bin", C)
    return root


def test_train_items_frames_and_labels(tmp_path):
    root = make_nmnist(tmp_path / "nm")
    ds = get_dataset("nmnist", "train", root, T=2, augment=False)  # train: augment is on by default
    assert len(ds) == 2 and ds.targets == [0, 3]
    x, y = ds[0]
    assert y == 0 and x.shape == (2, 2, 34, 34) and x.dtype == torch.float32
    # A: N = 5, T = 2 -> [0, 2) and [2, 5)
    assert np.array_equal(x.numpy(), frames_of(A, [(0, 2), (2, 5)], 34, 34))
    assert x[1, 1, 33, 0] == 1 and x[0, 0, 0, 33] == 1 and x[1, 0, 0, 33] == 1  # hand-read pixels
    x, y = ds[1]
    assert y == 3 and np.array_equal(x.numpy(), frames_of(B, [(0, 1), (1, 3)], 34, 34))
    test = get_dataset("nmnist", "test", root, T=1)
    assert len(test) == 1 and test[0][1] == 7 and test[0][0].sum() == 2


def test_frames_are_cached_beside_the_data_and_reused(tmp_path):
    root = make_nmnist(tmp_path / "nm")
    ds = get_dataset("nmnist", "train", root, T=2, augment=False)
    cached = root / "frames_T2_number" / "Train" / "0" / "00002.npz"
    assert cached.is_file()
    with np.load(cached) as z:
        assert z["frames"].dtype == np.uint8 and z["frames"].shape == (2, 2, 34, 34)
    assert not list(root.rglob("*.tmp"))
    # the cache is what is read afterwards: raw files are no longer needed
    (root / "Train" / "0" / "00002.bin").write_bytes(b"")
    assert np.array_equal(get_dataset("nmnist", "train", root, T=2, augment=False)[0][0], ds[0][0])
    # another framing is another folder
    t = get_dataset("nmnist", "train", root, T=2, split_by="time", augment=False)
    assert (root / "frames_T2_time" / "Train" / "3" / "00001.npz").is_file()
    # B by time: dt = (30 - 10) // 2 = 10: [10, 20) holds the first event
    assert np.array_equal(t[1][0].numpy(), frames_of(B, [(0, 1), (1, 3)], 34, 34))
    # a cache file of the wrong shape is reported, not reshaped
    from mfp_plugin.data.atomic import atomic_savez
    atomic_savez(cached, frames=np.zeros((3, 2, 34, 34), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(3, 2, 34, 34\), expected \(2, 2, 34, 34\); delete"):
        get_dataset("nmnist", "train", root, T=2)[0]


def test_cache_root_moves_the_cache(tmp_path):
    root = make_nmnist(tmp_path / "nm")
    get_dataset("nmnist", "test", root, T=3, cache_root=tmp_path / "cache")
    assert (tmp_path / "cache" / "frames_T3_number" / "Test" / "7" / "00005.npz").is_file()
    assert not (root / "frames_T3_number").exists()


def test_official_archives_are_extracted_on_first_use(tmp_path):
    src = make_nmnist(tmp_path / "src")
    root = tmp_path / "root"
    root.mkdir()
    for split in ("Train", "Test"):
        with zipfile.ZipFile(root / f"{split}.zip", "w") as zf:
            for f in sorted((src / split).rglob("*.bin")):
                zf.write(f, f.relative_to(src).as_posix())
    ds = NMNIST(root, "train", T=2, progress=False)
    assert (root / "Train" / "3" / "00001.bin").is_file() and ds.targets == [0, 3]
    assert not (root / "Test").exists()  # only the split asked for
    assert np.array_equal(ds[0][0].numpy(), frames_of(A, [(0, 2), (2, 5)], 34, 34))
    assert not [p for p in root.iterdir() if p.name.startswith(".extract")]


def test_missing_data_names_files_url_and_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError) as ei:
        get_dataset("nmnist", "train", tmp_path / "none")
    msg = str(ei.value)
    for needle in (str(tmp_path / "none" / "Train"), "Train.zip", NMNIST_RESOURCES["train"].url,
                   NMNIST_RESOURCES["train"].md5, "root/Train/<digit>/<id>.bin", "download=True",
                   "does not exist"):
        assert needle in msg, needle
    assert isinstance(ei.value, FileNotFoundError)


def test_download_offline_says_what_to_fetch(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tvu

    def offline(*a, **k):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(tvu, "download_url", offline)
    with pytest.raises(DatasetNotFoundError) as ei:
        get_dataset("nmnist", "test", tmp_path / "dl", download=True)
    msg = str(ei.value)
    for needle in ("offline", "Test.zip", NMNIST_RESOURCES["test"].url, "URLError", str(tmp_path / "dl")):
        assert needle in msg, needle


def test_md5s_agree_with_spikingjelly():
    from spikingjelly.datasets.n_mnist import NMNIST as SJ
    ref = {name: md5 for name, _, md5 in SJ.resource_url_md5()}
    assert {r.filename: r.md5 for r in NMNIST_RESOURCES.values()} == ref


def test_bad_input(tmp_path):
    root = make_nmnist(tmp_path / "nm")
    with pytest.raises(ValueError, match="splits 'train' and 'test'"):
        NMNIST(root, "val")
    (root / "Test" / "7" / "00006.bin").write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match=r"00006.bin: 7 bytes is not a whole number"):
        get_dataset("nmnist", "test", root, T=2)
    empty = tmp_path / "empty"
    (empty / "Train").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no samples"):
        get_dataset("nmnist", "train", empty)
    with pytest.raises(ValueError, match="not normalised"):
        get_dataset("nmnist", "train", root, mean=(0.5,), std=(0.5,))


def test_augment_translates_all_frames_alike(tmp_path):
    root = make_nmnist(tmp_path / "nm")
    plain = get_dataset("nmnist", "test", root, T=2)[0][0]  # test: no augmentation by default
    assert np.array_equal(plain.numpy(), frames_of(C, [(0, 1), (1, 2)], 34, 34))
    torch.manual_seed(0)
    shifted = [get_dataset("nmnist", "test", root, T=2, augment=True)[0][0] for _ in range(8)]
    for s in shifted:  # C lies 7 px inside the frame: its events move by at most 2 px, none is lost
        assert s.sum() == plain.sum()
        (dy, dx), = {(int(i) - 7, int(j) - 7) for i, j in zip(*torch.nonzero(s[0, 1], as_tuple=True))}
        assert abs(dy) <= 2 and abs(dx) <= 2 and torch.equal(s, torch.roll(plain, (dy, dx), (-2, -1)))
    assert any(not torch.equal(s, plain) for s in shifted)
