"""A work dir that cannot lie: a damaged shard or request cache is found, named, set aside and
redone on the next run of the same command, and what is published is what the model said.

Each test runs `x-instruction build` twice through builder.cli.main on the UDHR (scripted
model), damaging a real file of the first run's work dir in between."""

from __future__ import annotations

import logging
import os
import sqlite3

import pyarrow.parquet as pq
import pytest
from _cli_build import build_args, cli, published, udhr_corpus

from builder.core.workdir import CORRUPT_SUFFIX, StageDir, checksum_path, verify_shard


@pytest.fixture
def first_build(tmp_path, shared_data, capsys):
    """A finished build: (args, its published sw rows)."""
    args = build_args(tmp_path, udhr_corpus(tmp_path / "corpus", shared_data))
    run = cli(args, capsys)
    assert run.code == 0, run.err
    return args, published(tmp_path / "out")


def _shards(tmp_path, stage: str) -> list:
    return sorted((tmp_path / "work" / "sw").glob(f"{stage}-*/shard-*.parquet"))


def _rerun(args, capsys, caplog):
    with caplog.at_level(logging.WARNING):
        return cli(args, capsys)


def test_a_changed_byte_in_a_refine_shard_is_redone_not_published(
    tmp_path, first_build, capsys, caplog
):
    args, before = first_build
    instruction = before[0]["instruction"].encode()
    # the shard that holds it, and the instruction's bytes inside its data page
    shard = next(p for p in _shards(tmp_path, "refine") if instruction in p.read_bytes())
    data = bytearray(shard.read_bytes())
    at = data.index(instruction)
    data[at] ^= 0x01  # "Explain" -> "Dxplain": still valid Parquet, silently different text
    shard.write_bytes(bytes(data))
    assert pq.read_table(shard).num_rows  # the damage is invisible to a Parquet reader

    run = _rerun(args, capsys, caplog)
    assert run.code == 0, run.err
    assert str(shard) in caplog.text and "corrupt" in caplog.text
    assert shard.with_name(shard.name + CORRUPT_SUFFIX).is_file()
    # redone from the request cache, not published damaged
    assert published(tmp_path / "out") == before
    assert run.calls == 0 and "model calls: 0" in run.out


def test_a_truncated_generate_shard_is_redone(tmp_path, first_build, capsys, caplog):
    args, before = first_build
    shard = _shards(tmp_path, "generate")[1]
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size // 2)
    run = _rerun(args, capsys, caplog)
    assert run.code == 0, run.err
    assert str(shard) in caplog.text
    assert published(tmp_path / "out") == before
    assert run.calls == 0  # its requests were in the cache


def test_an_emptied_prepare_shard_redoes_prepare(tmp_path, first_build, capsys, caplog):
    args, before = first_build
    shard = _shards(tmp_path, "prepare")[0]
    shard.write_bytes(b"")
    run = _rerun(args, capsys, caplog)
    assert run.code == 0, run.err
    assert str(shard) in caplog.text
    assert pq.read_table(shard).num_rows == 2 and verify_shard(shard)
    assert published(tmp_path / "out") == before


def test_a_deleted_prepare_shard_is_noticed(tmp_path, first_build, capsys, caplog):
    """prepare is complete only with every shard it wrote: one gone means prepare is redone,
    not that the language silently lost rows."""
    args, before = first_build
    _shards(tmp_path, "prepare")[1].unlink()
    run = _rerun(args, capsys, caplog)
    assert run.code == 0, run.err
    assert "holds 1 shards but wrote 2" in caplog.text
    assert published(tmp_path / "out") == before


def test_a_cache_that_is_not_a_database_is_set_aside(tmp_path, first_build, capsys, caplog):
    args, before = first_build
    cache = tmp_path / "work" / "cache.sqlite"
    cache.write_bytes(os.urandom(100_000))
    for shard in _shards(tmp_path, "refine"):  # refine must ask again: the cache is gone
        shard.unlink()
    run = _rerun(args, capsys, caplog)
    assert run.code == 0, run.err
    assert str(cache) in caplog.text and "file is not a database" in caplog.text
    assert len(list(cache.parent.glob("cache.sqlite.corrupt-*"))) == 1
    assert run.calls > 0 and published(tmp_path / "out") == before


def test_a_truncated_cache_is_set_aside_and_finished_shards_count(
    tmp_path, first_build, capsys, caplog
):
    args, before = first_build
    cache = tmp_path / "work" / "cache.sqlite"
    sqlite3.connect(cache).execute("PRAGMA wal_checkpoint(TRUNCATE)").connection.close()
    with open(cache, "r+b") as f:
        f.truncate(cache.stat().st_size // 2)
    run = _rerun(args, capsys, caplog)
    assert run.code == 0, run.err
    assert str(cache) in caplog.text
    assert run.calls == 0  # every shard was finished: nothing needed the cache
    assert published(tmp_path / "out") == before


def test_a_cached_value_that_is_not_json_is_a_miss(tmp_path, first_build, capsys, caplog):
    args, before = first_build
    cache = tmp_path / "work" / "cache.sqlite"
    db = sqlite3.connect(cache)
    db.execute("UPDATE requests SET value = '{not json'")
    db.commit()
    db.close()
    for shard in _shards(tmp_path, "refine"):
        shard.unlink()
    run = _rerun(args, capsys, caplog)
    assert run.code == 0, run.err
    assert "not valid JSON" in caplog.text and str(cache) in caplog.text
    assert run.calls > 0 and published(tmp_path / "out") == before


def test_a_shard_from_an_older_builder_is_checked_by_its_columns(tmp_path):
    """Work dirs written before checksums: a readable shard with the stage's columns is adopted,
    one with another stage's columns (the old empty-shard bug) is moved aside."""
    from datasets import Dataset

    from builder.core.schema import GENERATED, PREPARED

    # the column types the plan gives generate
    stage = StageDir(tmp_path, "sw", "generate", "abc", GENERATED)
    stage.path.mkdir(parents=True)
    good, bad = stage.shard(0), stage.shard(1)
    pq.write_table(
        Dataset.from_dict({n: [] for n in GENERATED}, features=GENERATED).data.table, good
    )
    pq.write_table(Dataset.from_dict({n: [] for n in PREPARED}, features=PREPARED).data.table, bad)
    assert stage.has(0) and checksum_path(good).is_file()
    assert not stage.has(1) and bad.with_name(bad.name + CORRUPT_SUFFIX).is_file()
