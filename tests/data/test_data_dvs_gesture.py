"""DVS128 Gesture from tiny AEDAT 3.1 recordings: per-gesture cuts, labels, splits, archive, errors."""
from __future__ import annotations

import tarfile

import numpy as np
import pytest
from _event_fakes import frames_of, write_aedat3

from mfp_plugin.data import DatasetNotFoundError, DVSGesture, get_dataset
from mfp_plugin.data.dvs_gesture import DVSGESTURE_ARCHIVE_MD5, DVSGESTURE_URL

# user01_led: two polarity packets; the csv cuts [100, 200) -> class 1 and [300, 400) -> class 11
REC1 = [[(50, 5, 5, 1), (100, 0, 0, 1), (150, 127, 3, 0), (199, 64, 127, 1)],
        [(200, 9, 9, 1), (300, 1, 2, 0), (310, 1, 2, 0), (399, 100, 50, 1), (400, 3, 3, 1)]]
CUT1A = [(100, 0, 0, 1), (150, 127, 3, 0), (199, 64, 127, 1)]  # 100 <= t < 200
CUT1B = [(300, 1, 2, 0), (310, 1, 2, 0), (399, 100, 50, 1)]    # 300 <= t < 400
REC2 = [[(10, 7, 8, 1), (20, 7, 8, 1), (30, 9, 10, 0), (40, 11, 12, 1)]]
CUT2 = [(20, 7, 8, 1), (30, 9, 10, 0)]                         # [15, 35) -> class 4


def make_gesture(base):
    d = base / "DvsGesture"
    write_aedat3(d / "user01_led.aedat", REC1)
    write_aedat3(d / "user02_natural.aedat", REC2)
    (d / "user01_led_labels.csv").write_text("class,startTime_usec,endTime_usec\n1,100,200\n11,300,400\n")
    (d / "user02_natural_labels.csv").write_text("class,startTime_usec,endTime_usec\r\n4,15,35\r\n")
    (d / "trials_to_train.txt").write_text("user01_led.aedat\n\n")
    (d / "trials_to_test.txt").write_text("user02_natural.aedat\r\n")
    return base


def test_train_cuts_labels_and_frames(tmp_path):
    root = make_gesture(tmp_path / "g")
    ds = get_dataset("dvsgesture", "train", root, T=2, augment=False)
    assert len(ds) == 2 and ds.targets == [0, 10] and ds.classes[10] == "other_gestures"
    x, y = ds[0]
    assert y == 0 and x.shape == (2, 2, 128, 128)
    # 3 events, T = 2: d = 1 -> [0, 1) and [1, 3); the events at t = 50 and 200 are outside the cut
    assert np.array_equal(x.numpy(), frames_of(CUT1A, [(0, 1), (1, 3)], 128, 128))
    assert x[1, 0, 3, 127] == 1 and x[1, 1, 127, 64] == 1 and x.sum() == 3
    x, y = ds[1]
    assert y == 10 and np.array_equal(x.numpy(), frames_of(CUT1B, [(0, 1), (1, 3)], 128, 128))
    assert x[0, 0, 2, 1] == 1 and x[1, 0, 2, 1] == 1  # the same pixel fires in both frames


def test_test_split_and_cache_layout(tmp_path):
    root = make_gesture(tmp_path / "g")
    ds = get_dataset("dvsgesture", "test", root)  # default T = 16
    assert len(ds) == 1 and ds.targets == [3] and ds[0][0].shape == (16, 2, 128, 128)
    # 2 events, T = 16: both in the last frame (SpikingJelly's rule)
    assert np.array_equal(ds[0][0].numpy()[15], frames_of(CUT2, [(0, 2)], 128, 128)[0])
    assert ds[0][0][:15].sum() == 0
    assert (root / "frames_T16_number" / "DvsGesture" / "user02_natural_0.npz").is_file()
    t = get_dataset("dvsgesture", "test", root, T=2, split_by="time")  # dt = 5: [20, 25) and the rest
    assert np.array_equal(t[0][0].numpy(), frames_of(CUT2, [(0, 1), (1, 2)], 128, 128))


def test_archive_is_extracted(tmp_path):
    src = make_gesture(tmp_path / "src")
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / "DvsGesture.tar.gz", "w:gz") as tf:
        tf.add(src / "DvsGesture", arcname="DvsGesture")
    ds = DVSGesture(root, "test", T=2, progress=False)
    assert (root / "DvsGesture" / "user02_natural.aedat").is_file() and ds.targets == [3]


def test_missing_and_bad_data(tmp_path):
    with pytest.raises(DatasetNotFoundError) as ei:
        get_dataset("dvsgesture", "train", tmp_path / "none")
    msg = str(ei.value)
    for needle in (DVSGESTURE_URL, "DvsGesture.tar.gz", DVSGESTURE_ARCHIVE_MD5, "trials_to_train.txt",
                   "userNN_<lighting>_labels.csv", str(tmp_path / "none")):
        assert needle in msg, needle
    with pytest.raises(DatasetNotFoundError, match="cannot be downloaded by a script"):
        get_dataset("dvsgesture", "train", tmp_path / "none", download=True)
    root = make_gesture(tmp_path / "g")
    (root / "DvsGesture" / "user02_natural_labels.csv").unlink()
    with pytest.raises(DatasetNotFoundError, match="user02_natural_labels.csv"):
        get_dataset("dvsgesture", "test", root)
    (root / "DvsGesture" / "user01_led_labels.csv").write_text("class,startTime_usec,endTime_usec\n12,1,2\n")
    with pytest.raises(ValueError, match="classes must be 1..11"):
        get_dataset("dvsgesture", "train", root)


def test_url_and_md5_agree_with_spikingjelly():
    from spikingjelly.datasets.dvs128_gesture import DVS128Gesture as SJ
    (name, url, md5), = [r for r in SJ.resource_url_md5() if r[0] == "DvsGesture.tar.gz"]
    assert (url, md5) == (DVSGESTURE_URL, DVSGESTURE_ARCHIVE_MD5)


def test_reader_is_spikingjellys_and_skips_special_packets(tmp_path):
    from spikingjelly.datasets import load_aedat_v3

    from mfp_plugin.data.event_readers import read_aedat3
    path = write_aedat3(tmp_path / "r.aedat", REC1)
    ev = read_aedat3(path)
    flat = [e for packet in REC1 for e in packet]
    assert ev["t"].tolist() == [e[0] for e in flat] and ev["x"].tolist() == [e[1] for e in flat]
    assert ev["y"].tolist() == [e[2] for e in flat] and ev["p"].tolist() == [e[3] for e in flat]
    assert np.array_equal(load_aedat_v3(str(path))["t"], ev["t"])
    (tmp_path / "bad.aedat").write_bytes(b"#!AER-DAT2.0\r\n")
    with pytest.raises(ValueError, match="not an AEDAT 3"):
        read_aedat3(tmp_path / "bad.aedat")
