"""A URL checkpoint source can never hang create_model: every network operation has a timeout."""
import socket
import threading

import pytest
import torch

import model_zoo
from model_zoo import PretrainedCfg, hub


@pytest.fixture
def silent_server():
    """A local HTTP 'server' that accepts connections and never answers."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    conns = []

    def accept():
        try:
            while True:
                conns.append(srv.accept()[0])
        except OSError:  # the listening socket was closed
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()
    for c in conns:
        c.close()  # also releases a client still blocked on recv


def _run_with_deadline(fn, seconds):
    """Run ``fn`` in a thread; return (finished, exception)."""
    box = {}

    def target():
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), box.get("error")


def test_silent_server_times_out_with_a_clear_error(silent_server, tmp_path, monkeypatch, empty_card_store):
    monkeypatch.setenv("MFP_DOWNLOAD_TIMEOUT", "0.5")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    url = f"{silent_server}/w.safetensors"
    model_zoo.register_pretrained_cfg(PretrainedCfg(architecture="mf_vgg_small", tag="remote", url=url,
                                                    sha256="ab" * 32, T=1, num_classes=10))
    finished, err = _run_with_deadline(lambda: model_zoo.create_model("mf_vgg_small.remote", pretrained=True), 30)
    assert finished, "create_model still waiting on a server that never answers after 30 s"
    assert isinstance(err, RuntimeError), repr(err)
    msg = str(err)
    assert url in msg and "0.5 s" in msg and "MFP_DOWNLOAD_TIMEOUT" in msg
    assert str(tmp_path / "hub" / "checkpoints" / "w.safetensors") in msg  # where to put it by hand
    assert not list((tmp_path / "hub" / "checkpoints").iterdir()), "partial download left behind"


def test_timeout_argument_and_environment(silent_server, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    finished, err = _run_with_deadline(
        lambda: hub.download_cached_file(f"{silent_server}/x.bin", timeout=0.3), 30)
    assert finished and isinstance(err, hub.DownloadError) and "0.3 s" in str(err)
    monkeypatch.setenv("MFP_DOWNLOAD_TIMEOUT", "7.5")
    assert hub.download_timeout() == 7.5
    for bad in ("soon", "0", "-1", "inf"):
        monkeypatch.setenv("MFP_DOWNLOAD_TIMEOUT", bad)
        with pytest.raises(ValueError, match="MFP_DOWNLOAD_TIMEOUT"):
            hub.download_timeout()
    monkeypatch.delenv("MFP_DOWNLOAD_TIMEOUT")
    assert hub.download_timeout() == 60.0
