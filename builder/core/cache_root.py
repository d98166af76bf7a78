"""Where the builder keeps what it derives once per machine: converted models, decoded
language-ID tables, request caches. Here, below every other layer, because the language-ID
detectors and the engines both write there."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    """Where converted models and request caches live (override with X_INSTRUCTION_CACHE)."""
    root = os.environ.get("X_INSTRUCTION_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "x-instruction"


def write_folder(target: Path, marker: str, fill: Callable[[Path], None], prefix: str) -> None:
    """Make `target` by `fill`ing a temporary sibling folder and renaming it into place: a
    process killed half way never leaves a folder that later runs would trust (they look for
    `marker` in it), and of two processes writing at once, the one that loses the rename keeps
    the winner's complete copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is shared like any model cache
        fill(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / marker).is_file():  # lost a race to another process: fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
