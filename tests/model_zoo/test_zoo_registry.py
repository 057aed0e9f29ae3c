"""Registry: listing, patterns, unknown names, overrides, pretrained configs."""
import json

import pytest
import torch

import model_zoo
from model_zoo import PretrainedCfg, registry
from model_zoo.jsonable import to_jsonable

EXPECTED = ["mf_dvs_net", "mf_resnet18", "mf_resnet19", "mf_resnet20", "mf_resnet34", "mf_seq_mlp", "mf_seq_tcn",
            "mf_vgg11_bn", "mf_vgg13_bn", "mf_vgg16_bn", "mf_vgg_mini", "mf_vgg_small"]


@pytest.fixture
def tmp_pretrained(monkeypatch):
    """An empty pretrained registry (the shipped cards are hidden) to register test configs in."""
    monkeypatch.setattr(registry, "_pretrained_cfgs", {})

    def add(**fields):
        cfg = PretrainedCfg(**fields)
        model_zoo.register_pretrained_cfg(cfg)
        return cfg

    return add


def test_list_models_and_patterns():
    assert model_zoo.list_models() == EXPECTED
    assert model_zoo.list_models("mf_resnet*") == EXPECTED[1:5]
    assert model_zoo.list_models(["*vgg1?_bn", "mf_resnet2?"]) == ["mf_resnet20", "mf_vgg11_bn",
                                                                    "mf_vgg13_bn", "mf_vgg16_bn"]
    assert model_zoo.list_models("mf_vgg*", exclude_filters="*_bn") == ["mf_vgg_mini", "mf_vgg_small"]
    assert model_zoo.list_models("nothing*") == []


def test_shipped_pretrained_cfgs_are_valid():
    # Whatever ships in pretrained_cfgs/ must parse and name real models.
    for name in model_zoo.list_pretrained():
        cfg = model_zoo.get_pretrained_cfg(name)
        assert cfg.name == name and model_zoo.is_model(name)
        assert cfg.sha256 and (cfg.file or cfg.url)


def test_is_model():
    assert model_zoo.is_model("mf_resnet18")
    assert not model_zoo.is_model("resnet18")
    assert not model_zoo.is_model("mf_resnet18.no_such_tag")


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="mf_resnet18") as e:
        model_zoo.create_model("mf_resnet_18")
    assert "unknown model" in str(e.value)
    with pytest.raises(ValueError, match="mf_vgg16_bn"):
        model_zoo.create_model("mf_vgg16bn")
    with pytest.raises(ValueError, match="unknown model"):
        model_zoo.get_default_cfg("zzz")


def test_overrides_and_default_cfg():
    m = model_zoo.create_model("mf_vgg_small", T=3, num_classes=7, weight_bits=4, first_last_bits=None,
                               neuron="QLIFNode", neuron_kwargs={"membrane_bits": 3})
    assert (m.T, m.num_classes, m.weight_bits, m.first_last_bits) == (3, 7, 4, None)
    cfg = m.pretrained_cfg
    assert cfg["T"] == 3 and cfg["num_classes"] == 7 and cfg["neuron"] == "mfp_plugin.QLIFNode"
    assert cfg["mean"] == (0.2860,) and cfg["input_size"] == (1, 28, 28) and cfg["tag"] is None
    assert m.model_kwargs["neuron_kwargs"] == {"membrane_bits": 3}
    json.dumps(m.model_kwargs), json.dumps(to_jsonable(cfg))  # serialisable
    # defaults
    d = model_zoo.create_model("mf_resnet19").pretrained_cfg
    assert d["dataset"] == "cifar10" and d["num_classes"] == 10 and d["input_size"] == (3, 32, 32)
    # channel change drops per-channel normalisation that no longer applies
    e = model_zoo.create_model("mf_resnet20", in_channels=2)
    assert e.pretrained_cfg["input_size"] == (2, 32, 32) and len(e.pretrained_cfg["mean"]) == 2


def test_register_model_decorator():
    @model_zoo.register_model(default_cfg={"T": 1})
    def tmp_zoo_model(**kw):
        return model_zoo.mf_vgg_small(**kw)

    try:
        assert "tmp_zoo_model" in model_zoo.list_models()
        assert model_zoo.get_default_cfg("tmp_zoo_model") == {"T": 1}
        with pytest.raises(ValueError, match="'.'"):
            model_zoo.register_model(name="a.b")(tmp_zoo_model)
    finally:
        for d in (registry._model_entrypoints, registry._model_default_cfgs, registry._model_modules):
            d.pop("tmp_zoo_model", None)


