"""Pipeline stages: one module per stage, each a block usable with `Dataset.map(batched=True)`."""

from .prepare import Prepare, PrepareConfig, iter_prepare

__all__ = ["Prepare", "PrepareConfig", "iter_prepare"]
