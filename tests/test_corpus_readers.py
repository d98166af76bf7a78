"""read_corpus: local files (jsonl, parquet, txt, folders), the embedded sample, Hub datasets
streamed from local folders laid out like the Hub repos, and the errors users meet."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _corpus_helpers import ENGLISH, SWAHILI, write_hub_folder

from builder.corpus import (
    CorpusError,
    MissingColumnError,
    NotUTF8Error,
    embedded,
    hub_datasets,
    read_corpus,
)
from builder.corpus.hub_datasets import HubCorpus, hub_repo, parse_hub_spec


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_jsonl_rows_keep_their_ids_and_provenance(tmp_path):
    path = _write_jsonl(
        tmp_path / "sw.jsonl", [{"id": "a1", "text": SWAHILI[0]}, {"text": SWAHILI[1]}]
    )
    rows = list(read_corpus(str(path), "sw"))
    assert [r["text"] for r in rows] == SWAHILI[:2]
    assert rows[0]["source"] == {"corpus": str(path), "config": None, "split": None, "row": "a1"}
    assert rows[1]["source"]["row"] == "sw.jsonl:2"  # no id: file and line number


def test_jsonl_gz_and_text_column_and_limit(tmp_path):
    path = tmp_path / "web.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i, text in enumerate(SWAHILI):
            f.write(json.dumps({"content": text, "url": f"https://example.org/{i}"}) + "\n")
    rows = list(read_corpus(str(path), "sw", text_column="content", limit=3))
    assert [r["text"] for r in rows] == SWAHILI[:3]
    assert rows[2]["source"]["row"] == "https://example.org/2"


def test_parquet_reads_in_batches_with_text_column(tmp_path):
    path = tmp_path / "part.parquet"
    # Small row groups: the reader must walk several record batches.
    pq.write_table(pa.table({"body": SWAHILI * 3, "lang": ["sw"] * 15}), path, row_group_size=4)
    rows = list(read_corpus(str(path), "swa", text_column="body"))  # ISO 639-3 code works too
    assert [r["text"] for r in rows] == SWAHILI * 3
    assert [r["source"]["row"] for r in rows[-2:]] == ["part.parquet:13", "part.parquet:14"]


def test_txt_one_document_per_line(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(SWAHILI[:3]) + "\n", encoding="utf-8")
    rows = list(read_corpus(str(path), "sw"))
    assert [r["text"] for r in rows] == SWAHILI[:3]
    assert rows[1]["source"]["row"] == "lines.txt:2"


def test_txt_blank_line_paragraphs(tmp_path):
    path = tmp_path / "paras.txt"
    # A paragraph wrapped over two lines stays one document.
    path.write_text(f"{SWAHILI[0]}\n{SWAHILI[1]}\n\n\n{SWAHILI[2]}\n", encoding="utf-8")
    rows = list(read_corpus(str(path), "sw"))
    assert [r["text"] for r in rows] == [f"{SWAHILI[0]}\n{SWAHILI[1]}", SWAHILI[2]]
    assert [r["source"]["row"] for r in rows] == ["paras.txt:1", "paras.txt:5"]


def test_folder_of_mixed_files_in_stable_order(tmp_path):
    (tmp_path / "b").mkdir()
    _write_jsonl(tmp_path / "a.jsonl", [{"text": SWAHILI[0]}])
    pq.write_table(pa.table({"text": [SWAHILI[1]]}), tmp_path / "b" / "c.parquet")
    (tmp_path / "d.txt").write_text(SWAHILI[2], encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a corpus file", encoding="utf-8")
    (tmp_path / ".hidden.jsonl").write_text(json.dumps({"text": "hidden"}) + "\n", encoding="utf-8")
    rows = list(read_corpus(str(tmp_path), "sw"))
    assert [r["text"] for r in rows] == SWAHILI[:3]
    assert [r["source"]["row"] for r in rows] == ["a.jsonl:1", "b/c.parquet:0", "d.txt:1"]


def test_empty_file_yields_nothing_and_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    assert list(read_corpus(str(tmp_path / "empty.jsonl"), "sw")) == []
    (tmp_path / "nothing").mkdir()
    with pytest.raises(CorpusError, match="holds no corpus file; supported: .jsonl"):
        list(read_corpus(str(tmp_path / "nothing"), "sw"))


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_missing_text_column_lists_columns_and_names_the_option(tmp_path, kind):
    rows = [{"content": SWAHILI[0], "url": "https://example.org"}]
    path = tmp_path / f"c.{kind}"
    if kind == "jsonl":
        _write_jsonl(path, rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(MissingColumnError) as err:
        list(read_corpus(str(path), "sw"))
    message = str(err.value)
    assert (
        "no column 'text'" in message and "content, url" in message and "--text-column" in message
    )
    assert str(path) in message


def test_file_that_is_not_utf8_names_file_offset_and_fix(tmp_path):
    path = tmp_path / "latin1.jsonl"
    first = (json.dumps({"text": SWAHILI[0]}) + "\n").encode("utf-8")
    second = '{"text": "Caf\u00e9 ya zamani"}\n'.encode("cp1252")
    path.write_bytes(first + second)
    with pytest.raises(NotUTF8Error) as err:
        list(read_corpus(str(path), "sw"))
    offset = len(first) + second.index(b"\xe9")
    assert err.value.offset == offset
    message = str(err.value)
    assert (
        str(path) in message
        and f"byte offset {offset}" in message
        and "iconv" in message
        and "UTF-8" in message
    )


def test_bad_specs_explain_what_is_accepted(tmp_path):
    with pytest.raises(CorpusError, match="neither a local file or folder nor a known corpus"):
        read_corpus(str(tmp_path / "missing.jsonl"), "sw")
    (tmp_path / "x.csv").write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="unsupported file type"):
        list(read_corpus(str(tmp_path / "x.csv"), "sw"))
    with pytest.raises(KeyError, match="unknown language code 'xx'"):
        read_corpus("embedded", "xx")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{not json\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad.jsonl:2 is not valid JSON"):
        list(read_corpus(str(tmp_path / "bad.jsonl"), "sw"))


# --- embedded demo sample -------------------------------------------------------------------


@pytest.fixture
def demo_data(tmp_path, monkeypatch):
    """A folder shaped like the package data (builder/data/{corpus,seeds}/{lang}.jsonl)."""
    root = tmp_path / "data"
    (root / "corpus").mkdir(parents=True)
    (root / "seeds").mkdir()
    _write_jsonl(
        root / "corpus" / "sw.jsonl",
        [
            {"id": f"sw-{i:03d}", "genre": "news", "title": f"Habari {i}", "text": t}
            for i, t in enumerate(SWAHILI)
        ],
    )
    _write_jsonl(
        root / "seeds" / "sw.jsonl",
        [{"id": "sw-seed-1", "instruction": "How do I cook coconut rice?", "output": SWAHILI[3]}],
    )
    monkeypatch.setattr(embedded, "data_root", lambda: root)
    return root


def test_embedded_corpus_is_labelled_as_demo(demo_data, caplog, monkeypatch):
    monkeypatch.setattr(embedded, "_warned", set())
    with caplog.at_level("WARNING", logger="builder.corpus.embedded"):
        rows = list(read_corpus("embedded", "sw"))
    assert "DEMO sample" in caplog.text
    assert [r["text"] for r in rows] == SWAHILI
    assert rows[0]["source"] == {
        "corpus": "x-instruction-demo-sample",
        "config": "sw",
        "split": None,
        "row": "sw-000",
    }
    assert embedded.available_languages() == ["sw"]


def test_embedded_corpus_for_a_language_without_sample_says_what_to_pass(demo_data):
    with pytest.raises(
        CorpusError, match="no embedded demo corpus for language 'bn' \\(embedded: sw\\)"
    ):
        list(read_corpus("embedded", "bn"))


def test_real_package_data_when_present():
    """The package data other helpers ship: every file parses and has the documented columns."""
    langs = embedded.available_languages()
    if not langs:
        pytest.skip("builder/data/corpus is not in this checkout yet")
    for lang in langs:
        rows = list(read_corpus("embedded", lang))
        assert rows and all(r["text"].strip() for r in rows)


# --- Hub datasets, streamed from local folders ------------------------------------------------


def test_parse_hub_spec_defaults_configs_from_the_registry():
    assert parse_hub_spec("fineweb2", "sw") == ("HuggingFaceFW/fineweb-2", "swh_Latn")
    assert parse_hub_spec("fineweb-2", "bn") == ("HuggingFaceFW/fineweb-2", "ben_Beng")
    assert parse_hub_spec("hub:HuggingFaceFW/fineweb-2", "th") == (
        "HuggingFaceFW/fineweb-2",
        "tha_Thai",
    )
    assert parse_hub_spec("culturax", "ur") == ("uonlp/CulturaX", "ur")
    # explicit wins
    assert parse_hub_spec("hub:uonlp/CulturaX:sw", "bn") == ("uonlp/CulturaX", "sw")
    assert parse_hub_spec("hub:org/web", "sw") == ("org/web", None)
    assert parse_hub_spec("hub:org/web:raw", "sw") == ("org/web", "raw")
    assert parse_hub_spec("hub:/data/my corpus", "sw") == ("/data/my corpus", None)


def test_known_corpus_without_config_for_the_language(monkeypatch):
    from builder.languages import ENGLISH

    with pytest.raises(
        CorpusError, match="no config registered for English.*hub:HuggingFaceFW/fineweb-2:CONFIG"
    ):
        parse_hub_spec("fineweb2", ENGLISH.code)


def _fineweb_like(root: Path, n: int = 5) -> Path:
    rows = [
        {
            "text": SWAHILI[i % len(SWAHILI)],
            "id": f"<urn:uuid:{i}>",
            "url": f"https://sw.example/{i}",
            "language_score": 0.99,
        }
        for i in range(n)
    ]
    test_rows = [
        {
            "text": ENGLISH[0],
            "id": "<urn:uuid:t0>",
            "url": "https://en.example",
            "language_score": 0.2,
        }
    ]
    return write_hub_folder(
        root,
        {"swh_Latn": {"train": rows, "test": test_rows}, "ben_Beng": {"train": rows[:1]}},
        rows_per_file=2,
    )


def test_fineweb2_shorthand_streams_the_language_config(tmp_path, monkeypatch):
    repo = _fineweb_like(tmp_path / "fineweb-2")
    monkeypatch.setitem(hub_datasets.HUB_CORPORA, "fineweb2", HubCorpus(str(repo), "fineweb2"))
    rows = read_corpus("fineweb2", "sw", limit=4)
    assert not isinstance(rows, list)  # lazy: nothing is read before the first row is asked for
    rows = list(rows)
    assert [r["text"] for r in rows] == [SWAHILI[i] for i in range(4)]
    assert rows[0]["source"] == {
        "corpus": str(repo),
        "config": "swh_Latn",
        "split": "train",
        "row": "<urn:uuid:0>",
    }
    test_split = list(read_corpus("fineweb2", "sw", split="test"))
    assert [r["text"] for r in test_split] == [ENGLISH[0]]


def test_hub_spec_with_explicit_config_and_text_column(tmp_path):
    repo = write_hub_folder(
        tmp_path / "culturax",
        {
            "sw": {
                "train": [
                    {"content": t, "url": f"https://u/{i}", "source": "mC4"}
                    for i, t in enumerate(SWAHILI)
                ]
            }
        },
    )
    rows = list(read_corpus(f"hub:{repo}:sw", "sw", text_column="content"))
    assert [r["text"] for r in rows] == SWAHILI
    assert rows[4]["source"]["row"] == "https://u/4" and rows[4]["source"]["config"] == "sw"


def test_hub_missing_text_column_lists_columns(tmp_path):
    repo = _fineweb_like(tmp_path / "fw")
    with pytest.raises(MissingColumnError) as err:
        list(read_corpus(f"hub:{repo}:swh_Latn", "sw", text_column="content"))
    message = str(err.value)
    assert "no column 'content'" in message and "text, id, url, language_score" in message
    assert "--text-column" in message and "swh_Latn" in message


def test_hub_unknown_config_is_reported_by_datasets(tmp_path):
    repo = _fineweb_like(tmp_path / "fw")
    with pytest.raises(
        ValueError, match="'tam_Taml' not found. Available: \\['swh_Latn', 'ben_Beng'\\]"
    ):
        list(read_corpus(f"hub:{repo}:tam_Taml", "ta"))


def test_shared_udhr_files_read_as_a_corpus(shared_data):
    rows = list(read_corpus(str(shared_data / "udhr" / "bn.jsonl"), "bn"))
    assert len(rows) == 15
    assert rows[0]["source"]["row"] == "udhr-bn-1" and rows[0]["text"].startswith("সমস্ত মানুষ")


@pytest.mark.parametrize(
    "spec, repo",
    [
        ("fineweb2", "HuggingFaceFW/fineweb-2"),
        ("uonlp/CulturaX", "uonlp/CulturaX"),
        ("hub:org/web", "org/web"),
        ("hub:org/web:sw", "org/web"),
        ("embedded", None),
        ("crawl/{lang}.jsonl", None),
        ("/data/sw.jsonl", None),
    ],
)
def test_hub_repo_names_hub_datasets_only(spec, repo):
    # The card lists it under source_datasets: a local path there would be a broken Hub link.
    assert hub_repo(spec) == repo
