"""The contract every stage keeps: a batched `Dataset.map` function with declared column types.

A stage takes a batch (column name -> list of values) and returns the columns it adds or
rewrites; like `Dataset.map(batched=True)`, the row after the stage is the input row updated
with what it returned. `input_features` are the columns it reads, `output_features` the whole
row after it (what `map(..., features=)` gets), both from builder/stages/schema.py, so Parquet
shards written by any process, at any time, have the same types.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from datasets import Features

from ..core.workdir import empty_dataset


@runtime_checkable
class Stage(Protocol):
    name: str
    input_features: Features
    output_features: Features

    def __call__(self, batch: dict[str, list]) -> dict[str, list]: ...


class Applied:
    """A stage whose result is already known (`stored`: what its `run` gave, computed now or read
    back from the work dir), as a `Dataset.map` function: `stage.apply(batch, stored)`. The
    language stages compute in `run` and add their columns through this, so the pipeline keeps
    what `run` gives without the stage touching the work dir."""

    def __init__(self, stage, stored: dict[str, list]):
        self.stage = stage
        self.stored = stored
        self.name = stage.name
        self.input_features = stage.input_features
        self.output_features = stage.output_features

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        return self.stage.apply(batch, self.stored)


def apply_stage(table, stage: Stage, fingerprint: str, batch_size: int | None = None):
    """`table` mapped through `stage`, typed by its `output_features`. `batch_size=None` hands
    the stage the whole table at once (stages that compare rows: relevance, diversify)."""
    if not len(table):  # `map` over no rows returns its input unchanged, with the input's columns
        return empty_dataset(stage.output_features)
    return table.map(
        stage,
        batched=True,
        batch_size=batch_size,
        features=stage.output_features,
        keep_in_memory=True,
        new_fingerprint=fingerprint,
    )


def apply_stage_to_table(table, stage: Stage):
    """`apply_stage` for one shard held as an Arrow table, with the whole shard as one batch:
    the same rows and types as `Dataset.map(stage, batched=True, features=...)` gives, without
    the Dataset around it. Per shard, map's fingerprinting and features copies cost more than a
    fast model's replies (benchmarks/bench_throughput.py)."""
    import pyarrow as pa

    schema = stage.output_features.arrow_schema
    if not table.num_rows:
        return schema.empty_table()
    batch = table.to_pydict()
    row = {**batch, **stage(batch)}  # like map: the input row, updated with what the stage returned
    return pa.Table.from_pydict({name: row[name] for name in stage.output_features}, schema=schema)
