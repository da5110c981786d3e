"""Where things live by default. One home for paths, so tests and commands agree.

Every default can be overridden from the environment (see ``serving.settings`` and ``features.sources``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The read-only public data beside the repository (``IMR_SHARED_DIR`` overrides)."""
    return Path(os.environ.get("IMR_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


def data_dir() -> Path:
    """Derived data (git-ignored): the item table, manifest and rejects (``IMR_DATA_DIR`` overrides)."""
    return Path(os.environ.get("IMR_DATA_DIR", REPO_ROOT / "data")).resolve()


def items_path() -> Path:
    return data_dir() / "items.parquet"


def rejects_path() -> Path:
    return data_dir() / "rejects.csv"
