"""Archive extraction: into place only when complete, never outside the root."""
from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from mfp_plugin.data.archives import extract_archive, find_archive


def test_zip_extracts_its_top_folders(tmp_path):
    with zipfile.ZipFile(tmp_path / "Train.zip", "w") as zf:
        zf.writestr("Train/0/a.bin", b"12345")
        zf.writestr("Train/1/b.bin", b"")
    assert find_archive(tmp_path, ["train.zip"]) == tmp_path / "Train.zip"  # any case
    out = tmp_path / "out"
    assert extract_archive(tmp_path / "Train.zip", out, progress=False) == [out / "Train"]
    assert (out / "Train" / "0" / "a.bin").read_bytes() == b"12345"
    assert [p.name for p in out.iterdir()] == ["Train"]
    with pytest.raises(FileExistsError, match="already exists"):
        extract_archive(tmp_path / "Train.zip", out, progress=False)


def test_tar_member_escaping_the_root_is_refused(tmp_path):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tf:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(tarfile.TarError):
        extract_archive(evil, tmp_path / "out", progress=False)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "escaped.txt").exists()
    assert list((tmp_path / "out").iterdir()) == []  # the temporary folder is gone too


def test_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        extract_archive(tmp_path / "x.zip", tmp_path / "out", progress=False)
