"""The two execution orders of an integer network (pure functions over its ops).

* :func:`run_layer` (layer-asynchronous, the paper's inference): each op
  consumes all T input steps and emits all T output steps before the next op
  runs; nothing per neuron survives an op.
* :func:`run_stream`: one time step through every op, then the next step;
  the MF accumulators (and the readout's running sum) are the only state.

Both return the integer logits ``[B, K]`` and, on request, every op's output
``[T, B, ...]``; they compute the same integers (``tests/deploy``).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import torch

from .ops import Op, Readout, SpikingLayer

__all__ = ["run_layer", "run_stream"]

Observer = Callable[[int, Op, torch.Tensor, torch.Tensor], None]


def _first_static(ops: List[Op], static: bool) -> bool:
    return static and isinstance(ops[0], SpikingLayer) and ops[0].static


def run_layer(ops: List[Op], x: torch.Tensor, T: int, static: bool,
              observe: Optional[Observer] = None) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """``x``: integer input, ``[B, ...]`` (static) or ``[T, B, ...]``. Returns ``(logits_int, {})``.

    ``observe(i, op, op_input, op_output)`` sees every op's integer input and
    output (the counters and the agreement check use it).
    """
    h = x
    if static and not _first_static(ops, static):
        h = torch.stack([x] * T)
    for i, op in enumerate(ops):
        y = op.layer(h)
        if observe is not None:
            observe(i, op, h, y)
        h = y
    return h, {}


def run_stream(ops: List[Op], x: torch.Tensor, T: int, static: bool,
               trace: bool = False) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Step by step. Returns ``(logits_int, {op name: output [T, B, ...]})`` (outputs only if ``trace``)."""
    states = [op.init_state() for op in ops]
    outs: Dict[str, List[torch.Tensor]] = {op.name: [] for op in ops if not isinstance(op, Readout)}
    for t in range(T):
        h = x if static else x[t]
        for i, op in enumerate(ops):
            h, states[i] = op.step(h, states[i], t)
            if trace and h is not None:
                outs[op.name].append(h)
    readout = ops[-1]
    if not isinstance(readout, Readout):  # pragma: no cover - the compiler guarantees it
        raise TypeError("the last op must be the readout")
    logits = readout.finish(states[-1])
    return logits, ({k: torch.stack(v) for k, v in outs.items()} if trace else {})
