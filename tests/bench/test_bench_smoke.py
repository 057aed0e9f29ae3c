"""Smoke tests of the benchmark harness (bench/): tiny sizes, structure only, no timing assertions."""
import json
import os
import sys

import pytest
import torch

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bench import common, network, neuron  # noqa: E402
from bench.reference_qsnn import vanilla_qsnn  # noqa: E402

import mfp_plugin  # noqa: E402

NEURON_KEYS = {"row", "T", "N", "status", "note", "median_ms", "saved_mib", "cuda_peak_mib",
               "ratio_vs_relu", "speedup_vs_vanilla", "saved_ratio_vs_vanilla"}
NETWORK_KEYS = {"row", "T", "batch", "width", "status", "note", "median_ms", "saved_mib", "cuda_peak_mib",
                "ratio_vs_ann", "ratio_vs_qlif", "saved_ratio_vs_qlif"}


@pytest.fixture(scope="module")
def neuron_payload():
    return neuron.run(Ts=[2], N=1024, device="cpu", repeats=1, warmup=1, progress=False)


def test_neuron_json_structure(neuron_payload, tmp_path):
    p = neuron_payload
    assert p["benchmark"] == "neuron"
    assert {"torch", "device", "device_name", "threads"} <= set(p["env"])
    assert p["config"]["N"] == 1024 and p["config"]["T"] == [2]
    names = [r["row"] for r in p["rows"]]
    assert names == neuron.ROWS
    for r in p["rows"]:
        assert NEURON_KEYS <= set(r), r["row"]
        assert r["status"] in ("ok", "n/a")
        if r["status"] == "ok":
            assert r["median_ms"] > 0 and r["saved_mib"] > 0 and r["repeats"] == 1
        else:
            assert r["median_ms"] is None and r["note"]
    by = {r["row"]: r for r in p["rows"]}
    for name in (neuron.MF, neuron.MF2, neuron.QLIF, neuron.VANILLA, neuron.RELU):
        assert by[name]["status"] == "ok", by[name]["note"]
    if not torch.cuda.is_available():
        assert by[neuron.MF_CUPY]["status"] == "n/a"
        assert by[neuron.MF_CUPY]["cuda_peak_mib"] is None
    assert by[neuron.VANILLA]["speedup_vs_vanilla"] == pytest.approx(1.0)
    assert by[neuron.RELU]["ratio_vs_relu"] == pytest.approx(1.0)
    assert set(p["targets"]) == {neuron.MF, neuron.MF2}
    # JSON round trip and the printed table
    out = tmp_path / "n.json"
    common.write_json(str(out), p)
    back = json.loads(out.read_text())
    assert back["rows"][0]["row"] == neuron.ROWS[0]
    t = neuron.table(p)
    assert t.count("\n") == len(p["rows"]) + 1


def test_saved_bytes_mf_below_vanilla(neuron_payload):
    """Structural: the MF layer saves only its input; the loop saves several N-sized tensors per step."""
    by = {r["row"]: r for r in neuron_payload["rows"]}
    for name in (neuron.MF, neuron.MF2):
        assert by[name]["saved_bytes"] < by[neuron.VANILLA]["saved_bytes"]
        assert by[name]["saved_ratio_vs_vanilla"] < 1.0


def test_saved_bytes_counter_dedupes_storages():
    x = torch.rand(4, 256, requires_grad=True)
    # x * x saves x twice (same storage): counted once.
    n = common.measure_saved_bytes(lambda: x * x)
    assert n == x.numel() * 4
    assert common.measure_saved_bytes(lambda: x + 1) == 0


def test_reference_loop_matches_qlif_spikes():
    """Independent check: bench.reference_qsnn and mfp_plugin.QLIFNode(membrane_bits=2) fire alike."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(6, 3, 257, generator=g) * 2.0 - 0.3  # [T, B, N]: negatives, sub- and supra-threshold
    ref = vanilla_qsnn(x, tau=2.0, theta=1.0, bits=2)
    node = mfp_plugin.QLIFNode(tau=2.0, membrane_bits=2)
    mfp_plugin.reset_states(node)
    got = node(x)
    assert 0 < ref.sum().item() < ref.numel()
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    # also the gradient path runs and the spike forward is 0/1
    xg = x.clone().requires_grad_(True)
    vanilla_qsnn(xg).sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()
    assert ((ref == 0) | (ref == 1)).all()


def test_network_json_structure(tmp_path):
    p = network.run(Ts=[2], batch=2, width=1 / 16, device="cpu", repeats=1, warmup=1, progress=False)
    assert p["benchmark"] == "network"
    names = [r["row"] for r in p["rows"]]
    assert names == network.ROWS
    by = {r["row"]: r for r in p["rows"]}
    for r in p["rows"]:
        assert NETWORK_KEYS <= set(r), r["row"]
    for name in (network.MF, network.MF2, network.QLIF, network.ANN):
        assert by[name]["status"] == "ok", by[name]["note"]
        assert by[name]["median_ms"] > 0 and by[name]["saved_mib"] > 0
    assert by[network.ANN]["ratio_vs_ann"] == pytest.approx(1.0)
    assert by[network.QLIF]["ratio_vs_qlif"] == pytest.approx(1.0)
    # MF keeps only each layer's input; QLIF keeps several tensors per step per layer.
    assert by[network.MF]["saved_bytes"] < by[network.QLIF]["saved_bytes"]
    common.write_json(str(tmp_path / "net.json"), p)
    assert "x ANN" in network.table(p)


def test_cli_main_writes_json(tmp_path):
    out = tmp_path / "cli.json"
    neuron.main(["--T", "2", "--N", "512", "--repeats", "1", "--warmup", "1", "--rows", neuron.MF, neuron.RELU,
                 "--no-progress", "--threads", str(torch.get_num_threads()), "--json", str(out)])
    back = json.loads(out.read_text())
    assert [r["row"] for r in back["rows"]] == [neuron.MF, neuron.RELU]


def test_train_step_builds_the_cli_model_and_estimates_an_epoch(tmp_path):
    from bench import train_step

    out = tmp_path / "step.json"
    r = train_step.main(["--model", "mf_vgg_mini", "--neuron", "mf", "--membrane-bits", "2",
                         "--weight-bits", "2", "--T", "2", "--batch", "4", "--repeats", "1",
                         "--warmup", "1", "--amp", "--train-size", "40", "--json", str(out)])
    assert r["steps_per_epoch"] == 10 and r["median_ms"] > 0
    assert r["epoch_min_estimate"] == pytest.approx(r["median_ms"] * 10 / 60e3)
    assert json.loads(out.read_text())["config"]["model"] == "mf_vgg_mini"
    with pytest.raises(SystemExit):
        train_step.main(["--model", "mf_vgg_mini", "--membrane-bits", "1"])
