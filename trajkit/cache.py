"""Where trajkit caches what it derives once: prepared and converted models, retrieval indexes,
judge replies, the local Argilla server's environment."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where trajkit caches converted models and indexes (TRAJKIT_CACHE overrides)."""
    root = os.environ.get("TRAJKIT_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")
    ) / "trajkit"
    return Path(root)
