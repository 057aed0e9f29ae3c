"""The shipped checkpoints through the integer engine: agreement with the float model on real images.

Bars measured on the full bundled subset (docs/deployment.md): with the default 16-bit input
fraction every hidden layer and the readout agree 100 % locally (fed the float model's input
spikes), and the lowest free-running layer agrees >= 99.98 % (all of it from the first layer's
input rounding, propagated). On 40 images the bars below leave room for another CPU's float rounding.
"""
import pytest
import torch

import model_zoo
from model_zoo.pretrained import WEIGHTS_DIR
from mfp_plugin import deploy
from mfp_plugin.data import get_dataset

SHIPPED = [n for n in ("mf_vgg_small.fmnist_w2_m2", "mf_vgg_small.fmnist_w1")
           if (WEIGHTS_DIR / f"{n}.safetensors").exists()]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_agrees_with_its_float_model(name):
    model = model_zoo.create_model(name, pretrained=True).eval()
    data = get_dataset("fmnist-bundled", cfg=model.pretrained_cfg)
    net = deploy.compile(model)
    assert [op.kind for op in net.ops] == ["spiking", "spiking", "maxpool", "spiking", "spiking", "maxpool",
                                           "flatten", "readout"]
    r = deploy.agreement(model, net, data, limit=40, batch_size=40)
    assert r["n"] == 40
    assert r["top1_integer"] == r["top1_float"]
    assert r["argmax_agreement"] == 1.0 and r["argmax_agreement_local"] == 1.0
    for layer in r["layers"]:
        assert layer["spike_agreement"] >= 0.9990, layer
        assert layer["spike_agreement_local"] >= 0.99999, layer
    assert r["layers"][0]["spike_agreement"] >= 0.99995
    # both schedules give the same integers on real images
    x = torch.stack([data[i][0] for i in range(4)])
    a, b = net.run(x, "layer", trace=True), net.run(x, "stream", trace=True)
    assert all(torch.equal(a.outputs[k], b.outputs[k]) for k in a.outputs)
    assert torch.equal(a.logits_int, b.logits_int)


def test_input_fraction_bits_trade_agreement():
    """Fewer input bits, more first-layer flips: the rounding is where the first layer is."""
    model = model_zoo.create_model(SHIPPED[0], pretrained=True).eval()
    data = get_dataset("fmnist-bundled", cfg=model.pretrained_cfg)
    coarse = deploy.agreement(model, deploy.compile(model, input_frac_bits=4, input_bits=8), data, limit=10)
    fine = deploy.agreement(model, deploy.compile(model), data, limit=10)
    assert coarse["layers"][0]["spike_agreement"] < fine["layers"][0]["spike_agreement"]
    assert coarse["layers"][1]["spike_agreement_local"] >= 0.99999   # hidden layers stay exact
