"""Module layout of the zoo: no import cycle between the registry and the card/checkpoint
modules, short functions in the registry, one prefix stripper."""
import ast
from pathlib import Path

import pytest
import torch

import model_zoo
from model_zoo.convert import convert_spikingjelly_state_dict

ZOO = Path(model_zoo.__file__).resolve().parent


def _imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")
            if node.module is None:  # "from . import registry"
                for alias in node.names:
                    yield "." + alias.name
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


@pytest.mark.parametrize("module", ["pretrained", "checkpoint", "hub", "jsonable", "layers"])
def test_lower_modules_never_import_the_registry(module):
    # function-level imports count too: they are how the old cycle was hidden
    imported = set(_imported_modules(ZOO / f"{module}.py"))
    assert not {".registry", "model_zoo.registry", "model_zoo"} & imported, imported


def test_registry_functions_are_short():
    tree = ast.parse((ZOO / "registry.py").read_text())
    long = {n.name: n.end_lineno - n.lineno + 1 for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60}
    assert not long, long


def test_strip_state_dict_prefixes():
    t = torch.zeros(1)
    strip = model_zoo.strip_state_dict_prefixes
    assert list(strip({"_orig_mod.module.fc.weight": t, "_orig_mod.module.fc.bias": t})) == ["fc.weight", "fc.bias"]
    assert list(strip({"module.a": t, "b": t})) == ["module.a", "b"]  # only where every key has it
    assert strip({}) == {}


def test_spikingjelly_conversion_strips_nested_wrappers():
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based.model import spiking_resnet

    sd = spiking_resnet.spiking_resnet18(spiking_neuron=neuron.IFNode).state_dict()
    wrapped = {f"_orig_mod.module.{k}": v for k, v in sd.items()}  # torch.compile of a DDP model
    assert set(convert_spikingjelly_state_dict(wrapped, "spiking_resnet18")) == set(sd)
