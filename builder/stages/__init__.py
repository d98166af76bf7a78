"""Pipeline stages: one module per stage, each a `Stage` (base.py) usable with
`Dataset.map(batched=True)`, declared in order in plan.py."""

from .prepare import Prepare, PrepareConfig

__all__ = ["Prepare", "PrepareConfig"]
