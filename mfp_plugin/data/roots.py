"""Where datasets are downloaded to when no root is given."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_data_root"]


def default_data_root() -> Path:
    """``$MFP_DATA`` if set, else ``~/.cache/mfp_plugin/data``."""
    env = os.environ.get("MFP_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mfp_plugin" / "data"
