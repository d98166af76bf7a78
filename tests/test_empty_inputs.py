"""Corpora with nothing to read: an empty `.jsonl`, a `.txt` of blank lines. The language gets 0
rows and a funnel line saying why; the other languages are built; every shard of the empty one
carries its own stage's columns, so a rerun never trips over them."""

from __future__ import annotations

import pyarrow.parquet as pq
from _cli_build import build_args, cli, published, read_json, udhr_corpus

from builder.core.schema import GENERATED, PREPARED, REFINED

STAGES = {"prepare": PREPARED, "generate": GENERATED, "refine": REFINED}


def _assert_stage_columns(work, lang):
    for stage, features in STAGES.items():
        shards = sorted((work / lang).glob(f"{stage}-*/shard-*.parquet"))
        assert shards, stage
        for shard in shards:
            assert pq.read_schema(shard).names == list(features), shard


def test_an_empty_language_is_reported_and_the_rest_is_built(tmp_path, shared_data, capsys):
    corpus = udhr_corpus(tmp_path / "corpus", shared_data, langs=("sw",))
    (tmp_path / "corpus" / "fi.jsonl").write_text("")
    args = build_args(tmp_path, corpus, "sw,fi")
    for _attempt in range(2):  # the rerun reads the first run's empty shards back
        run = cli(args, capsys)
        assert run.code == 0, run.err
        assert "fi: 0 of 0 rows kept (no documents read)" in run.out
        assert published(tmp_path / "out", "sw")
        info = read_json(tmp_path / "out" / "build_info.json")
        assert info["funnel"]["fi"]["rows_in"] == 0 and info["empty_configs"] == ["fi"]
        _assert_stage_columns(tmp_path / "work", "fi")


def test_a_corpus_of_blank_lines_fails_cleanly_every_time(tmp_path, capsys):
    (tmp_path / "blank.txt").write_text("\n\n   \n\n\t\n")
    args = build_args(tmp_path, str(tmp_path / "blank.txt"))
    for _attempt in range(2):
        run = cli(args, capsys)
        assert run.code == 2, run.err  # bad input: the corpus, not the filters or the model
        assert (
            f"the corpus has no rows: nothing to read for sw in {tmp_path / 'blank.txt'}" in run.err
        )
        assert "--accept-score" not in run.err and "schema" not in run.err
        _assert_stage_columns(tmp_path / "work", "sw")
