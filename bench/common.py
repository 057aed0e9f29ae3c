"""Shared helpers of the benchmark harness: timing, memory, environment, output."""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from contextlib import contextmanager

import torch

from mfp_plugin.engine import resolve_device


# --------------------------------------------------------------------------- device / env
def device_arg(spec: str) -> torch.device:
    """A benchmark's ``--device`` via :func:`mfp_plugin.engine.resolve_device`; no CUDA is a clean exit."""
    try:
        return resolve_device(spec)
    except ValueError as exc:  # e.g. --device cuda on a machine without CUDA: no silent CPU fallback
        raise SystemExit(f"error: {exc}") from None


def sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def environment(device: torch.device | str) -> dict:
    """What produced the numbers: torch version, device name, threads, host."""
    device = torch.device(device)
    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
    }
    try:
        import spikingjelly  # noqa: F401
        from importlib.metadata import version

        info["spikingjelly"] = version("spikingjelly")
    except Exception:  # pragma: no cover - optional
        info["spikingjelly"] = None
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["device_name"] = info["cpu"]
    return info


# --------------------------------------------------------------------------- timing
def time_fn(fn, device, repeats: int = 5, warmup: int = 3, warmup_budget_s: float = 1.5,
            repeat_budget_s: float | None = None) -> dict:
    """Run ``fn()`` untimed, then ``repeats`` timed times; return median/min/all in ms.

    Warm-up: up to ``warmup`` calls, stopping early once they have taken
    ``warmup_budget_s`` seconds (at least one call always runs). MKL's first
    calls of a GEMM shape are slow (tens of ms), so cheap GEMM rows get their
    full warm-up while multi-second rows are not run needlessly often.
    ``repeat_budget_s`` (optional) likewise stops the timed calls early (at
    least one). ``time.perf_counter`` around each call, with
    ``torch.cuda.synchronize`` before and after on CUDA.
    """
    sync(device)
    t_start = time.perf_counter()
    for i in range(max(1, warmup)):
        fn()
        sync(device)
        if time.perf_counter() - t_start > warmup_budget_s:
            break
    times = []
    t_start = time.perf_counter()
    for _ in range(max(1, repeats)):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
        if repeat_budget_s is not None and time.perf_counter() - t_start > repeat_budget_s:
            break
    return {"median_ms": statistics.median(times), "min_ms": min(times), "times_ms": times, "repeats": len(times)}


def warm_up(fn, device, warmup: int = 3, warmup_budget_s: float = 1.5) -> None:
    """Up to ``warmup`` untimed calls, stopping once they took ``warmup_budget_s`` (>= 1 call)."""
    sync(device)
    t_start = time.perf_counter()
    for _ in range(max(1, warmup)):
        fn()
        sync(device)
        if time.perf_counter() - t_start > warmup_budget_s:
            break


def time_interleaved(fns: dict, device, repeats: int = 5, repeat_budget_s: float | None = None) -> dict:
    """Time several (already warmed-up) callables round-robin; ``{name: timing}`` as :func:`time_fn`.

    Round r times one call of every row, in an order rotated by r, so a change in
    machine load (shared CPUs) hits every row alike and the ratios between rows
    stay meaningful. A row stops being timed once its timed calls took
    ``repeat_budget_s`` seconds (it keeps at least one).
    """
    names = list(fns)
    times = {n: [] for n in names}
    spent = {n: 0.0 for n in names}
    for r in range(max(1, repeats)):
        k = r % len(names) if names else 0
        for n in names[k:] + names[:k]:
            if times[n] and repeat_budget_s is not None and spent[n] > repeat_budget_s:
                continue
            sync(device)
            t0 = time.perf_counter()
            fns[n]()
            sync(device)
            dt = time.perf_counter() - t0
            spent[n] += dt
            times[n].append(dt * 1e3)
    return {n: {"median_ms": statistics.median(t), "min_ms": min(t), "times_ms": t, "repeats": len(t)}
            for n, t in times.items()}


# --------------------------------------------------------------------------- memory
class SavedBytes:
    """Counts the bytes autograd saves for backward inside the context.

    Uses ``torch.autograd.graph.saved_tensors_hooks``; each saved tensor is
    attributed to its storage, deduplicated by ``untyped_storage().data_ptr()``,
    and the storage's full ``nbytes`` is counted once. Tensors that are saved
    are kept alive by the graph, so their addresses cannot be reused while the
    context is open. Saved parameters and the (leaf) input count too: they are
    what the graph keeps.
    """

    def __init__(self):
        self.storages: dict[tuple, int] = {}
        self.count = 0

    def _pack(self, t):
        self.count += 1
        try:
            st = t.untyped_storage()
            key = (str(t.device), st.data_ptr())
            if key not in self.storages and st.data_ptr() != 0:
                self.storages[key] = st.nbytes()
        except Exception:  # pragma: no cover - tensor subclasses without storage
            key = ("id", id(t))
            self.storages[key] = t.numel() * t.element_size()
        return t

    @staticmethod
    def _unpack(t):
        return t

    @property
    def nbytes(self) -> int:
        return int(sum(self.storages.values()))

    @contextmanager
    def track(self):
        with torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack):
            yield self


def measure_saved_bytes(forward) -> int:
    """Bytes saved for backward by ``out = forward()`` (the output is discarded)."""
    counter = SavedBytes()
    with counter.track():
        out = forward()
    del out
    return counter.nbytes


def cuda_peak_mib(fn, device) -> float | None:
    """``torch.cuda.max_memory_allocated`` during ``fn()`` (MiB), ``None`` off CUDA."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated(device) / 2**20


MIB = 2**20


# --------------------------------------------------------------------------- output
def fmt(v, digits: int = 2) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def format_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A GitHub-markdown table: ``columns`` is ``[(key, header), ...]``."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    lines = [head, sep]
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(k)) for k, _ in columns) + " |")
    return "\n".join(lines)


def write_json(path: str | None, payload: dict) -> None:
    if not path:
        return
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=str)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per row (median reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up calls per row (MKL needs ~3 per GEMM shape)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    p.add_argument("--json", default=None, help="write results here")
    p.add_argument("--quick", action="store_true", help="small sizes (CPU smoke / < 3 min on 2 cores)")
    p.add_argument("--no-progress", action="store_true", help="disable the tqdm progress bar")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-malloc-tune", action="store_true",
                   help="keep glibc's default mmap threshold (see mfp_plugin.engine.tune_malloc)")
    return p
