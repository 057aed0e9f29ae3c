"""Writers for tiny event files in the three real binary formats, from events the tests choose.

Each writer encodes ``(t, x, y, p)`` events exactly as the format's spec lays
out the bits, independently of the package (which reads them with
SpikingJelly's readers), so a test can state the frames it expects by hand.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Sequence

import numpy as np

Event = tuple[int, int, int, int]  # (t_us, x, y, p)


def write_atis_bin(path: Path, events: Sequence[Event]) -> Path:
    """N-MNIST: 5 bytes per event: x, y, then p (1 bit) and t (23 bits), big-endian."""
    out = bytearray()
    for t, x, y, p in events:
        assert 0 <= t < 2 ** 23 and 0 <= x < 256 and 0 <= y < 256 and p in (0, 1)
        out += bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def _aedat3_packet(event_type: int, payload: bytes, n: int, ts_overflow: int = 0) -> bytes:
    # eventType, eventSource, eventSize, eventTSOffset, eventTSOverflow, eventCapacity, eventNumber, eventValid
    return struct.pack("<hhiiiiii", event_type, 1, 8, 4, ts_overflow, n, n, n) + payload


def write_aedat3(path: Path, packets: Sequence[Sequence[Event]], special_packet: bool = True) -> Path:
    """DVS128 Gesture: AEDAT 3.1 header, then one polarity packet (type 1) per entry of ``packets``.

    Polarity event: uint32 data (bit 0 valid, bit 1 polarity, bits 2-16 y, bits 17-31 x),
    int32 timestamp, little-endian. ``special_packet`` puts a type-0 packet first
    (special events, which readers must skip).
    """
    out = bytearray(b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n")
    if special_packet:
        out += _aedat3_packet(0, struct.pack("<Ii", 0xFFFFFFFF, 7) * 2, 2)
    for events in packets:
        payload = b"".join(struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1) | 1, t) for t, x, y, p in events)
        out += _aedat3_packet(1, payload, len(events))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def cifar10dvs_address(x: int, y: int, p: int) -> int:
    """The AEDAT 2.0 address whose event SpikingJelly reads as ``(x, y, p)`` on CIFAR10-DVS.

    The DVS128 address holds ``x_addr`` in bits 1-7, ``y_addr`` in bits 8-14 and
    the polarity in bit 0; the documented reading is ``x = 127 - y_addr``,
    ``y = 127 - x_addr``, ``p = 1 - pol``.
    """
    x_addr, y_addr, pol = 127 - y, 127 - x, 1 - p
    return (y_addr << 8) | (x_addr << 1) | pol


def write_aedat2(path: Path, raw: Sequence[tuple[int, int]]) -> Path:
    """AEDAT 2.0: '#' header lines, then big-endian uint32 ``(address, timestamp)`` pairs."""
    body = np.array(raw, dtype=">u4").reshape(-1).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n" + body)
    return path


def write_cifar10dvs_file(path: Path, events: Sequence[Event]) -> Path:
    return write_aedat2(path, [(cifar10dvs_address(x, y, p), t) for t, x, y, p in events])


def frames_of(events: Sequence[Event], bounds: Sequence[tuple[int, int]], H: int, W: int) -> np.ndarray:
    """Expected frames, counted by hand: frame ``j`` counts ``events[a:b]`` for ``(a, b) = bounds[j]``."""
    out = np.zeros((len(bounds), 2, H, W), dtype=np.float32)
    for j, (a, b) in enumerate(bounds):
        for _, x, y, p in events[a:b]:
            out[j, p, y, x] += 1
    return out