def test_pretrained_true_without_weights_is_clear(monkeypatch):
    monkeypatch.setattr(registry, "_pretrained_cfgs", {})
    assert model_zoo.get_pretrained_cfg("mf_resnet34") is None
    with pytest.raises(ValueError, match="no pretrained weights registered for 'mf_resnet34'"):
        model_zoo.create_model("mf_resnet34", pretrained=True)


def test_pretrained_cfg_registration_and_loading(tmp_path, tmp_pretrained, monkeypatch):
    # A checkpoint trained with T=2, 3 classes, 4-bit weights, QLIF neurons.
    src = model_zoo.create_model("mf_vgg_small", T=2, num_classes=3, weight_bits=4, neuron="QLIFNode")
    src.eval()
    x = torch.rand(2, 1, 28, 28)
    src(x)  # LSQ steps initialise on the first forward
    monkeypatch.setattr("model_zoo.pretrained.WEIGHTS_DIR", tmp_path)
    digest = model_zoo.save_checkpoint(src, tmp_path / "small.safetensors")
    tmp_pretrained(architecture="mf_vgg_small", tag="unit_w4", file="small.safetensors", sha256=digest,
                   dataset="fashion_mnist", T=2, weight_bits=4, first_last_bits=8,
                   neuron="mfp_plugin.QLIFNode", num_classes=3, input_size=(1, 28, 28),
                   mean=(0.286,), std=(0.353,), top1=None, license="Apache-2.0", default=True)
    assert model_zoo.list_pretrained("mf_vgg_small.*") == ["mf_vgg_small.unit_w4"]
    assert model_zoo.list_models(pretrained=True) == ["mf_vgg_small"]
    assert model_zoo.get_pretrained_cfg("mf_vgg_small").tag == "unit_w4"

    m = model_zoo.create_model("mf_vgg_small.unit_w4", pretrained=True).eval()
    assert (m.T, m.num_classes, m.weight_bits) == (2, 3, 4)
    assert m.pretrained_cfg["tag"] == "unit_w4" and m.pretrained_cfg["sha256"] == digest
    with torch.no_grad():
        torch.testing.assert_close(m(x), src(x))
    # bare name + pretrained=True picks the default tag
    m2 = model_zoo.create_model("mf_vgg_small", pretrained=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(m2(x), src(x))
    # tag without pretrained: hyper-parameters only
    m3 = model_zoo.create_model("mf_vgg_small.unit_w4")
    assert m3.T == 2 and not torch.equal(m3.features[0].weight, src.features[0].weight)
    # new head: backbone loaded, classifier left alone (with a warning)
    with pytest.warns(UserWarning, match="num_classes"):
        m4 = model_zoo.create_model("mf_vgg_small.unit_w4", pretrained=True, num_classes=5)
    assert torch.equal(m4.features[3].weight, src.features[3].weight)
    assert m4.classifier[0].weight.shape[0] == 5
    # unknown tag
    with pytest.raises(ValueError, match="unit_w4"):
        model_zoo.create_model("mf_vgg_small.unit_w9")


def test_pretrained_cfg_json_files(tmp_path):
    good = dict(architecture="mf_resnet20", tag="json_test", url="https://example.invalid/r20.safetensors",
                sha256="0" * 64, T=4, num_classes=10, input_size=[3, 32, 32])
    (tmp_path / "a.json").write_text(json.dumps([good]))
    try:
        cfgs = model_zoo.load_pretrained_cfgs(tmp_path)
        assert [c.name for c in cfgs] == ["mf_resnet20.json_test"]
        assert model_zoo.is_model("mf_resnet20.json_test")
        assert cfgs[0].input_size == (3, 32, 32)
        assert PretrainedCfg.from_dict(cfgs[0].to_dict()) == cfgs[0]
    finally:
        model_zoo.deregister_pretrained_cfg("mf_resnet20.json_test")
    (tmp_path / "b.json").write_text(json.dumps({**good, "tag": "x", "accuracy": 1}))
    with pytest.raises(ValueError, match="b.json.*accuracy"):
        model_zoo.load_pretrained_cfgs(tmp_path, register=False)


@pytest.mark.parametrize("bad", [
    dict(tag="a.b"),
    dict(file=None, url=None),
    dict(sha256="abc"),
    dict(file="../escape.safetensors"),
])
def test_pretrained_cfg_validation(bad):
    fields = dict(architecture="mf_resnet20", tag="t", file="x.safetensors")
    fields.update(bad)
    with pytest.raises(ValueError):
        PretrainedCfg(**fields)
