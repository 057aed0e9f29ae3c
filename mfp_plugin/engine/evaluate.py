"""Top-k accuracy and cross-entropy of a classifier over a loader (no autograd graph, neurons reset per batch).

Works for any ``nn.Module`` that maps a ``[B, ...]`` batch to ``[B, classes]``
logits: zoo models, or a SpikingJelly/snnTorch network wrapped to average
its output over time.

>>> import torch
>>> model = torch.nn.Linear(4, 3)
>>> with torch.no_grad():
...     _ = model.weight.copy_(torch.eye(3, 4)); _ = model.bias.zero_()
>>> x = torch.eye(4)[:3]                       # sample i has its largest logit at class i
>>> res = evaluate(model, [(x, torch.tensor([0, 1, 0]))], "cpu", progress=False, topk=(1,))
>>> res["n"], round(res["top1"], 2)
(3, 66.67)
"""
from __future__ import annotations

import math
import sys
from typing import Iterable, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .device import autocast_dtype

__all__ = ["evaluate"]


def _topk_hits(logits: torch.Tensor, y: torch.Tensor, topk: tuple[int, ...]) -> dict[int, int]:
    maxk = min(max(topk), logits.shape[1])
    hit = logits.topk(maxk, dim=1).indices.eq(y.unsqueeze(1))
    return {k: int(hit[:, :k].any(dim=1).sum()) for k in topk if k <= logits.shape[1]}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, device: Union[str, torch.device], *, amp: bool = False,
             progress: bool = True, desc: str = "eval", topk: tuple[int, ...] = (1, 5)) -> dict:
    """``{"loss", "top1", "top5", "n", "_sums"}`` over ``loader`` (accuracies in percent, loss per sample).

    ``model`` is put in eval mode; :func:`mfp_plugin.reset_states` clears
    every stateful neuron before each batch. ``_sums`` holds the unnormalised
    sums so that data-parallel callers can all-reduce them. An empty loader
    gives ``n == 0`` and NaN means. ``top5`` is absent for fewer than 5 classes.
    """
    from tqdm.auto import tqdm

    from ..integration import reset_states

    device = torch.device(device)
    model.eval()
    loss_sum, n = 0.0, 0
    correct = {k: 0 for k in topk}
    bar = tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False, file=sys.stderr)
    for x, y in bar:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        reset_states(model)
        with torch.autocast(device_type=device.type, dtype=autocast_dtype(device), enabled=amp):
            logits = model(x)
        logits = logits.float()
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        n += y.numel()
        for k, hits in _topk_hits(logits, y, topk).items():
            correct[k] += hits
        bar.set_postfix(top1=f"{100.0 * correct[topk[0]] / n:.2f}%")
    bar.close()
    out = {"n": n, "_sums": {"loss": loss_sum, **{f"top{k}": correct[k] for k in topk}, "n": n},
           "loss": loss_sum / n if n else math.nan}
    for k in topk:
        out[f"top{k}"] = 100.0 * correct[k] / n if n else math.nan
    return out
