"""deploy.report: counts checked against SpikingJelly's SynOpCounter, brute force and hand-computed figures."""
import json

import pytest
import torch

from _deploy_models import exact_frames, exact_model
from mfp_plugin import deploy


def _rep(**kw):
    model, x = exact_model(), exact_frames()
    return model, x, deploy.report(model, [(x, torch.tensor([0, 1, 2]))], T=4, input_shape=(2, 8, 8), **kw)


def _conv_fanout_bruteforce(spikes, c_out, k=3, pad=1):
    """Sum over input spikes of the number of outputs (stride 1) whose window contains them."""
    H, W = spikes.shape[-2:]
    total = 0
    for idx in spikes.nonzero().tolist():
        i, j = idx[-2], idx[-1]
        rows = sum(1 for p in range(H) if p - pad <= i <= p - pad + k - 1)
        cols = sum(1 for q in range(W) if q - pad <= j <= q - pad + k - 1)
        total += rows * cols * c_out
    return total


def test_synops_match_spikingjelly_counter_and_brute_force():
    model, x, rep = _rep()
    layers = {l["name"]: l for l in rep["layers"]}
    n = rep["n_images"]
    net = deploy.compile(model, T=4, input_shape=(2, 8, 8))
    out = net.run(x, "stream", trace=True).outputs
    assert layers["4"]["synops"] * n == _conv_fanout_bruteforce(out["3"], 4)
    assert layers["9"]["synops"] * n == int(out["7"].sum()) * 6      # pooled counts: c events each
    assert layers["12"]["synops"] * n == int(out["9"].sum()) * 3
    assert layers["0"]["synops"] == 0 and layers["0"]["snn_macs"] == 4 * 4 * 64 * 18   # analog: MACs, every step
    sj = pytest.importorskip("spikingjelly.activation_based.op_counter")
    counter = sj.SynOpCounter()
    with torch.no_grad(), sj.DispatchCounterMode([counter]):
        model(x)
    rec = {k: sum(v.values()) for k, v in counter.records.items()}
    assert layers["4"]["synops"] * n == rec["TimeSeq.4"] and layers["12"]["synops"] * n == rec["TimeSeq.12"]


def test_report_figures_by_hand():
    model, x, rep = _rep(e_ac=1.0, e_mac=10.0, qlif_bits=3)
    layers = {l["name"]: l for l in rep["layers"]}
    # frames: the ANN twin runs the same layers on each of the T = 4 frames, as the SNN does
    assert [layers[k]["macs"] for k in ("0", "4", "9", "12")] == [4 * 64 * 4 * 18, 4 * 16 * 4 * 36, 4 * 6 * 16,
                                                                   4 * 3 * 6]
    e = rep["energy_pj_per_image"]
    syn = sum(l["synops"] for l in rep["layers"])
    assert e["snn"] == pytest.approx(1.0 * syn + 10.0 * 4 * 64 * 4 * 18)
    assert e["ann"] == pytest.approx(10.0 * 4 * (4608 + 2304 + 96 + 18))
    _, spikes = deploy.float_forward(model, x)
    for name, ref in zip(("0", "4", "9"), spikes.values()):
        assert layers[name]["firing_rate"] == pytest.approx(float(ref.mean()))
        assert layers[name]["spike_agreement"] == 1.0
    assert rep["top1_float"] == rep["top1_integer"] and rep["schedules_agree"] is True
    m = rep["memory"]
    assert m["weights"]["codes_bits"] == 4 * 2 * 9 * 4 + 4 * 4 * 9 * 2 + 6 * 16 * 3 + 3 * 6 * 8
    acc = [m["acc_bits"][k] for k in ("0", "4", "9")]
    neurons = [256, 64, 6]
    assert m["state_bits"]["stream"] == dict(mf=sum(a * b for a, b in zip(neurons, acc)), qlif=326 * 3,
                                             float_lif=326 * 32)
    assert m["state_bits"]["layer"] == dict(mf=max(a * b for a, b in zip(neurons, acc)), qlif=256 * 3,
                                            float_lif=256 * 32)
    # layer schedule: conv 0 reads 4 steps of 2x8x8 at 20 bits and writes 4 steps of 4x8x8 spikes
    assert m["peak_activation_bits"]["layer"] == 4 * 128 * 20 + 4 * 256
    json.dumps(rep)


def test_format_table_and_plot(tmp_path):
    _, _, rep = _rep()
    text = deploy.format_table(rep)
    assert all(name in text for name in ("0", "4", "9", "12")) and "top-1 float" in text and "pJ/AC" in text
    fig = deploy.plot_report(rep, str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").stat().st_size > 10_000
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)


def test_report_rejects_bad_arguments():
    model = exact_model()
    with pytest.raises(ValueError, match="no images"):
        deploy.report(model, [], T=4, input_shape=(2, 8, 8))
    with pytest.raises(ValueError, match="e_ac"):
        _rep(e_ac=-1)
    with pytest.raises(ValueError, match="qlif_bits"):
        _rep(qlif_bits=1)
    with pytest.raises(TypeError, match="Dataset"):
        deploy.report(model, 3, T=4, input_shape=(2, 8, 8))
