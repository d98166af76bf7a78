"""The work directory: stage outputs as Parquet shards, written atomically, found again on resume.

Layout: `{work_dir}/{lang}/{stage}-{fingerprint}/shard-00000.parquet`. The fingerprint hashes
everything that decides a stage's output (its settings, the model, the prompt versions and the
upstream stage's fingerprint), so changing a setting starts that stage and every later one
afresh while earlier shards are reused. A shard exists only once complete: it is written to a
temporary name and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset, Features

from .engines.base import stable_hash

DONE = "_DONE"


def fingerprint(*parts) -> str:
    return stable_hash(*parts)[:12]


class StageDir:
    def __init__(self, root: Path, lang: str, stage: str, fp: str):
        self.path = Path(root) / lang / f"{stage}-{fp}"

    def shard(self, index: int) -> Path:
        return self.path / f"shard-{index:05d}.parquet"

    def shards(self) -> list[Path]:
        return sorted(self.path.glob("shard-*.parquet")) if self.path.is_dir() else []

    def has(self, index: int) -> bool:
        return self.shard(index).is_file()

    @property
    def complete(self) -> bool:
        return (self.path / DONE).is_file()

    def mark_complete(self) -> None:
        (self.path / DONE).write_text("")

    def reset(self) -> None:
        """Remove a partial stage (used for prepare, whose dedup state spans all shards)."""
        for shard in self.shards():
            shard.unlink()
        (self.path / DONE).unlink(missing_ok=True)

    def write(self, index: int, dataset: Dataset) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.shard(index)
        tmp = target.with_suffix(f".tmp-{os.getpid()}")
        pq.write_table(dataset.data.table, tmp)
        os.replace(tmp, target)  # atomic: a killed run leaves no half-written shard behind
        return target


def alive_rows(dataset: Dataset) -> int:
    """Rows no stage has dropped yet (what the model stages work on and their bars count)."""
    return sum(1 for d in dataset["dropped"] if d is None)


def read_shard(path: Path, features: Features) -> Dataset:
    table = pq.read_table(path)
    return Dataset(table.cast(features.arrow_schema)) if table.schema != features.arrow_schema else Dataset(table)


def read_stage(paths: list[Path], features: Features) -> Dataset:
    if not paths:
        return Dataset.from_dict({name: [] for name in features}, features=features)
    tables = [pq.read_table(p).cast(features.arrow_schema) for p in paths]
    return Dataset(pa.concat_tables(tables))
