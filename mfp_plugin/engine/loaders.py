"""DataLoaders whose randomness is a pure function of ``(seed, epoch, rank)``, so a resumed run sees the same batches.

The training loader's sample order comes from its sampler's own generator
(or ``DistributedSampler.set_epoch``), and its workers' seeds from the
loader's own generator; :func:`set_epoch` reseeds both at the start of every
epoch. Workers are started afresh each epoch (not persistent): a persistent
worker would carry its random stream over from the previous epoch, which a
resumed process cannot reproduce. Worker ``w`` of epoch ``e`` therefore seeds
torch, ``random`` and numpy from ``epoch_seed(seed, e, rank) + w`` (PyTorch's
worker seeding), whatever happened before. With ``workers=0`` augmentation
draws from the main process's generator, whose state ``last.pt`` keeps.

>>> import torch
>>> ds = torch.utils.data.TensorDataset(torch.arange(8.0))
>>> loader = train_loader(ds, batch_size=4, workers=0, seed=0)
>>> set_epoch(loader, 1, seed=0); a = [b[0].tolist() for b in loader]
>>> set_epoch(loader, 1, seed=0); a == [b[0].tolist() for b in loader]
True
"""
from __future__ import annotations

from typing import Optional

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Subset
from torch.utils.data.distributed import DistributedSampler

from .distributed import DistInfo
from .seeding import epoch_seed

__all__ = ["seeded_subset", "train_loader", "eval_loader", "set_epoch"]


def seeded_subset(ds: Dataset, n: Optional[int], seed: int) -> Dataset:
    """``n`` samples of ``ds`` drawn with ``seed`` (kept in index order); ``ds`` itself when ``n`` is None or too big."""
    if n is None or n >= len(ds):
        return ds
    if n < 1:
        raise ValueError(f"a subset needs n >= 1 samples, got {n}")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=g)[:n].sort().values.tolist()
    return Subset(ds, idx)


def train_loader(ds: Dataset, batch_size: int, *, workers: int, seed: int, dist: Optional[DistInfo] = None,
                 pin_memory: bool = False) -> DataLoader:
    """A shuffling loader; call :func:`set_epoch` before each epoch. The last partial batch is dropped
    when there are at least two full batches per process (a tiny last batch makes noisy BN statistics)."""
    dist = dist or DistInfo()
    if dist.enabled:
        sampler = DistributedSampler(ds, num_replicas=dist.world_size, rank=dist.rank, shuffle=True,
                                     seed=seed, drop_last=False)
    else:
        sampler = RandomSampler(ds, generator=torch.Generator())
    drop_last = len(ds) >= 2 * batch_size * dist.world_size
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers, pin_memory=pin_memory,
                      drop_last=drop_last, persistent_workers=False, generator=torch.Generator())


def set_epoch(loader: DataLoader, epoch: int, seed: int, rank: int = 0) -> None:
    """Reseed ``loader``'s sample order and worker streams for ``epoch``."""
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)
    elif getattr(sampler, "generator", None) is not None:
        sampler.generator.manual_seed(seed * 100003 + epoch)
    if loader.generator is not None:
        loader.generator.manual_seed(epoch_seed(seed, epoch, rank))


def eval_loader(ds: Dataset, batch_size: int, *, workers: int, dist: Optional[DistInfo] = None,
                pin_memory: bool = False) -> DataLoader:
    """An in-order loader over this process's shard (every ``world_size``-th sample from ``rank``)."""
    dist = dist or DistInfo()
    if dist.enabled:
        ds = Subset(ds, list(range(dist.rank, len(ds), dist.world_size)))
    # its own generator: drawing the workers' base seed must not advance the main process's stream
    return DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers, pin_memory=pin_memory,
                      generator=torch.Generator().manual_seed(0))
