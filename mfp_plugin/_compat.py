"""What differs between the host libraries' generations, in one place."""
from __future__ import annotations

import importlib

import torch.nn as nn

try:
    from spikingjelly.activation_based.base import MemoryModule
    from spikingjelly.activation_based import functional as _sj_functional

    HAS_SPIKINGJELLY = True
except ImportError:  # SpikingJelly is a dependency, but keep the core importable without it
    HAS_SPIKINGJELLY = False
    _sj_functional = None

    class MemoryModule(nn.Module):  # type: ignore[no-redef]
        """Minimal stand-in with SpikingJelly's MemoryModule state protocol."""

        def __init__(self):
            super().__init__()
            self._memories = {}
            self._memories_rv = {}
            self._step_mode = "s"

        @property
        def step_mode(self):
            return self._step_mode

        @step_mode.setter
        def step_mode(self, value):
            self._step_mode = value

        def register_memory(self, name, value):
            import copy

            self._memories[name] = value
            self._memories_rv[name] = copy.deepcopy(value)

        def reset(self):
            import copy

            for k in self._memories:
                self._memories[k] = copy.deepcopy(self._memories_rv[k])

        def __getattr__(self, name):
            mem = self.__dict__.get("_memories")
            if mem is not None and name in mem:
                return mem[name]
            return super().__getattr__(name)

        def __setattr__(self, name, value):
            mem = self.__dict__.get("_memories")
            if mem is not None and name in mem:
                mem[name] = value
            else:
                super().__setattr__(name, value)


def spikingjelly_generation() -> str | None:
    """``"legacy"`` for 0.0.0.0.x (has ``functional.set_backend``), ``"2"`` for 2.x, None if absent."""
    if not HAS_SPIKINGJELLY:
        return None
    return "legacy" if hasattr(_sj_functional, "set_backend") else "2"


def invalidate_reset_cache(net: nn.Module) -> None:
    """SpikingJelly 2.x caches ``reset_net``'s module list per net; drop it after swapping modules."""
    fn = getattr(_sj_functional, "invalidate_reset_cache", None)
    if fn is not None:
        fn(net)


def spikingjelly_neuron_module():
    return importlib.import_module("spikingjelly.activation_based.neuron")
