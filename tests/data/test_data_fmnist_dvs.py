"""fmnist-dvs: generation from IDX files, the cached event file, framing, the bundled subset."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _data_fakes import write_fmnist_split

from mfp_plugin.data import DatasetNotFoundError, FashionMNISTDVS, bundled_fmnist_dvs, get_dataset
from mfp_plugin.data import fashion_mnist as fm
from mfp_plugin.data.bundled import BundledFashionMNIST
from mfp_plugin.data.dvs_sim import runs_to_events, simulate_saccades
from mfp_plugin.data.framing import events_to_frames
from mfp_plugin.data.fmnist_dvs import bundled_fmnist_dvs_path, fmnist_dvs_path, generate_events


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "no-system-dir")
    monkeypatch.delenv("MFP_DATA", raising=False)


def test_generated_from_idx_files_cached_and_framed(tmp_path, no_system_data):
    root = write_fmnist_split(tmp_path / "r", "t10k", 3, seed=4)
    ds = get_dataset("fmnist-dvs", "test", root, T=4)
    path = fmnist_dvs_path(root, "test")
    assert path == root / "fmnist_dvs_test_seed0.npz" and path.is_file()
    assert len(ds) == 3 and ds.targets == [0, 1, 2] and ds.indices.tolist() == [0, 1, 2]
    images = fm.load_fashion_mnist_arrays(root, "test")[0]
    runs = simulate_saccades(images, seed=0)
    for i in range(3):
        m = runs[0] == i
        ref = runs_to_events(*(a[m] for a in runs[1:]))
        ev = ds.events(i)
        assert all(np.array_equal(ev[k], ref[k]) for k in "txyp")
        x, y = ds[i]
        assert y == i and x.shape == (4, 2, 34, 34) and x.dtype == torch.float32
        assert np.array_equal(x.numpy(), events_to_frames(ref, 4, 34, 34))
        assert x.sum() == ref["t"].size
    meta = ds.meta
    assert meta["seed"] == 0 and meta["params"]["threshold"] == 0.5 and meta["split"] == "test"
    assert meta["source_files"] == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    # the file is reused, not regenerated
    stamp = path.stat().st_mtime_ns
    t = get_dataset("fmnist-dvs", "test", root, split_by="time")
    assert path.stat().st_mtime_ns == stamp and t.T == 10
    assert np.array_equal(t[1][0].numpy(), events_to_frames(ds.events(1), 10, 34, 34, "time"))


def test_missing_source_says_how_to_generate(tmp_path, no_system_data):
    with pytest.raises(DatasetNotFoundError) as ei:
        get_dataset("fmnist-dvs", "train", tmp_path / "empty")
    msg = str(ei.value)
    for needle in ("fmnist_dvs_train_seed0.npz", "scripts/make_fmnist_dvs.py", "fmnist-dvs-bundled",
                   "--download", str(tmp_path / "empty")):
        assert needle in msg, needle


def test_a_file_from_another_simulation_is_refused(tmp_path):
    from mfp_plugin.data.fmnist_dvs import make_meta, write_event_file
    from mfp_plugin.data.dvs_sim import DVSParams
    pack = generate_events(np.zeros((1, 28, 28), dtype=np.uint8), progress=False)
    meta = make_meta("test", 0, DVSParams(), [])
    meta["params"]["version"] = "fmnist-dvs-0"
    path = write_event_file(tmp_path / "old.npz", pack, [0], [0], meta)
    with pytest.raises(ValueError, match="simulation 'fmnist-dvs-0'.*generate it again"):
        FashionMNISTDVS(path)
    meta["params"]["version"] = DVSParams().version
    path = write_event_file(tmp_path / "s1.npz", pack, [0], [0], dict(meta, seed=1))
    with pytest.raises(ValueError, match="seed 1, expected 0"):
        FashionMNISTDVS(path, expect_seed=0)


def test_bundled_subset_is_the_documented_simulation():
    ds = bundled_fmnist_dvs()
    assert len(ds) == 1000 and np.bincount(ds.targets).tolist() == [100] * 10
    assert ds.meta["seed"] == 0 and ds.meta["split"] == "test"
    base = BundledFashionMNIST()
    pos = {int(v): k for k, v in enumerate(base.indices)}
    for c in range(10):  # the first 100 of each class of the bundled fmnist subset, by test index
        want = [int(i) for i, lbl in zip(base.indices, base.targets) if lbl == c][:100]
        assert [int(i) for i, lbl in zip(ds.indices, ds.targets) if lbl == c] == want
    # three of its images simulated again give exactly the stored events
    picks = [0, 500, 999]
    images = base.data.numpy()[[pos[int(ds.indices[i])] for i in picks]]
    again = generate_events(images, seed=0, progress=False)
    for j, i in enumerate(picks):
        a, b = again.events(j), ds.events(i)
        assert all(np.array_equal(a[k], b[k]) for k in "txyp")
    x, y = get_dataset("fmnist-dvs-bundled")[0]
    assert x.shape == (10, 2, 34, 34) and y == ds.targets[0] and x.sum() == ds.pack.num_events(0)
    assert 2000 < np.diff(ds.pack.offsets).mean() < 3500
    assert bundled_fmnist_dvs_path().stat().st_size < 3_000_000


def test_bundled_has_only_the_test_split():
    with pytest.raises(ValueError, match="train on 'fmnist-dvs'"):
        get_dataset("fmnist-dvs-bundled", "train")


def test_t_comes_from_a_matching_model_cfg():
    cfg = {"dataset": "fmnist-dvs-bundled", "T": 6, "mean": [0.286], "std": [0.353]}
    assert get_dataset("fmnist-dvs-bundled", cfg=cfg)[0][0].shape == (6, 2, 34, 34)
    other = {"dataset": "fashion_mnist", "T": 4}  # a model trained on another dataset: its T is not the data's
    assert get_dataset("fmnist-dvs-bundled", cfg=other).T == 10
    assert get_dataset("fmnist-dvs-bundled", cfg=cfg, T=3).T == 3  # explicit T wins
    meta = json.loads(str(np.load(bundled_fmnist_dvs_path())["meta"]))
    assert meta["dataset"] == "fmnist-dvs"
