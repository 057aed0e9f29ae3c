"""torchvision ANN weights and SpikingJelly checkpoints -> zoo models."""
import pytest
import torch
import torchvision

import model_zoo
from model_zoo.convert import (adapt_input_conv, convert_spikingjelly_state_dict,
                               load_torchvision_weights)


def _tv(arch, **kw):
    torch.manual_seed(0)
    return getattr(torchvision.models, arch)(**kw)


def _check_lifted(snn, sd, report):
    own = snn.state_dict()
    for k in report.loaded:
        assert torch.equal(own[k], sd[k]), k
    extra = set(own) - set(report.loaded) - set(report.skipped_head_keys)
    assert extra == set(report.missing_neuron_keys) | set(report.missing_quantizer_keys)
    assert all("weight_quantizer" in k for k in report.missing_quantizer_keys)


def test_lift_resnet18_random_torchvision():
    ann = _tv("resnet18", num_classes=10)
    snn = model_zoo.create_model("mf_resnet18", num_classes=10, T=1)
    snn(torch.randn(2, 3, 16, 16))  # quantizers initialised from the random weights...
    report = load_torchvision_weights(snn, ann.state_dict())
    sd = ann.state_dict()
    assert report.num_loaded == len(sd) and not report.skipped_head_keys
    _check_lifted(snn, sd, report)
    # ...and re-derived from the lifted ones: the 2-bit step follows the new weight
    q = snn.layer1[0].conv1
    assert not bool(q.weight_quantizer.initialized)
    snn(torch.randn(2, 3, 16, 16))
    w = sd["layer1.0.conv1.weight"]
    torch.testing.assert_close(q.weight_quantizer.scale.detach().reshape(-1)[0], 2 * w.abs().mean())
    assert "loaded" in str(report)


def test_lift_vgg11_bn_new_head_and_grey_input():
    # torchvision vgg11_bn layout (its own make_layers) with a 64-wide head:
    # same names as the 4096-wide one, without 100M random weights to build.
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    feats = make_layers(cfgs["A"], batch_norm=True)
    head = torch.nn.Sequential(torch.nn.Linear(512 * 7 * 7, 64), torch.nn.ReLU(), torch.nn.Dropout(),
                               torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Dropout(),
                               torch.nn.Linear(64, 1000))  # 1000 classes, RGB input
    sd = {**{f"features.{k}": v for k, v in feats.state_dict().items()},
          **{f"classifier.{k}": v for k, v in head.state_dict().items()}}

    class ann:  # noqa: N801 - minimal stand-in exposing state_dict()
        state_dict = staticmethod(lambda: sd)

    with pytest.warns(UserWarning, match="classifier"):
        snn = model_zoo.create_model("mf_vgg11_bn", num_classes=10, in_channels=1, T=1, hidden_features=64)
        report = load_torchvision_weights(snn, ann.state_dict())
    assert sorted(report.skipped_head_keys) == ["classifier.6.bias", "classifier.6.weight"]
    assert report.adapted_keys == ["features.0.weight"]
    own = snn.state_dict()
    torch.testing.assert_close(own["features.0.weight"], ann.state_dict()["features.0.weight"].sum(1, keepdim=True))
    assert torch.equal(own["classifier.3.weight"], ann.state_dict()["classifier.3.weight"])
    assert snn(torch.rand(2, 1, 32, 32)).shape == (2, 10)


def test_lift_rejects_wrong_layout():
    snn = model_zoo.create_model("mf_resnet18", T=1)
    sd = _tv("resnet18").state_dict()
    sd.pop("layer2.0.bn1.weight")
    with pytest.raises(ValueError, match="layer2.0.bn1.weight"):
        load_torchvision_weights(snn, sd)
    with pytest.raises(ValueError, match="keys not in the model"):
        load_torchvision_weights(model_zoo.create_model("mf_resnet20", T=1), _tv("resnet18").state_dict())


def test_lift_by_name_offline_error(tmp_path, monkeypatch):
    import urllib.error

    import torchvision.models._api as api

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(self, *a, **k):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(api.WeightsEnum, "get_state_dict", offline)
    snn = model_zoo.create_model("mf_resnet18", T=1)
    with pytest.raises(RuntimeError, match=r"resnet18-.*\.pth") as e:
        load_torchvision_weights(snn, "resnet18")
    assert str(tmp_path) in str(e.value) and "https://" in str(e.value)
    with pytest.raises(ValueError, match="unknown torchvision weights"):
        load_torchvision_weights(snn, "resnet1800")


def test_adapt_input_conv():
    w = torch.randn(4, 3, 3, 3)
    assert torch.equal(adapt_input_conv(3, w), w)
    torch.testing.assert_close(adapt_input_conv(1, w), w.sum(1, keepdim=True))
    w2 = adapt_input_conv(2, w)
    assert w2.shape == (4, 2, 3, 3)


@pytest.mark.parametrize("sj_arch,zoo_arch", [("spiking_resnet18", "mf_resnet18"),
                                               ("spiking_vgg11_bn", "mf_vgg11_bn")])
def test_spikingjelly_state_dict(sj_arch, zoo_arch):
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based.model import spiking_resnet, spiking_vgg

    torch.manual_seed(0)
    builder = getattr(spiking_resnet if "resnet" in sj_arch else spiking_vgg, sj_arch)
    # ParametricLIF carries a neuron parameter ("w") that must be dropped
    sj = builder(spiking_neuron=neuron.ParametricLIFNode, num_classes=10)
    sd = sj.state_dict()
    assert any(k.endswith(".w") for k in sd)
    conv, dropped = convert_spikingjelly_state_dict({"module." + k: v for k, v in sd.items()}, sj_arch,
                                                    return_dropped=True)
    assert dropped and all(k.endswith(".w") for k in dropped)
    kw = dict(hidden_features=4096) if "vgg" in zoo_arch else {}
    snn = model_zoo.create_model(zoo_arch, num_classes=10, T=1, **kw)
    report = load_torchvision_weights(snn, conv)
    own = snn.state_dict()
    assert report.num_loaded == len(conv)
    for k, v in conv.items():
        assert torch.equal(own[k], v), k
    with pytest.raises(ValueError, match="unsupported"):
        convert_spikingjelly_state_dict(sd, "spiking_resnet50")
    with pytest.raises(ValueError, match="missing"):
        convert_spikingjelly_state_dict({k: v for k, v in sd.items() if "layer1" not in k and "features.0" not in k},
                                        sj_arch)


def test_spikingjelly_ifnode_resnet18_outputs_parameters_match():
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based.model import spiking_resnet

    sj = spiking_resnet.spiking_resnet18(spiking_neuron=neuron.IFNode)
    conv = convert_spikingjelly_state_dict(sj.state_dict(), "spiking_resnet18")
    assert set(conv) == set(sj.state_dict())
    snn = model_zoo.create_model("mf_resnet18", T=1)
    load_torchvision_weights(snn, conv)
    params = dict(snn.named_parameters())
    for k, p in sj.named_parameters():
        assert torch.equal(params[k], p), k
