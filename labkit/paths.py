"""Where labkit keeps things: the repository's ``datasets/`` cache and ``runs/`` records.

Inside a clone of the workbook these are folders of the clone. When labkit is installed
on its own (Colab, a plain ``pip install``), they fall back to ``~/.cache/labkit``.
``$LABKIT_CACHE`` and ``$LABKIT_RUNS`` override either.
"""
from __future__ import annotations

import os
from pathlib import Path

from labkit import settings


def repo_root() -> Path | None:
    """The workbook clone labkit was imported from, or None for an installed copy."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "notebooks").is_dir() and (root / "labkit").is_dir() else None


def _home_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "labkit"


def cache_dir() -> Path:
    """The data cache: ``$LABKIT_CACHE``, else ``<clone>/datasets``, else ``~/.cache/labkit/datasets``."""
    if settings.cache_dir():
        return Path(settings.cache_dir()).expanduser()
    root = repo_root()
    return root / "datasets" if root else _home_cache() / "datasets"


def runs_dir() -> Path:
    """Where run records go: ``$LABKIT_RUNS``, else ``<clone>/runs``, else ``~/.cache/labkit/runs``."""
    if settings.runs_dir():
        return Path(settings.runs_dir()).expanduser()
    root = repo_root()
    return root / "runs" if root else _home_cache() / "runs"
