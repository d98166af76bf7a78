"""A rerun of an unchanged build is cheap: the same `x-instruction build` command again sends no
request to the model server, embeds nothing (relevance or diversify), redraws no plot and
publishes the same rows; a changed setting redoes exactly the work it affects.

The builds go through the CLI with `--engine openai` against benchmarks/stub_server.py (real
HTTP, canned replies: nothing here says anything about a model's behaviour). The first build is
made once per module and put back in place for each test."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path

import datasets
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_throughput import write_corpus  # noqa: E402
from helpers.stub_builds import stub_build_args  # noqa: E402
from stub_server import StubServer  # noqa: E402

from builder.cli import main  # noqa: E402

LANGS = ("sw", "fi")
PAST = 1_000_000_000  # a file time no build of today writes


def _build(root: Path, url: str, *extra: str) -> dict:
    """Run the build in `root`; return the work dir's build_info."""
    code = main(stub_build_args(root, ",".join(LANGS), url, *extra))
    assert code == 0
    return json.loads((root / "work" / "build_info.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stub():
    with StubServer() as server:
        yield server


@pytest.fixture(scope="module")
def first_build(tmp_path_factory, stub):
    """The first build, made once, in `live/`, and a pristine copy of it beside."""
    root = tmp_path_factory.mktemp("rerun")
    write_corpus(root / "live" / "corpus", list(LANGS), 12)  # 6 texts a language
    info = _build(root / "live", stub.url)
    shutil.copytree(root / "live", root / "pristine")
    return root, info


@pytest.fixture
def built(first_build):
    """The first build back in place (the same paths: the corpus path is one of the build's
    settings), with every file the build wrote set to time PAST. The corpus keeps its times
    (copytree copies them): its files' sizes and times are part of the prepare fingerprint."""
    root, info = first_build
    live = root / "live"
    shutil.rmtree(live)
    shutil.copytree(root / "pristine", live)
    for path in live.rglob("*"):
        if path.is_file() and path.relative_to(live).parts[0] != "corpus":
            os.utime(path, (PAST, PAST))
    return live, info


def _rows(out: Path, config: str) -> list[dict]:
    return datasets.load_dataset(str(out), config, split="train").to_list()


def _files(root: Path, pattern: str) -> dict[str, tuple[bytes, float]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime)
        for p in sorted(root.glob(pattern))
    }


def _alive_at_diversify(info: dict, lang: str) -> int:
    return next(s["in"] for s in info["funnel"][lang]["stages"] if s["stage"] == "diversify")


def test_an_unchanged_rerun_sends_no_request_embeds_nothing_and_redraws_no_plot(built, stub):
    root, first = built
    assert (
        first["diversify"]["texts_embedded"]
        == sum(_alive_at_diversify(first, lang) for lang in LANGS)
        > 0
    )
    before = {config: _rows(root / "out", config) for config in (*LANGS, "candidates")}
    plots = _files(root / "out", "plots/*.png")
    checkpoints = _files(root / "work", "*/diversify-*/shard-*.parquet")
    # lengths per language, funnel, verbs
    assert len(checkpoints) == len(LANGS) and len(plots) >= len(LANGS) + 2
    sent = stub.stats()["completions"]

    info = _build(root, stub.url)

    assert stub.stats()["completions"] == sent and info["engine_stats"]["calls"] == 0
    assert (
        info["diversify"]["texts_embedded"] == 0
        and info["relevance_encoder"]["texts_embedded"] == 0
    )
    # The last tables were read back (builder/pipeline/language_stages.py: final_output): select
    # and diversify did not run.
    assert "final (read back)" in info["timings"] and "select" not in info["timings"]
    assert info["quality"] == first["quality"]
    assert info["funnel"] == first["funnel"]
    assert {config: _rows(root / "out", config) for config in before} == before
    # Not redrawn: the plots are copied from the export they replace, bytes and file times.
    assert _files(root / "out", "plots/*.png") == plots
    assert all(mtime == PAST for _, mtime in plots.values())
    assert _files(root / "work", "*/diversify-*/shard-*.parquet") == checkpoints


def test_a_changed_target_size_redoes_diversify_and_redraws_what_changed(built, stub):
    root, first = built
    plots = _files(root / "out", "plots/*.png")
    sent = stub.stats()["completions"]

    info = _build(root, stub.url, "--target-size", "1")

    # only diversify's setting changed: every answer is cached
    assert stub.stats()["completions"] == sent
    assert (
        info["diversify"]["texts_embedded"]
        == sum(_alive_at_diversify(info, lang) for lang in LANGS)
        > 0
    )
    # the first build's are kept
    assert len(list((root / "work").glob("*/diversify-*"))) == 2 * len(LANGS)
    for lang in LANGS:
        assert len(_rows(root / "out", lang)) == 1
    after = _files(root / "out", "plots/*.png")
    for lang in LANGS:  # one row left per language: its length histogram is drawn anew
        name = f"plots/lengths-{lang}.png"
        assert after[name][1] != PAST and after[name][0] != plots[name][0]


def test_a_relevance_threshold_redoes_select_and_diversify_only(built, stub):
    root, first = built
    sent = stub.stats()["completions"]

    info = _build(root, stub.url, "--min-relevance", "0.6")  # a select setting: refine is kept

    assert stub.stats()["completions"] == sent and info["engine_stats"]["calls"] == 0
    assert "select" in info["timings"] and "final (read back)" not in info["timings"]
    for lang in LANGS:
        assert len(list((root / "work" / lang).glob("final-*"))) == 2
    # Fewer pairs pass: the languages whose kept pairs changed are clustered again.
    assert sum(_alive_at_diversify(info, lang) for lang in LANGS) < sum(
        _alive_at_diversify(first, lang) for lang in LANGS
    )
    assert info["diversify"]["texts_embedded"] == sum(
        _alive_at_diversify(info, lang)
        for lang in LANGS
        if _alive_at_diversify(info, lang) != _alive_at_diversify(first, lang)
    )


def test_a_damaged_final_table_is_set_aside_and_made_again(built, stub, caplog):
    root, first = built
    before = _rows(root / "out", "sw")
    shard = next((root / "work" / "sw").glob("final-*/shard-00000.parquet"))
    data = bytearray(shard.read_bytes())
    at = data.index(before[0]["instruction"].encode())
    data[at] ^= 0x01  # still valid Parquet, silently different text
    shard.write_bytes(bytes(data))

    with caplog.at_level(logging.WARNING):
        info = _build(root, stub.url)

    assert str(shard) in caplog.text and shard.with_name(shard.name + ".corrupt").is_file()
    # made again from the cache
    assert "select" in info["timings"] and info["engine_stats"]["calls"] == 0
    assert _rows(root / "out", "sw") == before


def test_a_corpus_file_edited_in_place_is_prepared_again(built, stub):
    """Same path, new text: the rerun must not publish rows prepared from the old text."""
    live, info = built
    corpus = live / "corpus" / "sw.jsonl"
    lines = corpus.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    edited = first["text"] + " Edited in place after the first build."
    lines[0] = json.dumps({**first, "text": edited}, ensure_ascii=False)
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sent = stub.stats()["completions"]
    _build(live, stub.url)
    assert stub.stats()["completions"] > sent  # the edited text is new to the model
    candidates = datasets.load_dataset(str(live / "out"), "candidates", split="train")
    sw = [text for text, lang in zip(candidates["output"], candidates["lang"]) if lang == "sw"]
    assert len(sw) == len(lines)  # the edited row replaced the old one: none was added
    assert sum("Edited in place after the first build." in text for text in sw) == 1


def test_a_seeds_file_edited_in_place_is_generated_again(built, stub):
    """Same --seeds path, new pairs: the few-shot prompts changed, so generate must ask again."""
    live, _ = built
    seeds = live / "seeds.jsonl"
    pairs = [
        json.loads(line)
        for line in (
            Path(__file__).resolve().parents[1] / "builder" / "data" / "seeds" / "sw.jsonl"
        )
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    seeds.write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8"
    )
    _build(live, stub.url, "--seeds", str(seeds))
    sent = stub.stats()["completions"]
    _build(live, stub.url, "--seeds", str(seeds))
    assert stub.stats()["completions"] == sent  # unchanged: the control

    pairs[0]["instruction"] = "Describe how a Swahili proverb is used, with one example."
    seeds.write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8"
    )
    _build(live, stub.url, "--seeds", str(seeds))
    assert stub.stats()["completions"] > sent  # the edited seed is in new prompts
