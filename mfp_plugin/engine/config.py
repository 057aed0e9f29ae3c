"""The hyper-parameters of a training run (:class:`TrainConfig`), checked when built.

>>> TrainConfig(epochs=2, lr=0.01).optimizer
'adam'
>>> TrainConfig(batch_size=0)
Traceback (most recent call last):
...
ValueError: TrainConfig.batch_size must be an int >= 1, got 0
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from .optim import OPTIMIZERS

__all__ = ["TrainConfig"]


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"TrainConfig.{name} must be an int >= {low}, got {value!r}")


@dataclass
class TrainConfig:
    """What the :class:`~mfp_plugin.engine.Trainer` needs beyond the model and the data.

    ``workers``: DataLoader worker processes (augmentation stays reproducible
    on resume for any value, see :mod:`mfp_plugin.engine.loaders`).
    ``eval_batch_size`` defaults to twice ``batch_size``. ``amp``: float16
    autocast with a GradScaler on CUDA, bfloat16 autocast on CPU.
    ``channels_last``: NHWC weights and activations (faster CPU convolutions).
    """

    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: Optional[int] = None
    lr: float = 1e-3
    optimizer: str = "adam"
    wd: float = 0.0
    momentum: float = 0.9
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    seed: int = 0
    amp: bool = False
    channels_last: bool = False
    workers: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, 1)
        _check_int("batch_size", self.batch_size, 1)
        if self.eval_batch_size is not None:
            _check_int("eval_batch_size", self.eval_batch_size, 1)
        _check_int("warmup_epochs", self.warmup_epochs, 0)
        _check_int("workers", self.workers, 0)
        _check_int("seed", self.seed, -(2 ** 63))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"TrainConfig.label_smoothing must be in [0, 1), got {self.label_smoothing!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build from a dict holding these fields among others (e.g. a run's saved arguments)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names and v is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
