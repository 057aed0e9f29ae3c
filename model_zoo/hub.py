"""Download and integrity helpers.

Files fetched from a URL land in ``torch.hub.get_dir()/checkpoints`` (the
cache torchvision and timm use) and are checked against a sha256 before use.
Offline machines: put the file at the path named in the error message.

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
import os
import urllib.error
import warnings
from pathlib import Path
from typing import Optional, Union
from urllib.parse import urlparse

import torch

__all__ = ["ChecksumError", "sha256_file", "verify_sha256", "is_url", "hub_checkpoint_dir",
           "download_cached_file"]


class ChecksumError(RuntimeError):
    """A file's sha256 is not the expected one (corrupt, truncated or tampered)."""


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


def download_cached_file(url: str, sha256: Optional[str] = None, filename: Optional[str] = None,
                         progress: bool = False) -> Path:
    """Return a local copy of ``url`` from the hub cache, downloading it if needed.

    A cached file whose hash does not match is downloaded again; a fresh
    download that does not match is deleted and :class:`ChecksumError` raised.
    Network failures raise ``RuntimeError`` naming the file, the URL and the
    local path where the file can be placed by hand.
    """
    if not is_url(url):
        raise ValueError(f"not a URL: {url!r}")
    name = filename or os.path.basename(urlparse(url).path) or "checkpoint.bin"
    dst = hub_checkpoint_dir() / name
    if dst.exists():
        try:
            verify_sha256(dst, sha256)
            return dst
        except ChecksumError as e:
            warnings.warn(f"{e} Downloading it again.", UserWarning, stacklevel=2)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        # download_url_to_file writes a temp file next to dst and renames it,
        # so an interrupted download never leaves a partial dst behind.
        torch.hub.download_url_to_file(url, os.fspath(dst), hash_prefix=None, progress=progress)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise RuntimeError(
            f"could not download {name} from {url} ({type(e).__name__}: {e}). If this machine is "
            f"offline, download the file elsewhere and place it at {dst}"
            + (f" (expected sha256 {sha256})" if sha256 else "") + "; it is then used without a download."
        ) from e
    try:
        verify_sha256(dst, sha256)
    except ChecksumError:
        dst.unlink(missing_ok=True)
        raise
    return dst
