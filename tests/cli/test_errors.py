"""Issue 15: every expected failure of ``mfp`` is ONE ``error: ...`` line on stderr, no traceback,
exit status 2 (usage) or 1 (runtime).

The commands run in-process (``mfp_plugin.cli.main``), with ``--no-progress`` so
no tqdm bar is drawn; Python warnings are captured by pytest, not printed, so
the stderr checked here is exactly what ``main`` prints. Two cases also run as
real processes (``python -m mfp_plugin``) to check the exit status a shell sees.

Bad inputs are built in ``tmp_path``. Conditions that cannot be produced for
real inside a test are simulated where the library meets the OS: a full disk
by an ``os.write`` that fails with ``ENOSPC`` for large writes; a read-only
output folder by an ``os.open`` that fails with ``EROFS`` for writes into it
(tests run as root, so ``chmod`` would not stop a write); an offline machine
by a ``urlopen`` that raises ``URLError``; a missing shipped weights file by
pointing ``model_zoo.pretrained.WEIGHTS_DIR`` at an empty folder. Where the
message is another module's wording (the zoo's, the data loaders'), only the
key noun (the file, the name) is asserted.
"""
from __future__ import annotations

import errno
import fcntl
import os
import pickle
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
import torch

import model_zoo
from mfp_plugin.cli import main
from _fake_data import write_fake_fmnist

REPO = Path(__file__).resolve().parents[2]
MINI = "mf_vgg_mini"


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    return write_fake_fmnist(tmp_path_factory.mktemp("fmnist"), 32, 16)


def train_argv(root, out, *extra):
    return ["train", MINI, "--data", "fmnist", "--data-root", str(root), "--epochs", "1", "--batch-size", "16",
            "--T", "1", "--workers", "0", "--no-progress", "--output", str(out), *extra]


def eval_argv(*extra):
    return ["eval", MINI, "--no-pretrained", "--T", "1", "--limit", "8", "--no-progress", *extra]


# ------------------------------------------------------------------ the bad inputs, one builder per case
def corrupt_idx(tmp_path, fmnist, monkeypatch):
    root = tmp_path / "idx"
    write_fake_fmnist(root, 16, 16)
    path = root / "t10k-images-idx3-ubyte.gz"
    import gzip
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) // 2]))  # a truncated payload
    return eval_argv("--data", "fmnist", "--data-root", str(root))


def refused_pickle(tmp_path, fmnist, monkeypatch):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:  # a pickle that would call os.system when unpickled
        pickle.dump({"model": {"w": torch.ones(1)}, "hook": os.system}, fh)
    return ["eval", MINI, "--checkpoint", str(path), "--data", "fmnist-bundled", "--limit", "8", "--no-progress"]


