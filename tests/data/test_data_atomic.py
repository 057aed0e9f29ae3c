"""atomic_savez: complete or absent, reproducible bytes, no pickles."""
from __future__ import annotations

import numpy as np
import pytest

from mfp_plugin.data.atomic import atomic_savez


def test_roundtrip_and_reproducible_bytes(tmp_path):
    a = atomic_savez(tmp_path / "x" / "a.npz", frames=np.arange(6, dtype=np.uint8).reshape(2, 3), n=np.int64(3))
    with np.load(a) as z:
        assert z["frames"].tolist() == [[0, 1, 2], [3, 4, 5]] and int(z["n"]) == 3
    b = atomic_savez(tmp_path / "b.npz", frames=np.arange(6, dtype=np.uint8).reshape(2, 3), n=np.int64(3))
    assert a.read_bytes() == b.read_bytes()
    stored = atomic_savez(tmp_path / "c.npz", compress=False, frames=np.zeros(1000, np.uint8))
    assert stored.stat().st_size > 1000 > a.stat().st_size
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.npz", "b.npz", "c.npz"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = atomic_savez(tmp_path / "a.npz", v=np.ones(2))
    before = path.read_bytes()
    with pytest.raises(ValueError):
        atomic_savez(path, v=np.array([object()], dtype=object))  # refused: would need a pickle
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]
