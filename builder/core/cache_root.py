"""Where the builder keeps what it derives once per machine: converted models, decoded
language-ID tables, request caches. Here, below every other layer, because the language-ID
detectors and the engines both write there."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where converted models and request caches live (override with X_INSTRUCTION_CACHE)."""
    root = os.environ.get("X_INSTRUCTION_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "x-instruction"
