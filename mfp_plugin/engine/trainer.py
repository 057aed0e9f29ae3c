"""The training loop: any classifier, a cosine schedule, CSV/PNG logs, atomic resumable checkpoints, DDP.

Files in ``output`` (written by rank 0 only; see :class:`~mfp_plugin.engine.RunDir`):

* ``log.csv``: epoch, train_loss, train_acc, test_loss, test_acc, lr, epoch_seconds
  (accuracies in percent; ``lr`` is the rate used during the epoch)
* ``curves.png``: the same, drawn; redrawn every epoch
* ``last.pt``: model, optimizer, scheduler, GradScaler, epoch, RNG states of every
  rank, arguments and history; plain tensors/dicts (``torch.load(weights_only=True)``)
* ``best.safetensors``: weights of the best test-accuracy epoch (``model_zoo.save_checkpoint``)
* ``args.json``: the run's arguments

Every file is replaced atomically (:mod:`mfp_plugin.atomic_io`). A run
resumed from ``last.pt`` continues bit-exactly as if it had not stopped, on the
same device with the same number of processes and of DataLoader workers (any
number: see :mod:`mfp_plugin.engine.loaders`).

>>> import torch, tempfile
>>> from mfp_plugin.engine import Trainer, TrainConfig
>>> data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.arange(32) % 2)
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
>>> out = tempfile.mkdtemp()
>>> t = Trainer(model, data, data, TrainConfig(epochs=2, batch_size=8, progress=False),
...             device="cpu", output=out, verbose=False)
>>> [row["epoch"] for row in t.fit(stop_after=1)]
[1]
>>> t2 = Trainer(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)),
...              data, data, TrainConfig(epochs=2, batch_size=8, progress=False),
...              device="cpu", output=out, verbose=False)
>>> t.close(); t2.resume(f"{out}/last.pt"); len(t2.fit())
2
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, Optional, Union

import torch
import torch.nn as nn

from ..atomic_io import atomic_write_bytes
from .checkpoint import load_torch, plain, save_torch, save_weights
from .config import TrainConfig
from .device import resolve_device
from .distributed import DistInfo, all_reduce_sum, barrier
from .epoch import train_one_epoch
from .evaluate import evaluate
from .loaders import eval_loader, set_epoch, train_loader
from .logs import write_csv, write_png
from .optim import cosine_lambda, make_optimizer, make_scheduler
from .run_dir import RunDir
from .seeding import rng_state, seed_all, set_rng_state

__all__ = ["Trainer", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "mfp-train-v1"


class Trainer:
    """Train ``model`` (``[B, ...]`` -> logits) on ``train_set``, testing on ``test_set`` after every epoch.

    ``output``: a folder (or :class:`RunDir`) for the run's files, locked while
    training; ``None`` keeps everything in memory. ``dist``: this process's
    place in a torchrun job (:func:`mfp_plugin.engine.distributed.setup`);
    without it the run is one process on ``device``. ``run_args`` are saved in
    ``last.pt``/``args.json`` beside the config (the CLI stores its options there),
    ``best_metadata`` in ``best.safetensors``.
    """

    def __init__(self, model: nn.Module, train_set, test_set, config: Optional[TrainConfig] = None, *,
                 device: Union[str, torch.device] = "auto", dist: Optional[DistInfo] = None,
                 output: Union[None, str, os.PathLike, RunDir] = None, run_args: Optional[dict] = None,
                 best_metadata: Optional[dict] = None, title: Optional[str] = None, verbose: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.config = config if config is not None else TrainConfig()
        if not isinstance(self.config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(self.config).__name__}")
        self.dist = dist if dist is not None else DistInfo(device=resolve_device(str(device)))
        self.device = self.dist.device
        self.model, self.train_set, self.test_set = model, train_set, test_set
        self.run = output if isinstance(output, RunDir) or output is None else RunDir(output)
        self.run_args = dict(run_args or {})
        self.best_metadata = dict(best_metadata or {})
        self.title = title or type(model).__name__
        self.verbose = verbose
        self.epoch, self.history, self.best_acc, self.best_epoch = 0, [], -1.0, 0
        self.setup()

    # ------------------------------------------------------------------ setup / resume
    def setup(self) -> None:
        """Move the model, build the loaders, optimizer, schedule, GradScaler and (under torchrun) DDP."""
        cfg, dev = self.config, self.device
        self.model.to(dev)
        if cfg.channels_last:  # NHWC weights make oneDNN/cuDNN emit NHWC activations all the way down
            self.model.to(memory_format=torch.channels_last)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = False  # its algorithm search is not reproducible
        pin = dev.type == "cuda"
        self.train_loader = train_loader(self.train_set, cfg.batch_size, workers=cfg.workers, seed=cfg.seed,
                                         dist=self.dist, pin_memory=pin)
        self.eval_loader = eval_loader(self.test_set, cfg.eval_batch_size or 2 * cfg.batch_size,
                                       workers=cfg.workers, dist=self.dist, pin_memory=pin)
        self.optimizer = make_optimizer(self.model.parameters(), cfg.optimizer, cfg.lr, wd=cfg.wd,
                                        momentum=cfg.momentum)
        self.scheduler = make_scheduler(self.optimizer, cfg.epochs, cfg.warmup_epochs)
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp and dev.type == "cuda")
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.train_model: nn.Module = self.model
        if self.dist.enabled:
            self.train_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[dev.index] if dev.type == "cuda" else None)
            seed_all(cfg.seed + 1 + self.dist.rank)  # each rank its own augmentation stream

    def resume(self, checkpoint: Union[Mapping, str, os.PathLike]) -> None:
        """Continue from a ``last.pt`` (its path or its loaded dict): weights, optimizer, schedule, RNG, history."""
        ckpt = checkpoint if isinstance(checkpoint, Mapping) else load_torch(checkpoint)
        if ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a training checkpoint (format {ckpt.get('format')!r}, "
                             f"expected {CHECKPOINT_FORMAT!r})")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler.is_enabled() and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch = int(ckpt["epoch"])
        self.history = [dict(r) for r in ckpt.get("history", [])]
        self.best_acc = float(ckpt.get("best_acc", -1.0))
        self.best_epoch = int(ckpt.get("best_epoch", 0))
        self._restore_rng(ckpt.get("rng_per_rank") or [])
        self._set_schedule((ckpt.get("args") or {}).get("epochs"))

    def _restore_rng(self, states: list) -> None:
        if len(states) == self.dist.world_size:
            set_rng_state(states[self.dist.rank], self.device)
            return
        self._note(f"checkpoint was written by {len(states)} processes, now {self.dist.world_size}; "
                   "RNG streams are re-seeded (the run stays valid but is not bit-identical)")
        seed_all(self.config.seed + 7919 * (self.epoch + 1) + self.dist.rank)

    def _set_schedule(self, saved_epochs: Optional[int]) -> None:
        # the schedule depends on the total epochs: rebuild the lambda on the loaded state
        cfg = self.config
        if saved_epochs is not None and saved_epochs != cfg.epochs:
            self._note(f"extending the cosine schedule from {saved_epochs} to {cfg.epochs} epochs")
        self.scheduler.lr_lambdas = [cosine_lambda(cfg.epochs, cfg.warmup_epochs)]
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.lr * self.scheduler.lr_lambdas[0](self.epoch)

    # ------------------------------------------------------------------ one epoch
    def train_epoch(self) -> dict:
        """Train one epoch, test, append the epoch's row to ``history`` and return it."""
        cfg, e = self.config, self.epoch
        t0 = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        set_epoch(self.train_loader, e, cfg.seed, self.dist.rank)
        show = cfg.progress and self.dist.is_main
        tr = train_one_epoch(self.train_model, self.train_loader, self.optimizer, self.device,
                             scaler=self.scaler, loss_fn=self.loss_fn, amp=cfg.amp, progress=show,
                             desc=f"epoch {e + 1}/{cfg.epochs}")
        self.scheduler.step()
        loss_sum, correct, n = all_reduce_sum([tr["loss_sum"], tr["correct"], tr["n"]], self.dist)
        te = evaluate(self.model, self.eval_loader, self.device, amp=cfg.amp, progress=show,
                      desc=f"test {e + 1}/{cfg.epochs}")["_sums"]
        t_loss, t_top1, t_n = all_reduce_sum([te["loss"], te["top1"], te["n"]], self.dist)
        row = {"epoch": e + 1, "train_loss": loss_sum / max(n, 1), "train_acc": 100.0 * correct / max(n, 1),
               "test_loss": t_loss / max(t_n, 1), "test_acc": 100.0 * t_top1 / max(t_n, 1),
               "lr": float(lr), "epoch_seconds": time.perf_counter() - t0}
        self.history.append(row)
        self.epoch = e + 1
        if row["test_acc"] > self.best_acc:
            self.best_acc, self.best_epoch = row["test_acc"], e + 1
        return row

    # ------------------------------------------------------------------ files
    def saved_args(self) -> dict:
        """What ``last.pt``/``args.json`` record as the run's arguments: the config, then ``run_args``."""
        cfg = {k: v for k, v in self.config.to_dict().items() if k != "progress"}
        return plain({**cfg, **self.run_args})

    def state_dict(self, rng_per_rank: Optional[list] = None) -> dict:
        """The ``last.pt`` payload (plain tensors and containers only)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(), "scheduler": plain(self.scheduler.state_dict()),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "epoch": self.epoch, "best_acc": self.best_acc, "best_epoch": self.best_epoch,
            "history": self.history, "rng_per_rank": rng_per_rank or [rng_state(self.device)],
            "args": self.saved_args(), "world_size": self.dist.world_size,
            "torch_version": str(torch.__version__),
        }

    def _gather_rng(self) -> list:
        state = rng_state(self.device)
        if not self.dist.enabled:
            return [state]
        import torch.distributed as tdist

        states: list[Any] = [None] * self.dist.world_size
        tdist.all_gather_object(states, state)
        return [{k: (v.cpu() if torch.is_tensor(v) else v) for k, v in s.items()} for s in states]

    def checkpoint(self) -> None:
        """Write the files of the epoch just trained (rank 0; every rank must call it: RNG states are gathered)."""
        rng_all = self._gather_rng()
        if self.run is None or not self.dist.is_main:
            return
        self.run.acquire()
        row = self.history[-1]
        if self.best_epoch == row["epoch"]:
            save_weights(self.model, self.run.file("best.safetensors"), {
                "mfp_format": CHECKPOINT_FORMAT, "epoch": str(row["epoch"]),
                "test_acc": f"{row['test_acc']:.4f}",
                "mfp_train_args": json.dumps(self.saved_args(), sort_keys=True), **self.best_metadata})
        write_csv(self.run.file("log.csv"), self.history)
        write_png(self.run.file("curves.png"), self.history, self.title)
        save_torch(self.state_dict(rng_all), self.run.file("last.pt"))

    def write_args(self) -> None:
        """``args.json``: the run's arguments plus the world size, device and amp actually used."""
        if self.run is None or not self.dist.is_main:
            return
        self.run.acquire()
        info = {**self.saved_args(), "world_size": self.dist.world_size, "device": str(self.device),
                "amp": bool(self.config.amp)}
        atomic_write_bytes(self.run.file("args.json"), (json.dumps(info, indent=2, default=str) + "\n").encode())

    # ------------------------------------------------------------------ the loop
    def fit(self, stop_after: Optional[int] = None) -> list[dict]:
        """Train until ``config.epochs`` (or ``stop_after`` more epochs); return the history."""
        self.write_args()
        done = 0
        while self.epoch < self.config.epochs and (stop_after is None or done < stop_after):
            row = self.train_epoch()
            self.checkpoint()
            self._report(row)
            barrier(self.dist)
            done += 1
        return self.history

    def close(self) -> None:
        """Release the run folder's lock (also released when the process ends)."""
        if self.run is not None:
            self.run.release()

    def _report(self, row: dict) -> None:
        if not (self.verbose and self.dist.is_main):
            return
        star = " *" if self.best_epoch == row["epoch"] else ""
        print(f"epoch {row['epoch']}/{self.config.epochs}: train loss {row['train_loss']:.4f} "
              f"acc {row['train_acc']:.2f}% | test loss {row['test_loss']:.4f} acc {row['test_acc']:.2f}%{star} "
              f"| lr {row['lr']:.3g} | {row['epoch_seconds']:.1f} s", flush=True)

    def _note(self, text: str) -> None:
        if self.dist.is_main:
            print(f"note: {text}", file=sys.stderr)
