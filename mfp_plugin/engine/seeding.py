"""Random-number state of a training process: seeding, saving and restoring it, per-epoch seeds.

Resume is bit-exact when every random draw after the checkpoint comes either
from a stream whose state ``last.pt`` holds (:func:`rng_state`: torch, CUDA,
numpy, Python) or from a seed that is a pure function of ``(seed, epoch,
rank)`` (:func:`epoch_seed`: sample order, DataLoader worker streams).

>>> a = epoch_seed(0, 3); a == epoch_seed(0, 3), a != epoch_seed(0, 4), a != epoch_seed(0, 3, rank=1)
(True, True, True)
>>> seed_all(5); s = rng_state(torch.device("cpu")); x = torch.rand(2)
>>> set_rng_state(s, torch.device("cpu")); torch.equal(x, torch.rand(2))
True
"""
from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_all", "epoch_seed", "rng_state", "set_rng_state"]

_MASK64 = (1 << 64) - 1


def seed_all(seed: int) -> None:
    """Seed Python's ``random``, numpy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 63-bit seed that depends only on ``(seed, epoch, rank)``, well mixed (numpy ``SeedSequence``)."""
    words = [int(v) & _MASK64 for v in (seed, epoch, rank)]
    state = np.random.SeedSequence(words).generate_state(2, np.uint32)
    return ((int(state[0]) << 32) | int(state[1])) & ((1 << 63) - 1)


def rng_state(device: torch.device) -> dict:
    """The process's RNG states as plain tensors/ints (``torch.load(weights_only=True)`` reads them)."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": str(np_state[0]), "state": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": random.getstate(),
    }
    if torch.device(device).type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    """Restore what :func:`rng_state` returned (after a round trip through ``torch.save``/``load``)."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["key"], n["state"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if torch.device(device).type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
