"""The options that define a ``mfp train`` run: defaults, and how a resumed run takes them from its folder.

On ``--resume`` every run-defining option comes from the saved run; one
given on the command line must equal it, except ``--epochs``, which may
extend the run, and ``--workers``, which only changes how augmentation
randomness is split over processes.

>>> import argparse
>>> given = argparse.Namespace(**{k: None for k in TRAIN_DEFAULTS}, model="mf_vgg_mini", workers=None)
>>> conf = resolve_run_args(given, None)
>>> conf["epochs"], conf["workers"], conf["model"]
(10, 2, 'mf_vgg_mini')
>>> given.lr = 0.5
>>> resolve_run_args(given, conf)
Traceback (most recent call last):
...
mfp_plugin.cli.errors.CommandError: --resume must continue the same run; these options differ: --lr: run has 0.001, command line says 0.5
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

from .errors import USAGE, CommandError

__all__ = ["TRAIN_DEFAULTS", "DEFAULT_WORKERS", "resolve_run_args"]

#: defaults of the options that define a run (None on the command line means "not given")
TRAIN_DEFAULTS: dict[str, Any] = dict(
    data="fmnist", data_root=None, epochs=10, batch_size=128, lr=1e-3, optimizer="adam",
    wd=0.0, momentum=0.9, seed=0, limit_train=None, limit_test=None, augment=True,
    T=None, weight_bits=None, first_last_bits=None, neuron=None, membrane_bits=None,
    tau=None, learnable_decay=None, model_kwargs=None, split_by=None, label_smoothing=0.0, warmup_epochs=0, num_classes=None, amp=False, channels_last=False,
)
DEFAULT_WORKERS = 2


def _merge(cli: dict, saved: Optional[dict]) -> tuple[dict, list[str]]:
    conf: dict = {}
    conflicts = []
    for k in [*TRAIN_DEFAULTS, "model"]:
        given = cli.get(k)
        if saved is None:
            conf[k] = given if given is not None else TRAIN_DEFAULTS.get(k)
            continue
        old = saved.get(k, TRAIN_DEFAULTS.get(k))
        if k == "epochs" and given is not None:
            conf[k] = given
        elif given is not None and given != old:
            conflicts.append(f"--{k.replace('_', '-')}: run has {old!r}, command line says {given!r}")
        else:
            conf[k] = old
    return conf, conflicts


def resolve_run_args(args: argparse.Namespace, saved: Optional[dict]) -> dict:
    """The run's options: the command line over the defaults, or (resuming) the saved run's, checked."""
    cli = vars(args)
    conf, conflicts = _merge(cli, saved)
    if conflicts:
        raise CommandError("--resume must continue the same run; these options differ: "
                           + "; ".join(conflicts), USAGE)
    saved_workers = (saved or {}).get("workers")
    given_workers = cli.get("workers")
    conf["workers"] = given_workers if given_workers is not None else (
        saved_workers if saved_workers is not None else DEFAULT_WORKERS)
    if saved_workers is not None and conf["workers"] != saved_workers:
        print(f"note: --workers {conf['workers']} differs from the run's {saved_workers}; the data "
              "augmentation random streams change, so the result is not bit-identical to an "
              "uninterrupted run", file=sys.stderr)
    if conf.get("model") is None:
        raise CommandError("a MODEL is required (or --resume with a run folder)", USAGE)
    return conf