def truncated_safetensors(tmp_path, fmnist, monkeypatch):
    path = tmp_path / "trunc.safetensors"
    model_zoo.save_checkpoint(model_zoo.create_model(MINI, T=1), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return ["eval", MINI, "--checkpoint", str(path), "--data", "fmnist-bundled", "--limit", "8", "--no-progress"]


def empty_cifar(tmp_path, fmnist, monkeypatch):
    (tmp_path / "cifar_empty").mkdir()
    return eval_argv("--data", "cifar10", "--data-root", str(tmp_path / "cifar_empty"))


def full_disk(tmp_path, fmnist, monkeypatch):
    real = os.write

    def write(fd, data):
        if len(data) > 64 * 1024:  # last.pt / curves.png, not the small args.json
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    return train_argv(fmnist, tmp_path / "full")


def read_only_output(tmp_path, fmnist, monkeypatch):
    out = tmp_path / "ro"
    out.mkdir()
    real = os.open

    def open_(path, flags, *a, **k):
        if str(path).startswith(str(out)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", open_)
    return train_argv(fmnist, out)


def offline_download(tmp_path, fmnist, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr("urllib.request.urlopen", offline)
    monkeypatch.setattr("torch.hub.urlopen", offline, raising=False)
    cfg = model_zoo.PretrainedCfg(architecture=MINI, tag="offline", sha256="ab" * 32, dataset="fashion_mnist",
                                  url="https://example.org/mf_vgg_mini.offline.safetensors", T=1)
    model_zoo.register_pretrained_cfg(cfg)
    monkeypatch.setattr(model_zoo, "_test_offline_cfg", cfg, raising=False)  # deregistered by the test
    return ["eval", f"{MINI}.offline", "--data", "fmnist-bundled", "--limit", "8", "--no-progress"]


def missing_default_weights(tmp_path, fmnist, monkeypatch):
    (tmp_path / "no_weights").mkdir()
    monkeypatch.setattr("model_zoo.pretrained.WEIGHTS_DIR", tmp_path / "no_weights")
    return ["eval", "mf_vgg_small", "--data", "fmnist-bundled", "--limit", "8", "--no-progress"]


def locked_folder(tmp_path, fmnist, monkeypatch):
    out = tmp_path / "busy"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)  # another trainer holding the folder's lock
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    monkeypatch.setattr(model_zoo, "_test_lock_fd", fd, raising=False)
    return train_argv(fmnist, out)


def static(argv):
    return lambda tmp_path, fmnist, monkeypatch: argv


def imagefolder_without_root(tmp_path, fmnist, monkeypatch):
    return ["train", MINI, "--data", "imagefolder", "--output", str(tmp_path / "never_created")]


# id, argv builder, exit status, words the line must contain (case-insensitive), words it must not
CASES = [
    ("unknown-model", static(["eval", "mf_vgg_smal", "--data", "fmnist-bundled"]), 2, ["mf_vgg_smal", "mf_vgg_small"], []),
    ("unknown-dataset", static(eval_argv("--data", "fmnistt")), 2, ["fmnistt"], []),
    ("unknown-tag", static(["eval", "mf_vgg_small.fmnist_w9", "--data", "fmnist-bundled"]), 2,
     ["fmnist_w9", "fmnist_w2_m2"], []),
    ("T-zero", static(eval_argv("--data", "fmnist-bundled", "--T", "0")), 2, ["--T", "'0'"], []),
    ("batch-size-zero", lambda t, f, m: train_argv(f, t / "bs0", "--batch-size", "0"), 2, ["--batch-size"], []),
    ("limit-zero", static(["eval", MINI, "--limit", "0", "--data", "fmnist-bundled"]), 2, ["--limit"], []),
    ("imagefolder-no-root", imagefolder_without_root, 2, ["--data-root"], []),
    ("membrane-bits-for-lif", lambda t, f, m: train_argv(f, t / "lif", "--neuron", "lif", "--membrane-bits", "2"),
     2, ["--membrane-bits", "lif"], []),
    ("missing-cifar", empty_cifar, 1, ["cifar_empty"], []),
    ("corrupt-idx", corrupt_idx, 1, ["t10k-images"], []),
    ("refused-pickle", refused_pickle, 1, ["evil.pt", "not a weights-only checkpoint", "refused"], ["weights_only"]),
    ("truncated-safetensors", truncated_safetensors, 1, ["trunc.safetensors"], []),
    ("full-disk", full_disk, 1, ["no space left on device", "full"], []),
    ("read-only-output", read_only_output, 1, ["read-only file system", "ro"], []),
    ("offline-download", offline_download, 1, ["mf_vgg_mini.offline"], []),
    ("missing-default-weights", missing_default_weights, 1, ["mf_vgg_small.fmnist_w2_m2.safetensors"], []),
    ("locked-run-folder", locked_folder, 1, ["busy", "in use"], []),
    ("resume-empty-folder", lambda t, f, m: (t / "empty_run").mkdir() or ["train", "-o", str(t / "empty_run"),
                                                                           "--resume"], 1, ["no run to continue"], []),
    ("resume-no-folder", lambda t, f, m: ["train", "-o", str(t / "nowhere"), "--resume"], 1, ["no run folder"], []),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_one_error_line(case, tmp_path, fmnist, monkeypatch, capsys):
    name, build, status, words, absent = case
    argv = build(tmp_path, fmnist, monkeypatch)
    capsys.readouterr()
    try:
        with pytest.raises(SystemExit) as info:
            main(argv)
    finally:
        cfg = getattr(model_zoo, "_test_offline_cfg", None)
        if cfg is not None:
            model_zoo.deregister_pretrained_cfg(cfg.name)
        if getattr(model_zoo, "_test_lock_fd", None) is not None:
            os.close(model_zoo._test_lock_fd)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert info.value.code == status, (name, err)
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    for w in absent:
        assert w.lower() not in lines[0].lower(), (w, lines[0])
    if name == "full-disk":  # the failed write left no temporary file behind to keep the disk full
        assert not [p.name for p in (tmp_path / "full").iterdir() if ".tmp" in p.name]
    if name == "imagefolder-no-root":  # usage is checked before the run folder is created
        assert not (tmp_path / "never_created").exists()


@pytest.mark.parametrize("argv,status", [
    (["eval", "mf_vgg_smal"], 2),
    (["zoo", "info", "no_such_model"], 2),
])
def test_real_process_exit_status_and_one_line(argv, status):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "mfp_plugin", *argv], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=120)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == status, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr


def test_a_bug_keeps_its_traceback(monkeypatch):
    # Only expected failures become one line: an unexpected exception (here a RuntimeError while
    # scoring a batch) must propagate out of main() untouched, with its traceback.
    def broken(*a, **k):
        raise RuntimeError("a bug in a layer")

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", broken)
    with pytest.raises(RuntimeError, match="a bug in a layer"):
        main(eval_argv("--data", "fmnist-bundled"))
