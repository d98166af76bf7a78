"""Progress bars: ours are one per stage (or per config), so the libraries' own are hushed."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def quiet_datasets_bars():
    """Hide `datasets`' per-shard bars (`map`, Parquet writes) while ours run, then restore
    whatever the caller had set."""
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()
