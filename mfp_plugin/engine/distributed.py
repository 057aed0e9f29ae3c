"""Data-parallel helpers for the :class:`~mfp_plugin.engine.Trainer` under ``torchrun``.

Launch: ``torchrun --nproc_per_node N -m mfp_plugin train ...`` (or
``python -m torch.distributed.run ...``). The backend is NCCL when the run
uses CUDA and gloo on CPU. Only rank 0 prints progress and writes files.

>>> info = setup("cpu")          # not under torchrun: one process, nothing initialised
>>> info.world_size, info.is_main, all_reduce_sum([1.0, 2.0], info)
(1, True, [1.0, 2.0])
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .device import resolve_device

__all__ = ["DistInfo", "env_world_size", "setup", "cleanup", "all_reduce_sum", "barrier", "broadcast_object"]


@dataclass
class DistInfo:
    """One process's place in a data-parallel run (a single process on ``device`` by default)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world_size() -> int:
    """``$WORLD_SIZE`` (set by torchrun), 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device_spec: str = "auto", timeout_s: int = 1800) -> DistInfo:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = env_world_size()
    if world <= 1:
        return DistInfo(device=resolve_device(device_spec))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_spec, local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        kw = {}
        if backend == "nccl":
            kw["device_id"] = device
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s), **kw)
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world, device=device, backend=backend)


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Sum a list of floats over ranks (float64 on the run's device)."""
    if not info.enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        if info.backend == "nccl":
            dist.barrier(device_ids=[info.device.index])
        else:
            dist.barrier()


def broadcast_object(obj, info: DistInfo):
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=info.device if info.backend == "nccl" else None)
    return box[0]
