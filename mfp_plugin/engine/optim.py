"""Optimiser and learning-rate schedule of a training run: Adam/AdamW/SGD, linear warm-up, cosine decay.

>>> f = cosine_lambda(epochs=4, warmup=0)
>>> [round(f(e), 3) for e in range(4)]
[1.0, 0.854, 0.5, 0.146]
>>> [round(cosine_lambda(4, warmup=1)(e), 3) for e in range(4)]
[0.5, 1.0, 0.75, 0.25]
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

__all__ = ["OPTIMIZERS", "make_optimizer", "cosine_lambda", "make_scheduler"]

OPTIMIZERS = ("adam", "adamw", "sgd")


def make_optimizer(params: Iterable[torch.nn.Parameter], name: str, lr: float, *, wd: float = 0.0,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """``adam`` | ``adamw`` | ``sgd`` (Nesterov when ``momentum > 0``)."""
    params = [p for p in params if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd, nesterov=momentum > 0)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def cosine_lambda(epochs: int, warmup: int) -> Callable[[int], float]:
    """LR factor of epoch ``e`` (0-based): linear warm-up over ``warmup`` epochs, then a cosine to 0 at ``epochs``."""
    def f(epoch: int) -> float:
        if warmup > 0 and epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        span = max(1, epochs - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / span))
    return f


def make_scheduler(opt: torch.optim.Optimizer, epochs: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-epoch ``LambdaLR`` over :func:`cosine_lambda`."""
    return torch.optim.lr_scheduler.LambdaLR(opt, cosine_lambda(epochs, warmup))
