"""The build's last table per language, kept in the work dir so that an unchanged rerun is cheap.

After the model stages, a language's rows still pass relevance, the rater's negative controls,
select and diversify, and each of these reads or rewrites the whole language. Their result
(the DIVERSIFIED table, with the language's funnel and quality reports) is kept as
`{lang}/final-{fp}/shard-00000.parquet` plus `final.json`. The fingerprint hashes the checksums
of the refine shards it was made from (checked by the model stages on every run), the settings
of the later stages and the builder's version, so a rerun whose refine shards and settings are
unchanged reads it back, and any other change makes it again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from datasets import Dataset

from .. import __version__
from ..core.schema import DIVERSIFIED
from ..core.workdir import StageDir, fingerprint, read_shard, recorded_checksums

REPORT = "final.json"


def final_fingerprint(refined: list[Path], *settings) -> str:
    return fingerprint("final", __version__, recorded_checksums(refined), *settings)


class FinalStage:
    def __init__(self, work: Path, lang: str, fp: str):
        self.stage = StageDir(work, lang, "final", fp)

    def ready(self) -> bool:
        """Written completely, with its shard's recorded bytes (a damaged one is moved aside)."""
        return self.stage.complete and (self.stage.path / REPORT).is_file() and self.stage.intact()

    def save(self, table: Dataset, funnel: dict, quality: dict) -> None:
        self.stage.reset()
        if table._indices is not None:  # the shard holds the rows as selected, not the table below
            table = table.flatten_indices(keep_in_memory=True)
        self.stage.write(0, table)
        text = json.dumps({"funnel": funnel, "quality": quality}, sort_keys=True, ensure_ascii=False)
        (self.stage.path / REPORT).write_text(text, encoding="utf-8")
        self.stage.mark_complete()

    def report(self) -> tuple[dict, dict]:
        """(funnel entry, quality) as saved, without reading the table."""
        report = json.loads((self.stage.path / REPORT).read_text(encoding="utf-8"))
        return report["funnel"], report["quality"]

    def table(self) -> Dataset:
        """The saved table, read into memory (one language: callers read one at a time)."""
        return read_shard(self.stage.shard(0), DIVERSIFIED)

    def num_rows(self) -> int:
        return pq.ParquetFile(self.stage.shard(0)).metadata.num_rows
