"""CIFAR10-DVS from tiny AEDAT 2.0 files: orientation, the 9:1 per-class split, labels, errors."""
from __future__ import annotations

import numpy as np
import pytest
from _event_fakes import cifar10dvs_address, frames_of, write_aedat2, write_cifar10dvs_file

from mfp_plugin.data import CIFAR10DVS, DatasetNotFoundError, get_dataset
from mfp_plugin.data.cifar10_dvs import CIFAR10DVS_CLASSES, CIFAR10DVS_RESOURCES

CAT = [(0, 10, 20, 1), (5, 127, 0, 0), (9, 0, 127, 1), (12, 10, 20, 1)]


def events_for(cls: str, i: int):
    """Two events that encode the file: x = class index, y = file index."""
    c = CIFAR10DVS_CLASSES.index(cls)
    return [(i, c, i, 1), (i + 1, c, i, 0)]


def make_cifar10dvs(root, n_airplane: int = 11):
    for cls in CIFAR10DVS_CLASSES:
        for i in range(n_airplane if cls == "airplane" else 1):
            write_cifar10dvs_file(root / cls / f"cifar10_{cls}_{i}.aedat", events_for(cls, i))
    write_cifar10dvs_file(root / "cat" / "cifar10_cat_1.aedat", CAT)
    return root


def test_address_orientation_is_spikingjellys(tmp_path):
    from mfp_plugin.data.event_readers import read_cifar10dvs_aedat
    # raw address: x_addr = 5 (bits 1-7), y_addr = 7 (bits 8-14), polarity bit 1
    raw = (7 << 8) | (5 << 1) | 1
    assert cifar10dvs_address(120, 122, 0) == raw
    ev = read_cifar10dvs_aedat(write_aedat2(tmp_path / "one.aedat", [(raw, 42)]))
    # read as x = 127 - y_addr, y = 127 - x_addr, p = 1 - pol
    assert (ev["t"].tolist(), ev["x"].tolist(), ev["y"].tolist(), ev["p"].tolist()) == ([42], [120], [122], [0])


def test_reader_agrees_with_spikingjellys(tmp_path):
    from spikingjelly.datasets import cifar10_dvs

    from mfp_plugin.data.event_readers import read_cifar10dvs_aedat
    sj = getattr(cifar10_dvs, "_load_origin_data", None)
    if sj is None:
        pytest.skip("SpikingJelly 0.0.0.0.14's reader needs NumPy < 2")
    rng = np.random.default_rng(0)
    raw = list(zip(rng.integers(0, 1 << 15, 50).tolist(), np.sort(rng.integers(0, 1 << 31, 50)).tolist()))
    path = write_aedat2(tmp_path / "r.aedat", raw)
    ours, ref = read_cifar10dvs_aedat(path), sj(str(path))
    for k in "txyp":
        assert np.array_equal(ours[k], ref[k]), k
    (tmp_path / "odd.aedat").write_bytes(b"#!AER-DAT2.0\r\n" + b"\x00" * 12)
    with pytest.raises(ValueError, match="12 bytes after the header"):
        read_cifar10dvs_aedat(tmp_path / "odd.aedat")


def test_split_is_the_first_tenth_by_index_per_class(tmp_path):
    root = make_cifar10dvs(tmp_path / "c")
    test = get_dataset("cifar10dvs", "test", root, T=2)
    train = get_dataset("cifar10dvs", "train", root, T=2, augment=False)
    # airplane: 11 files -> ceil(1.1) = 2 test (i = 0, 1), 9 train; cat: 2 files -> 1 and 1; others 1 -> 1 and 0
    assert len(test) == 11 and len(train) == 10
    assert test.targets == [0, 0] + list(range(1, 10))
    assert train.targets == [0] * 9 + [3]
    # the file index is the event's y, the class its x: check every item came from the right file
    got = [(int(x.nonzero()[0, 3]), int(x.nonzero()[0, 2])) for x, _ in test]
    assert got == [(0, 0), (0, 1)] + [(c, 0) for c in range(1, 10)]
    got = [(int(x.nonzero()[0, 3]), int(x.nonzero()[0, 2])) for x, _ in list(train)[:9]]
    assert got == [(0, i) for i in range(2, 11)]
    x, y = train[9]  # cifar10_cat_1: N = 4, T = 2 -> [0, 2), [2, 4)
    assert y == 3 and np.array_equal(x.numpy(), frames_of(CAT, [(0, 2), (2, 4)], 128, 128))
    assert x[0, 0, 0, 127] == 1 and x[1, 1, 127, 0] == 1 and x[:, 1, 20, 10].tolist() == [1, 1]
    assert (root / "frames_T2_number" / "cat" / "cifar10_cat_1.npz").is_file()


def test_split_matches_tebn_on_the_official_numbering():
    from mfp_plugin.data.cifar10_dvs import cifar10dvs_split_indices
    assert cifar10dvs_split_indices(range(1000), "test") == list(range(100))
    assert cifar10dvs_split_indices(range(1000), "train") == list(range(100, 1000))


def test_missing_class_folder_names_its_archive_and_url(tmp_path):
    root = make_cifar10dvs(tmp_path / "c")
    import shutil
    shutil.rmtree(root / "truck")
    with pytest.raises(DatasetNotFoundError) as ei:
        get_dataset("cifar10dvs", "train", root)
    msg = str(ei.value)
    for needle in (str(root / "truck"), "truck.zip", CIFAR10DVS_RESOURCES["truck"].url,
                   "root/<class>/cifar10_<class>_<i>.aedat", "download=True"):
        assert needle in msg, needle
    assert "airplane.zip" not in msg


def test_bad_file_name_and_split(tmp_path):
    root = make_cifar10dvs(tmp_path / "c")
    write_cifar10dvs_file(root / "dog" / "dog_7.aedat", CAT)
    with pytest.raises(ValueError, match="cifar10_dog_<i>.aedat"):
        get_dataset("cifar10dvs", "test", root)
    with pytest.raises(ValueError, match="splits 'train' and 'test'"):
        CIFAR10DVS(root, "all")


def test_resources_agree_with_spikingjelly():
    from spikingjelly.datasets.cifar10_dvs import CIFAR10DVS as SJ
    ref = {name: (url, md5) for name, url, md5 in SJ.resource_url_md5()}
    assert {r.filename: (r.url, r.md5) for r in CIFAR10DVS_RESOURCES.values()} == ref
