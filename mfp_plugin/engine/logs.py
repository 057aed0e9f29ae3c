"""A run's human-readable record: ``log.csv`` (one row per epoch) and ``curves.png``, both written atomically.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
>>> write_csv(p, [dict(epoch=1, train_loss=2.0, train_acc=25.0, test_loss=1.5, test_acc=40.0,
...                    lr=1e-3, epoch_seconds=3.25)])
>>> print(p.read_text(), end="")
epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_seconds
1,2,25,1.5,40,0.001,3.25
"""
from __future__ import annotations

import csv
import io
import os
from typing import Union

from ..atomic_io import atomic_write_bytes

__all__ = ["LOG_COLUMNS", "write_csv", "write_png"]

#: accuracies in percent; ``lr`` is the rate used during the epoch
LOG_COLUMNS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_seconds"]


def write_csv(path: Union[str, os.PathLike], history: list[dict]) -> None:
    """The whole history as CSV (floats with 6 significant digits)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in LOG_COLUMNS})
    atomic_write_bytes(path, buf.getvalue().encode())


def write_png(path: Union[str, os.PathLike], history: list[dict], title: str) -> None:
    """Loss, accuracy and learning rate against the epoch, side by side."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    ep = [r["epoch"] for r in history]
    fig = Figure(figsize=(10, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for ax, key, label in ((ax1, "loss", "cross-entropy"), (ax2, "acc", "top-1 (%)")):
        ax.plot(ep, [r[f"train_{key}"] for r in history], "o-", label="train")
        ax.plot(ep, [r[f"test_{key}"] for r in history], "s-", label="test")
        ax.set_ylabel(label)
        ax.legend()
    ax1.set_title("loss")
    ax2.set_title("accuracy")
    ax3.plot(ep, [r["lr"] for r in history], "o-")
    ax3.set_title("learning rate")
    for ax in (ax1, ax2, ax3):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))  # whole epochs, legible at any count
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
