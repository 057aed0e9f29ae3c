"""Official archives of the event datasets: find, download (md5-checked) and extract them.

An archive is extracted into a temporary folder beside the data and its
top-level folders are then moved into place with ``os.replace``, so an
interrupted extraction never leaves a half-filled ``Train/`` that would later
pass for the real thing. Tar members go through Python's ``"data"`` filter and
zip members through ``zipfile``'s own sanitising (no absolute paths, no ``..``).
"""
from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from .errors import DatasetNotFoundError

__all__ = ["Resource", "RawFolder", "find_archive", "extract_archive", "download_resources",
           "ensure_raw_folders"]


@dataclass(frozen=True)
class Resource:
    """One downloadable file: its published name, where it comes from and its md5."""

    filename: str
    url: str
    md5: str


@dataclass(frozen=True)
class RawFolder:
    """A folder a dataset reads, and the archive(s) that extract to it (first name = the official one)."""

    folder: str
    archives: tuple[str, ...]
    resource: Optional[Resource] = None  # None: not downloadable by a script


def ensure_raw_folders(root: Path, needed: Sequence[RawFolder], *, title: str, layout: str,
                       download: bool, manual: str = "", progress: bool = True) -> None:
    """Make every ``root/<folder>`` exist: extract its archive if present, else download it if asked.

    What cannot be provided raises
    :class:`~mfp_plugin.data.errors.DatasetNotFoundError` naming the missing
    folders, their archives, the URLs and the layout expected.
    """
    missing = [n for n in needed if not (root / n.folder).is_dir()]
    for n in missing:
        archive = find_archive(root, n.archives)
        if archive is None and download and n.resource is not None:
            download_resources([n.resource], root, title, layout)
            archive = root / n.resource.filename
        if archive is not None:
            extract_archive(archive, root, progress=progress)
            if not (root / n.folder).is_dir():
                raise DatasetNotFoundError(f"{title}: {archive} did not extract to {root / n.folder}; "
                                           f"expected layout: {layout}")
    still = [n for n in missing if not (root / n.folder).is_dir()]
    if still:
        raise DatasetNotFoundError(_not_found(root, still, title, layout, download, manual))


def _not_found(root: Path, still: Sequence[RawFolder], title: str, layout: str, download: bool,
               manual: str) -> str:
    where = "" if root.is_dir() else " (that folder does not exist)"
    lines = [f"{title} not found under root={root}{where}. Missing: "
             + ", ".join(f"{root / n.folder}/ (or its archive {n.archives[0]} in {root})" for n in still)
             + f".\nExpected layout: {layout}"]
    urls = [n.resource for n in still if n.resource is not None]
    if urls:
        lines.append("Official files:\n" + "\n".join(f"  - {r.filename} (md5 {r.md5}): {r.url}" for r in urls))
        if not download:
            lines.append("Pass download=True (CLI: --download) to fetch them, or put them in the root "
                         "by hand (archives are extracted on first use).")
    if manual:
        lines.append(manual)
    return "\n".join(lines)


def find_archive(root: Path, names: Iterable[str]) -> Optional[Path]:
    """The first of ``names`` present in ``root`` (names compared case-insensitively)."""
    if not root.is_dir():
        return None
    present = {p.name.lower(): p for p in root.iterdir() if p.is_file()}
    for name in names:
        if name.lower() in present:
            return present[name.lower()]
    return None


def _members(archive: Path):
    if zipfile.is_zipfile(archive):
        zf = zipfile.ZipFile(archive)
        return zf, zf.infolist(), lambda m, dest: zf.extract(m, dest)
    if tarfile.is_tarfile(archive):
        tf = tarfile.open(archive)
        return tf, tf.getmembers(), lambda m, dest: tf.extract(m, dest, filter="data")
    raise ValueError(f"{archive} is neither a zip nor a tar archive")


def extract_archive(archive: Path, into: Path, progress: bool = True) -> list[Path]:
    """Extract ``archive`` into ``into``; return the top-level entries it created there."""
    from tqdm.auto import tqdm

    into.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=into, prefix=f".extract-{archive.name}."))
    try:
        handle, members, extract = _members(archive)
        with handle:
            for m in tqdm(members, desc=f"extracting {archive.name}", unit="file", disable=not progress):
                extract(m, tmp)
        placed = []
        for entry in sorted(tmp.iterdir()):
            target = into / entry.name
            if target.exists():
                raise FileExistsError(f"extracting {archive}: {target} already exists; "
                                      "remove it or the archive")
            entry.replace(target)
            placed.append(target)
        return placed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download_resources(resources: Sequence[Resource], root: Path, title: str, layout: str) -> None:
    """Download every resource not yet in ``root`` (md5-checked by torchvision's downloader).

    Failure (offline, HTTP error, md5 mismatch) raises
    :class:`~mfp_plugin.data.errors.DatasetNotFoundError` naming each file, its
    URL and the layout expected, so the files can be placed by hand.
    """
    from torchvision.datasets.utils import check_integrity, download_url

    from ..downloads import download_timeout, socket_timeout

    root.mkdir(parents=True, exist_ok=True)
    for res in resources:
        if check_integrity(str(root / res.filename), res.md5):
            continue
        try:
            with socket_timeout(download_timeout()):  # torchvision's downloader takes no timeout
                download_url(res.url, str(root), filename=res.filename, md5=res.md5)
        except Exception as exc:  # URLError (an OSError), HTTPError, RuntimeError on md5 mismatch...
            listing = "\n".join(f"  - {r.filename} (md5 {r.md5}) from {r.url}" for r in resources)
            raise DatasetNotFoundError(
                f"{title}: downloading {res.url} into {root / res.filename} failed "
                f"({type(exc).__name__}: {exc}); are you offline? On a machine with internet "
                f"access, download\n{listing}\nand put them (or the folders they extract to) in "
                f"{root}. Expected layout: {layout}") from exc
