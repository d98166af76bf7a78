"""`--prepare-workers`: prepare's per-text checks in worker processes give the same prepared
shards, row for row and reason for reason, as the driver alone: on the UDHR and the synthetic
benchmark corpus, with exact and near duplicates spread across shards and texts in another
language mixed in, through the CLI against the stub server (real HTTP, canned replies)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_throughput import write_corpus  # noqa: E402
from stub_server import StubServer  # noqa: E402

from builder.cli import main  # noqa: E402
from builder.stages.prepare import Prepare, PrepareConfig, check_texts  # noqa: E402

LANGS = ("sw", "hi", "th")


def _corpus(folder: Path, shared_data: Path) -> None:
    """Per language: the synthetic texts, then its UDHR articles, copies of earlier texts
    (exact, and with one word added: near), English articles (wrong language) and an empty line."""
    write_corpus(folder, list(LANGS), 90)
    english = [
        json.loads(line)["text"]
        for line in (shared_data / "udhr" / "en.jsonl").read_text(encoding="utf-8").splitlines()
    ][:4]
    for lang in LANGS:
        path = folder / f"{lang}.jsonl"
        texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
        texts += [
            json.loads(line)["text"]
            for line in (shared_data / "udhr" / f"{lang}.jsonl")
            .read_text(encoding="utf-8")
            .splitlines()
        ]
        texts += texts[:3] + [t + " ok" for t in texts[5:8]] + english + [""]
        path.write_text(
            "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts),
            encoding="utf-8",
        )


@pytest.fixture(scope="module")
def builds(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("prepare-workers")
    _corpus(root / "corpus", shared_data)
    with StubServer() as stub:
        for workers in ("1", "2"):
            # --min-relevance 0: the stub's questions are canned (topics picked by a hash of the prompt),
            # unrelated to their text by construction, so the relevance gate would only judge noise;
            # the default gate runs in test_build_e2e (the embedded model) and on true pairs in
            # test_any_language's Yoruba builds.
            code = main(
                [
                    "build",
                    "--corpus",
                    str(root / "corpus"),
                    "--langs",
                    ",".join(LANGS),
                    "--engine",
                    "openai",
                    "--base-url",
                    stub.url,
                    "--model",
                    "smollm2-135m",
                    "--min-relevance",
                    "0",
                    "--shard-size",
                    "16",
                    "--prepare-workers",
                    workers,
                    "--work-dir",
                    str(root / f"work-{workers}"),
                    "--output-dir",
                    str(root / f"out-{workers}"),
                ]
            )
            assert code == 0
    return root


def _prepared(work: Path, lang: str):
    shards = sorted(work.glob(f"{lang}/prepare-*/shard-*.parquet"))
    assert len(shards) > 3  # the duplicates fall in other shards than their originals
    return [pq.read_table(path) for path in shards]


def test_workers_prepare_the_same_rows_with_the_same_reasons(builds):
    for lang in LANGS:
        alone, pooled = _prepared(builds / "work-1", lang), _prepared(builds / "work-2", lang)
        assert [t.num_rows for t in alone] == [t.num_rows for t in pooled]
        assert all(a.equals(b) for a, b in zip(alone, pooled)), lang
        reasons = [r for t in alone for r in t.column("dropped").to_pylist()]
        assert {"exact_duplicate", "near_duplicate", "wrong_language", "empty"} <= set(reasons), (
            lang,
            reasons,
        )
        assert reasons.count(None) > 20


def test_workers_publish_the_same_pairs(builds):
    for lang in LANGS:
        alone = pq.read_table(
            builds / "out-1" / lang / "train-00000-of-00001.parquet", columns=["id", "instruction"]
        )
        pooled = pq.read_table(
            builds / "out-2" / lang / "train-00000-of-00001.parquet", columns=["id", "instruction"]
        )
        assert alone.num_rows > 0 and alone.equals(pooled)


def test_a_block_given_checks_decides_as_it_does_alone(shared_data):
    texts = [
        json.loads(line)["text"]
        for line in (shared_data / "udhr" / "sw.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    texts += texts[:2] + ["", "   "]
    config = PrepareConfig(min_tokens=5)
    words = lambda text: len(text.split())  # noqa: E731
    batch = {"text": texts, "source": [None] * len(texts)}
    alone = Prepare("sw", config, words)(batch)
    given = Prepare("sw", config, words)(batch, check_texts("sw", config, texts))
    assert alone == given
    assert alone["dropped"].count("exact_duplicate") == 2 and alone["dropped"].count("empty") == 2
