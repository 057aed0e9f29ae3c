"""The two ways a dataset on disk can be unusable: absent, or not the file it claims to be."""
from __future__ import annotations

__all__ = ["DatasetNotFoundError", "DataChecksumError"]


class DatasetNotFoundError(FileNotFoundError, RuntimeError):
    """A dataset's files are not where they were looked for, and could not be downloaded.

    The message names the folder(s), the files expected there, their layout and
    how to provide them. It is a ``FileNotFoundError`` (what callers should
    catch); it is also a ``RuntimeError`` because torchvision, which these
    loaders replaced, raised that, and callers written against it catch it.
    """


class DataChecksumError(ValueError, RuntimeError):
    """A data file's checksum differs from its known value; nothing from it was loaded.

    A ``ValueError`` (bad input); also a ``RuntimeError`` for callers written
    against torchvision's "Dataset not found or corrupted" error.
    """
