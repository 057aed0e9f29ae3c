"""Sequential Fashion-MNIST: an image read one row per time step.

:class:`RowSequence` wraps an image dataset whose items are ``(float [1, H, W], label)``
and yields ``(float [H, W], label)``: time step ``t`` is image row ``t`` and its
``W`` pixels are the features, ``[T = H, F = W]``. With Fashion-MNIST that is
``[28, 28]``, normalised exactly as the ``fmnist`` items (mean 0.2860, std 0.3530;
a model's ``pretrained_cfg`` mean/std win, as for ``fmnist``); with
``augment`` the train split gets ``fmnist``'s pad-2 random crop and flip
before the rows are read.

>>> from mfp_plugin.data import get_dataset
>>> seq = get_dataset("fmnist-seq-bundled")          # the bundled 2,000 test images, as sequences
>>> x, y = seq[0]
>>> tuple(x.shape), y
((28, 28), 1)
>>> img, _ = get_dataset("fmnist-bundled")[0]
>>> bool((x == img[0]).all())                        # row t of the image is time step t
True
"""
from __future__ import annotations

from torch.utils.data import Dataset

__all__ = ["RowSequence"]


class RowSequence(Dataset):
    """``(x [1, H, W], y)`` items of ``base`` as ``(x[0] [H, W], y)``: one row per time step."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        x, y = self.base[index]
        if x.dim() != 3 or x.shape[0] != 1:
            raise ValueError(f"RowSequence needs single-channel [1, H, W] images, got shape {tuple(x.shape)}")
        return x[0], y

    @property
    def targets(self):
        return self.base.targets

    @property
    def classes(self):
        return self.base.classes

    def __repr__(self) -> str:
        return f"RowSequence({self.base!r})"
