"""Readers for the three event-file formats, all SpikingJelly's (imported on first use).

Each returns a dict of equal-length arrays ``t`` (microseconds), ``x``, ``y``,
``p`` (1 = ON, 0 = OFF), in file order.

* ATIS ``.bin`` (N-MNIST): 40-bit events, ``x`` (8 bits), ``y`` (8), polarity
  (1), timestamp (23 bits, big-endian) -- ``spikingjelly.datasets.load_ATIS_bin``.
* AEDAT 3.1 (DVS128 Gesture): ``#`` header ending in ``#!END-HEADER``, then
  packets of a 28-byte header and 8-byte polarity events (type 1; other packet
  types are skipped) -- ``spikingjelly.datasets.load_aedat_v3``.
* AEDAT 2.0 (CIFAR10-DVS): ``#`` header lines, then big-endian ``uint32``
  pairs (address, timestamp); the address holds ``x_addr`` in bits 1-7,
  ``y_addr`` in bits 8-14 and the polarity in bit 0, and is read as
  ``x = 127 - y_addr``, ``y = 127 - x_addr``, ``p = 1 - pol`` -- SpikingJelly's
  orientation (see github.com/jackd/events-tfds/pull/1). This reader is
  written here: SpikingJelly 2.x has it only as a private function
  (``cifar10_dvs._load_origin_data``) and 0.0.0.0.14's ``load_origin_data``
  fails under NumPy 2 (``np.fromstring``); a test checks that both agree.
"""
from __future__ import annotations

import os
from typing import Union

import numpy as np

__all__ = ["read_atis_bin", "read_aedat3", "read_cifar10dvs_aedat"]

PathLike = Union[str, os.PathLike]


def _as_int64(events: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(events[k]).astype(np.int64, copy=False) for k in ("t", "x", "y", "p")}


def read_atis_bin(path: PathLike) -> dict[str, np.ndarray]:
    """Events of one N-MNIST ``.bin`` file (``ValueError`` if its size is not a multiple of 5 bytes)."""
    size = os.path.getsize(path)
    if size % 5:
        raise ValueError(f"{path}: {size} bytes is not a whole number of 5-byte ATIS events")
    from spikingjelly.datasets import load_ATIS_bin
    return _as_int64(load_ATIS_bin(str(path)))


def read_aedat3(path: PathLike) -> dict[str, np.ndarray]:
    """Polarity events of one AEDAT 3.1 recording (DVS128 Gesture)."""
    with open(path, "rb") as fh:
        if not fh.read(64).startswith(b"#!AER-DAT3"):
            raise ValueError(f"{path}: not an AEDAT 3.x file (it must start with '#!AER-DAT3')")
    from spikingjelly.datasets import load_aedat_v3
    return _as_int64(load_aedat_v3(str(path)))


def _skip_aedat_header(data: bytes) -> int:
    """Offset of the first byte after the ``#`` header lines."""
    pos = 0
    while data.startswith(b"#", pos):
        end = data.find(b"\n", pos)
        if end < 0:
            return len(data)
        pos = end + 1
    return pos


def read_cifar10dvs_aedat(path: PathLike) -> dict[str, np.ndarray]:
    """Events of one CIFAR10-DVS AEDAT 2.0 file, oriented as SpikingJelly orients them."""
    with open(path, "rb") as fh:
        data = fh.read()
    body = memoryview(data)[_skip_aedat_header(data):]
    if len(body) % 8:
        raise ValueError(f"{path}: {len(body)} bytes after the header are not whole (address, timestamp) "
                         "pairs of big-endian uint32")
    words = np.frombuffer(body, dtype=">u4").astype(np.int64)
    addr, t = words[0::2], words[1::2]
    x_addr, y_addr, pol = (addr & 0xFE) >> 1, (addr & 0x7F00) >> 8, addr & 1
    return {"t": t, "x": 127 - y_addr, "y": 127 - x_addr, "p": 1 - pol}
