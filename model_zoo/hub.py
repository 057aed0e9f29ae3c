"""Hashing and downloading of checkpoint files.

Files fetched from a URL land in ``torch.hub.get_dir()/checkpoints`` (the
cache torchvision and timm use) and are checked against a sha256 before use.
Every network operation (connect and each read) gives up after
:func:`download_timeout` seconds (``MFP_DOWNLOAD_TIMEOUT``, default 60), so a
server that accepts and never answers cannot hang the caller. Offline
machines: put the file at the path named in the error message.

>>> import tempfile, os
>>> from model_zoo.hub import sha256_file
>>> with tempfile.NamedTemporaryFile(delete=False) as f:
...     _ = f.write(b"abc")
>>> sha256_file(f.name)[:16]
'ba7816bf8f01cfea'
>>> os.remove(f.name)
"""
from __future__ import annotations

import hashlib
import http.client
import math
import os
import shutil
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Optional, Union
from urllib.parse import urlparse

import torch

from mfp_plugin.downloads import DEFAULT_DOWNLOAD_TIMEOUT_S, TIMEOUT_ENV, download_timeout, socket_timeout

__all__ = ["ChecksumError", "DownloadError", "sha256_file", "verify_sha256", "is_url", "hub_checkpoint_dir",
           "cached_file_path", "download_timeout", "socket_timeout", "download_cached_file",
           "DEFAULT_DOWNLOAD_TIMEOUT_S", "TIMEOUT_ENV"]



class ChecksumError(RuntimeError):
    """A file's sha256 is not the expected one (corrupt, truncated or tampered)."""


class DownloadError(RuntimeError):
    """A download failed (offline, refused, timed out, HTTP error); the
    message names the URL and where to put the file by hand."""


def sha256_file(path: Union[str, os.PathLike], chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (checkpoints can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: Union[str, os.PathLike], expected: Optional[str]) -> str:
    """Return the file's sha256; raise :class:`ChecksumError` if it differs
    from ``expected`` (a full hex digest, or a prefix of at least 8 chars)."""
    actual = sha256_file(path)
    if expected is None:
        return actual
    exp = expected.strip().lower()
    if len(exp) < 8 or any(c not in "0123456789abcdef" for c in exp):
        raise ValueError(f"expected sha256 must be hex (>= 8 chars), got {expected!r}")
    if not actual.startswith(exp):
        raise ChecksumError(
            f"sha256 mismatch for {os.fspath(path)}: expected {exp}, got {actual}. "
            "The file is corrupt, truncated or has been modified; delete it and fetch it again.")
    return actual


def is_url(s: Union[str, os.PathLike]) -> bool:
    """True for ``http(s)://``, ``ftp://`` and ``file://`` strings."""
    return isinstance(s, str) and urlparse(s).scheme in ("http", "https", "ftp", "file")


def hub_checkpoint_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints`` (honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_file_path(url: str, filename: Optional[str] = None) -> Path:
    """Where :func:`download_cached_file` keeps ``url`` (``filename``, else the
    URL's base name, in :func:`hub_checkpoint_dir`).

    >>> cached_file_path("https://example.org/w/a.safetensors").name
    'a.safetensors'
    """
    name = filename or os.path.basename(urlparse(url).path)
    # a URL ending in "/" or "/.." must not name the cache directory itself
    return hub_checkpoint_dir() / (name if name not in ("", ".", "..") else "checkpoint.bin")


def _fetch(url: str, dst: Path, timeout: float, progress: bool) -> None:
    # An interrupted download never leaves a partial dst behind.
    from mfp_plugin.atomic_io import atomic_output

    with atomic_output(dst) as tmp:
        with open(tmp, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as r:
            if progress:
                from torch.hub import tqdm

                total = r.headers.get("Content-Length")
                with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, desc=dst.name) as bar:
                    for block in iter(lambda: r.read(1 << 20), b""):
                        f.write(block)
                        bar.update(len(block))
            else:
                shutil.copyfileobj(r, f, 1 << 20)


def _is_timeout(e: BaseException) -> bool:
    return isinstance(e, TimeoutError) or isinstance(getattr(e, "reason", None), TimeoutError)


def _download_error(url: str, dst: Path, sha256: Optional[str], timeout: float, e: BaseException) -> DownloadError:
    if _is_timeout(e):
        why = f"no answer within the {timeout:g} s timeout; {TIMEOUT_ENV} sets it"
    else:
        why = f"{type(e).__name__}: {e}; network timeout {timeout:g} s, {TIMEOUT_ENV} sets it"
    return DownloadError(
        f"could not download {dst.name} from {url} ({why}). If this machine is offline, download the file "
        f"elsewhere and place it at {dst}" + (f" (expected sha256 {sha256})" if sha256 else "")
        + "; it is then used without a download.")


def download_cached_file(url: str, sha256: Optional[str] = None, filename: Optional[str] = None,
                         progress: bool = False, timeout: Optional[float] = None) -> Path:
    """Return a local copy of ``url`` from the hub cache, downloading it if needed.

    A cached file whose hash does not match is downloaded again; a fresh
    download that does not match is deleted and :class:`ChecksumError` raised.
    ``timeout`` (default :func:`download_timeout`) bounds the connect and
    every read. Network failures raise :class:`DownloadError` naming the
    file, the URL, the timeout, and the local path where the file can be
    placed by hand.
    """
    if not is_url(url):
        raise ValueError(f"not a URL: {url!r}")
    timeout = download_timeout() if timeout is None else float(timeout)
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    dst = cached_file_path(url, filename)
    if dst.exists():
        try:
            verify_sha256(dst, sha256)
            return dst
        except ChecksumError as e:
            warnings.warn(f"{e} Downloading it again.", UserWarning, stacklevel=2)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        _fetch(url, dst, timeout, progress)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        raise _download_error(url, dst, sha256, timeout, e) from e
    try:
        verify_sha256(dst, sha256)
    except ChecksumError:
        dst.unlink(missing_ok=True)
        raise
    return dst
