"""The engine's file handling: atomic writes, the run-folder lock, checkpoints that name the file when bad."""
from __future__ import annotations

import errno
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mfp_plugin.engine import RunDir, atomic_write_bytes, check_safetensors, load_torch, read_checkpoint, save_weights
from mfp_plugin.atomic_io import is_temp_name, new_file_mode

REPO = Path(__file__).resolve().parents[2]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    atomic_write_bytes(target, b"old")
    for failure in (OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()):
        def write(fd, data, failure=failure):
            raise failure
        with monkeypatch.context() as m:
            m.setattr(os, "write", write)
            with pytest.raises(type(failure)) as info:
                atomic_write_bytes(target, b"new" * 100)
        assert target.read_bytes() == b"old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    assert info.type is KeyboardInterrupt


def test_disk_full_names_the_target_file(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError) as info:
        atomic_write_bytes(tmp_path / "curves.png", b"x")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "curves.png")


def test_new_files_follow_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic_write_bytes(tmp_path / "a", b"1")
        save_weights(torch.nn.Linear(2, 2), tmp_path / "w.safetensors")
        assert new_file_mode() == 0o600
    finally:
        os.umask(old)
    atomic_write_bytes(tmp_path / "b", b"1")
    save_weights(torch.nn.Linear(2, 2), tmp_path / "v.safetensors")
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"a": 0o600, "w.safetensors": 0o600, "b": 0o666 & ~old, "v.safetensors": 0o666 & ~old}


def test_temp_names_are_only_ours():
    assert is_temp_name(".last.pt.tmp123") and is_temp_name(".best.safetensors.a1b_x9zz.tmp")
    for name in ("last.pt", ".bashrc", "notes.tmp", ".last.pt.tmp", "x.tmp123", ".log.csv.ab.tmp"):
        assert not is_temp_name(name), name


def test_the_run_folder_lock_is_exclusive_across_processes_and_released(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from mfp_plugin.engine import RunDir; "
         "run = RunDir(sys.argv[1]).acquire(); print('locked', flush=True); sys.stdin.readline()", str(tmp_path)],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BlockingIOError, match="in use"):
            RunDir(tmp_path).acquire()
    finally:
        holder.communicate("\n", timeout=60)  # the holder exits: the kernel drops its lock
    run = RunDir(tmp_path).acquire()
    assert run.locked and run.acquire() is run  # idempotent within the owner
    run.release()


def test_clear_deletes_only_run_files(tmp_path):
    for name in ("last.pt", "log.csv", "notes.txt", ".best.safetensors.ab12cd34.tmp", ".notes.txt.tmp99"):
        (tmp_path / name).write_text("x")
    with RunDir(tmp_path) as run:  # acquiring removed the stale temporary file of a run file, only that
        assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.txt.tmp99", "last.pt", "log.csv", "notes.txt"]
        assert run.clear() == ["last.pt", "log.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.txt.tmp99", "notes.txt"]


def test_a_pickle_that_needs_code_is_refused_without_the_unsafe_advice(tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": torch.ones(1), "f": os.system}))
    with pytest.raises(pickle.UnpicklingError) as info:
        load_torch(path)
    msg = str(info.value)
    assert str(path) in msg and "refused" in msg and "weights_only" not in msg
    torch.save({"w": torch.ones(1), "obj": Unlisted()}, path)  # a torch file holding a class instance
    with pytest.raises(pickle.UnpicklingError, match="Unlisted") as info:
        load_torch(path)
    assert "weights_only" not in str(info.value)


class Unlisted:
    """A class torch's weights-only unpickler does not allow."""


def test_truncated_files_are_value_errors_naming_the_file(tmp_path):
    pt = tmp_path / "last.pt"
    torch.save({"w": torch.ones(1000)}, pt)
    pt.write_bytes(pt.read_bytes()[:300])
    with pytest.raises(ValueError, match="last.pt"):
        load_torch(pt)
    st = tmp_path / "w.safetensors"
    save_weights(torch.nn.Linear(20, 20), st)
    st.write_bytes(st.read_bytes()[:-100])
    with pytest.raises(ValueError, match="w.safetensors"):
        check_safetensors(st)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_torch(tmp_path / "nope.pt")


def test_read_checkpoint_unwraps_a_training_checkpoint_and_strips_ddp_prefixes(tmp_path):
    sd = torch.nn.Linear(2, 3).state_dict()
    torch.save({"format": "mfp-train-v1", "model": {f"module.{k}": v for k, v in sd.items()},
                "args": {"model": "x", "T": 2}}, tmp_path / "last.pt")
    args, state = read_checkpoint(tmp_path / "last.pt")
    assert args == {"model": "x", "T": 2}
    assert state.keys() == sd.keys() and all(torch.equal(state[k], sd[k]) for k in sd)
