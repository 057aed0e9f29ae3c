"""One training epoch of a classifier: reset neurons, (autocast) forward, cross-entropy, backward, step.

>>> import torch
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> model = torch.nn.Linear(2, 2)
>>> data = [(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))] * 50
>>> opt = torch.optim.SGD(model.parameters(), lr=0.5)
>>> first = train_one_epoch(model, data[:1], opt, "cpu", progress=False)["loss"]
>>> last = train_one_epoch(model, data, opt, "cpu", progress=False)
>>> last["n"], last["loss"] < first
(100, True)
"""
from __future__ import annotations

import sys
from typing import Iterable, Optional, Union

import torch
import torch.nn as nn

from .device import autocast_dtype

__all__ = ["train_one_epoch"]


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                    device: Union[str, torch.device], *, scaler: Optional[torch.amp.GradScaler] = None,
                    loss_fn: Optional[nn.Module] = None, amp: bool = False, progress: bool = True,
                    desc: str = "train") -> dict:
    """Train ``model`` (``[B, ...]`` -> logits; may be DDP-wrapped) for one pass over ``loader``.

    Returns ``{"loss", "acc", "loss_sum", "correct", "n"}`` (``acc`` in percent;
    the sums let data-parallel callers all-reduce). ``scaler``: a CUDA
    ``GradScaler`` for float16 autocast (bfloat16 on CPU needs none). A
    non-finite loss raises ``FloatingPointError`` before the step that would
    spread it into the weights.
    """
    from tqdm.auto import tqdm

    from ..integration import reset_states

    device = torch.device(device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    scaler = scaler or torch.amp.GradScaler(device.type, enabled=False)
    dtype = autocast_dtype(device)
    model.train()
    loss_sum, correct, n = 0.0, 0, 0
    bar = tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False, file=sys.stderr)
    for x, y in bar:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        reset_states(model)
        with torch.autocast(device_type=device.type, dtype=dtype, enabled=amp):
            logits = model(x)
            loss = loss_fn(logits.float(), y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss ({float(loss.detach())}) in {desc}; "
                                     "lower the learning rate (--lr)")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        with torch.no_grad():
            loss_sum += float(loss.detach()) * y.numel()
            correct += int((logits.argmax(1) == y).sum())
            n += y.numel()
        bar.set_postfix(loss=f"{loss_sum / n:.4f}", acc=f"{100.0 * correct / n:.1f}%")
    bar.close()
    return {"loss": loss_sum / max(n, 1), "acc": 100.0 * correct / max(n, 1),
            "loss_sum": loss_sum, "correct": correct, "n": n}
