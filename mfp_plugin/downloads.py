"""One timeout for every network read of the package (checkpoints, data sets, torchvision weights).

A server that accepts a connection and never answers must not hang a process:
each connect and each read waits at most :func:`download_timeout` seconds
(``$MFP_DOWNLOAD_TIMEOUT``, default 60). Our own downloads pass it to
``urlopen``; third-party downloaders that take no timeout (torchvision's) run
inside :func:`socket_timeout`.
"""
from __future__ import annotations

import contextlib
import math
import os
import socket
from typing import Iterator

__all__ = ["download_timeout", "socket_timeout", "DEFAULT_DOWNLOAD_TIMEOUT_S", "TIMEOUT_ENV"]

DEFAULT_DOWNLOAD_TIMEOUT_S = 60.0
TIMEOUT_ENV = "MFP_DOWNLOAD_TIMEOUT"


def download_timeout() -> float:
    """Seconds any one network operation may wait: ``$MFP_DOWNLOAD_TIMEOUT``
    or 60.

    >>> download_timeout() > 0
    True
    """
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_DOWNLOAD_TIMEOUT_S
    try:
        t = float(raw)
    except ValueError:
        t = math.nan
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds > 0, got {raw!r}")
    return t


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Give sockets opened inside the block a ``seconds`` timeout.

    Only for third-party downloaders that take no timeout (torchvision's
    ``get_state_dict``); the default is process-wide, so it is restored on exit.
    """
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)
