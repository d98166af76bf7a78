"""Pipeline stages: one module per stage, each a block usable with `Dataset.map(batched=True)`."""

from .prepare import Prepare, PrepareConfig

__all__ = ["Prepare", "PrepareConfig"]
