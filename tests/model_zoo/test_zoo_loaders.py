"""Checkpoint save / load, hashes, torch files, URLs (offline)."""
import os

import pytest
import torch

import model_zoo
from model_zoo import ChecksumError, hub, load_checkpoint, save_checkpoint
from model_zoo.pretrained import load_state_dict_file, read_checkpoint_metadata


@pytest.fixture
def small_model():
    torch.manual_seed(0)
    m = model_zoo.create_model("mf_vgg_small", T=2, num_classes=4)
    m(torch.rand(2, 1, 28, 28))  # initialise LSQ steps, update BN stats
    return m.eval()


def _fresh():
    torch.manual_seed(1)
    return model_zoo.create_model("mf_vgg_small", T=2, num_classes=4).eval()


def test_safetensors_round_trip(tmp_path, small_model):
    path = tmp_path / "sub" / "m.safetensors"
    digest = save_checkpoint(small_model, path, metadata={"top1": 90.5, "note": "unit"})
    assert digest == hub.sha256_file(path) and len(digest) == 64
    assert not [p for p in path.parent.iterdir() if p.name != "m.safetensors"], "temp file left behind"
    meta = read_checkpoint_metadata(path)
    assert meta["architecture"] == "mf_vgg_small" and meta["top1"] == "90.5" and meta["note"] == "unit"
    m2 = _fresh()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert not torch.equal(m2(x), small_model(x))
    res = load_checkpoint(m2, path, sha256=digest)
    assert not res.missing_keys and not res.unexpected_keys
    with torch.no_grad():
        torch.testing.assert_close(m2(x), small_model(x), rtol=0, atol=0)
    # create_model(pretrained=path) rebuilds T / num_classes from the metadata
    m3 = model_zoo.create_model("mf_vgg_small", pretrained=str(path)).eval()
    assert (m3.T, m3.num_classes) == (2, 4)
    with torch.no_grad():
        torch.testing.assert_close(m3(x), small_model(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="saved from 'mf_vgg_small'"):
        model_zoo.create_model("mf_resnet20", pretrained=path)


def test_save_is_atomic_on_failure(tmp_path, small_model, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_checkpoint(small_model, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(small_model, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_hash_mismatch_rejected(tmp_path, small_model):
    path = tmp_path / "m.safetensors"
    digest = save_checkpoint(small_model, path)
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    with pytest.raises(ChecksumError, match=f"expected {wrong}, got {digest}"):
        load_checkpoint(_fresh(), path, sha256=wrong)


def test_tampered_file_rejected(tmp_path, small_model):
    path = tmp_path / "m.safetensors"
    digest = save_checkpoint(small_model, path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # flip bits inside the tensor data
    path.write_bytes(bytes(data))
    m = _fresh()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(ChecksumError, match=f"expected {digest}"):
        load_checkpoint(m, path, sha256=digest)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items()), "model modified"
    # a broken header is reported as a corrupt file even without a hash
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at al")
    with pytest.raises(RuntimeError, match="corrupt safetensors|could not read"):
        load_checkpoint(m, path)


def test_torch_file_weights_only(tmp_path, small_model):
    x = torch.rand(2, 1, 28, 28)
    # plain state_dict, a {"state_dict": ...} wrapper, and a DDP "module." prefix
    for i, obj in enumerate([
        small_model.state_dict(),
        {"state_dict": small_model.state_dict(), "epoch": 3},
        {"module." + k: v for k, v in small_model.state_dict().items()},
    ]):
        p = tmp_path / f"m{i}.pth"
        torch.save(obj, p)
        m = _fresh()
        load_checkpoint(m, p, sha256=hub.sha256_file(p))
        with torch.no_grad():
            torch.testing.assert_close(m(x), small_model(x), rtol=0, atol=0)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_arbitrary_pickle_refused(tmp_path):
    p = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "payload": _Evil()}, p)
    with pytest.raises(RuntimeError, match="weights_only"):
        load_state_dict_file(p)


def test_strict_mismatch(tmp_path, small_model):
    p = tmp_path / "m.safetensors"
    save_checkpoint(small_model, p)
    other = model_zoo.create_model("mf_vgg_small", num_classes=9)
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_checkpoint(other, p)
    # excluding the head loads the backbone
    load_checkpoint(other, p, exclude_prefixes=("classifier.",))
    assert torch.equal(other.features[0].weight, small_model.features[0].weight)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(other, tmp_path / "missing.safetensors")


def test_url_offline_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    missing = (tmp_path / "nope.safetensors").as_uri()
    with pytest.raises(RuntimeError, match="nope.safetensors") as e:
        load_checkpoint(_fresh(), missing)
    msg = str(e.value)
    assert missing in msg and str(tmp_path / "hub" / "checkpoints" / "nope.safetensors") in msg
    with pytest.raises(RuntimeError, match=r"http://127\.0\.0\.1:9/w\.safetensors.*place it at"):
        hub.download_cached_file("http://127.0.0.1:9/w.safetensors", sha256="a" * 64)


def test_url_download_and_cache(tmp_path, monkeypatch, small_model):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    src = tmp_path / "remote" / "w.safetensors"
    digest = save_checkpoint(small_model, src)
    m = _fresh()
    load_checkpoint(m, src.as_uri(), sha256=digest)
    cached = tmp_path / "hub" / "checkpoints" / "w.safetensors"
    assert cached.exists() and hub.sha256_file(cached) == digest
    assert torch.equal(m.features[0].weight, small_model.features[0].weight)
    # a wrong hash on download: file deleted, error raised
    cached.unlink()
    with pytest.raises(ChecksumError):
        hub.download_cached_file(src.as_uri(), sha256="f" * 64)
    assert not cached.exists()
    # a tampered cache is re-downloaded
    hub.download_cached_file(src.as_uri(), sha256=digest)
    cached.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="again"):
        p = hub.download_cached_file(src.as_uri(), sha256=digest)
    assert hub.sha256_file(p) == digest


def test_pretrained_file_missing_is_clear(tmp_path, monkeypatch):
    from model_zoo.pretrained import PretrainedCfg, resolve_pretrained_file

    monkeypatch.setattr("model_zoo.pretrained.WEIGHTS_DIR", tmp_path)
    cfg = PretrainedCfg(architecture="mf_vgg_small", tag="x", file="absent.safetensors", sha256="0" * 64)
    with pytest.raises(RuntimeError, match="absent.safetensors"):
        resolve_pretrained_file(cfg)
