"""Which files and rows each language reads from one corpus: `{lang}` patterns, folders named by
language (code, FineWeb-2 or CulturaX config), a language column in a mixed file, the errors a
user meets, and the real build on a folder of per-language UDHR files (tiny random model)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sqlite3
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _corpus_helpers import ENGLISH, HINDI, SWAHILI
from _scripted_engine import ScriptedEngine

from builder.cli import main
from builder.config import BuildConfig
from builder.corpus import CorpusError, MissingColumnError, read_corpus
from builder.corpus.by_language import check_corpus, name_language
from builder.pipeline.runner import Pipeline

UDHR_FOLDER_LANGS = ("bn", "fi", "hi", "sw")  # bn sorts first: the file every language read before


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def _texts(spec, lang, **kw) -> list[str]:
    return [r["text"] for r in read_corpus(str(spec), lang, **kw)]


@pytest.fixture
def crawl(tmp_path) -> Path:
    """crawl/{sw,hi,en}.jsonl, one distinct text each."""
    folder = tmp_path / "crawl"
    _jsonl(folder / "sw.jsonl", [{"text": t} for t in SWAHILI[:2]])
    _jsonl(folder / "hi.jsonl", [{"text": HINDI}])
    _jsonl(folder / "en.jsonl", [{"text": t} for t in ENGLISH])
    return folder


# --- {lang} placeholder -----------------------------------------------------------------------


def test_placeholder_file_pattern_reads_each_language_its_own_file(crawl):
    pattern = f"{crawl}/{{lang}}.jsonl"
    rows = list(read_corpus(pattern, "sw"))
    assert [r["text"] for r in rows] == SWAHILI[:2]
    assert rows[1]["source"] == {
        "corpus": str(crawl / "sw.jsonl"),
        "config": None,
        "split": None,
        "row": "sw.jsonl:2",
    }
    assert _texts(pattern, "hi") == [HINDI]
    assert _texts(pattern, "hin") == [HINDI]  # the language may be asked for by ISO 639-3 code too


def test_placeholder_takes_fineweb2_names_folders_and_globs(tmp_path):
    _jsonl(tmp_path / "web" / "swh_Latn" / "a.jsonl", [{"text": SWAHILI[0]}])
    _jsonl(tmp_path / "web" / "swh_Latn" / "b.jsonl", [{"text": SWAHILI[1]}])
    _jsonl(tmp_path / "web" / "hin_Deva" / "a.jsonl", [{"text": HINDI}])
    rows = list(read_corpus(f"{tmp_path}/web/{{lang}}/", "sw"))
    assert [r["text"] for r in rows] == SWAHILI[:2]
    assert [r["source"]["corpus"] for r in rows] == [
        str(tmp_path / "web" / "swh_Latn" / n) for n in ("a.jsonl", "b.jsonl")
    ]
    assert _texts(f"{tmp_path}/web/{{lang}}/*.jsonl", "hi") == [HINDI]


def test_placeholder_followed_by_a_glob_takes_no_other_language(crawl):
    _jsonl(crawl / "swe_Latn.jsonl", [{"text": "God morgon, hur mår du?"}])  # Swedish, not Swahili
    _jsonl(crawl / "sw-00001.jsonl", [{"text": SWAHILI[2]}])
    # sorted: sw-00001 < sw.jsonl
    assert _texts(f"{crawl}/{{lang}}*.jsonl", "sw") == [SWAHILI[2], *SWAHILI[:2]]


def test_placeholder_matching_nothing_lists_what_exists(crawl):
    with pytest.raises(CorpusError) as err:
        read_corpus(f"{crawl}/{{lang}}.jsonl", "ta")
    message = str(err.value)
    assert (
        "has no file for 'ta'" in message
        and "tam_Taml" in message
        and "found: en, hi, sw" in message
    )
    assert "\n" not in message
    with pytest.raises(CorpusError, match="nothing matches it with any name"):
        read_corpus(f"{crawl}/{{lang}}.parquet", "sw")


# --- folders named by language ----------------------------------------------------------------


def test_folder_of_files_named_by_code_is_split_by_language(crawl):
    rows = list(read_corpus(str(crawl), "sw"))
    assert [r["text"] for r in rows] == SWAHILI[:2]
    # the same rows, provenance included, as reading the language's own file
    assert rows == list(read_corpus(str(crawl / "sw.jsonl"), "sw"))
    assert _texts(crawl, "hi") == [HINDI]


def test_folder_of_fineweb2_and_culturax_layouts(tmp_path):
    # FineWeb-2 download: data/{config}/train/*.parquet, plus a language not in the registry
    for config, texts in {
        "swh_Latn": SWAHILI[:3],
        "hin_Deva": [HINDI],
        "deu_Latn": ["Guten Morgen, wie geht es?"],
    }.items():
        folder = tmp_path / "fw2" / "data" / config / "train"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"text": texts}), folder / "000_00000.parquet")
    assert _texts(tmp_path / "fw2", "sw") == SWAHILI[:3]
    assert _texts(tmp_path / "fw2", "hi") == [HINDI]
    with pytest.raises(CorpusError, match=r"no file for 'ta'; found languages: deu_Latn, hi, sw"):
        read_corpus(str(tmp_path / "fw2"), "ta")
    # CulturaX download: {code}/{code}_part_00000.parquet; sharded file names keep the language
    for name in (
        "sw/sw_part_00000.parquet",
        "sw/sw_part_00001.parquet",
        "hi/hi_part_00000.parquet",
    ):
        (tmp_path / "cx" / name).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"text": [name]}), tmp_path / "cx" / name)
    assert _texts(tmp_path / "cx", "sw") == ["sw/sw_part_00000.parquet", "sw/sw_part_00001.parquet"]


@pytest.mark.parametrize(
    "name, lang",
    [
        ("sw", "sw"),
        ("swh_Latn", "sw"),
        ("swa", "sw"),
        ("sw-00001-of-00004", "sw"),
        ("hin_Deva_0", "hi"),
        ("Hindi", "hi"),
        ("en", "en"),
        ("deu_Latn", "deu_Latn"),
        ("train", None),
        ("video", None),
        ("swh_Latn_removed", None),
    ],
)
def test_names_that_name_a_language(name, lang):
    assert name_language(name) == lang


def test_folder_with_no_file_for_a_language_fails_with_one_line(crawl):
    with pytest.raises(CorpusError) as err:
        read_corpus(str(crawl), "ta")
    assert str(err.value) == (
        f"corpus {str(crawl)!r} has no file for 'ta'; found languages: en, hi, sw "
        "(files or folders named by code or FineWeb-2 config such as ta.jsonl or tam_Taml/)"
    )


def test_files_named_by_no_language_are_skipped_in_a_language_folder(crawl, caplog):
    _jsonl(crawl / "notes.jsonl", [{"text": "shared notes"}])
    with caplog.at_level(logging.WARNING, logger="builder.corpus"):
        check_corpus(str(crawl), ["sw", "hi"])
    assert "1 file(s) named by no language are skipped: notes.jsonl" in caplog.text
    assert _texts(crawl, "sw") == SWAHILI[:2]


def test_folder_without_language_names_is_read_whole_with_a_warning(tmp_path, caplog):
    _jsonl(tmp_path / "web" / "part-a.jsonl", [{"text": SWAHILI[0]}])
    _jsonl(tmp_path / "web" / "part-b.jsonl", [{"text": HINDI}])
    with caplog.at_level(logging.WARNING, logger="builder.corpus"):
        check_corpus(str(tmp_path / "web"), ["sw"])
        assert caplog.text == ""  # one language reading a folder of its own text is the normal case
        check_corpus(str(tmp_path / "web"), ["sw", "hi"])
    assert "every language (sw, hi) reads all of it" in caplog.text and "{lang}" in caplog.text
    assert _texts(tmp_path / "web", "sw") == _texts(tmp_path / "web", "hi") == [SWAHILI[0], HINDI]


def test_a_file_named_for_another_language_is_refused(crawl):
    with pytest.raises(CorpusError, match=r"named for 'sw', not 'hi'.*\{lang\}\.jsonl"):
        read_corpus(str(crawl / "sw.jsonl"), "hi")


# --- a language column ------------------------------------------------------------------------


MIXED = [
    {"id": "a", "text": SWAHILI[0], "lang": "sw"},
    {"id": "b", "text": HINDI, "lang": "hin_Deva"},
    {"id": "c", "text": SWAHILI[1], "lang": "swh_Latn"},
    {"id": "d", "text": "Bonjour tout le monde", "lang": "fr"},  # outside the registry: skipped
    {"id": "e", "text": SWAHILI[2], "lang": "sw-TZ"},
    {"id": "f", "text": ENGLISH[0], "lang": None},
    {"id": "g", "text": SWAHILI[3], "lang": "SWA"},
]


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_lang_column_keeps_the_rows_of_the_language(tmp_path, kind):
    path = tmp_path / f"mixed.{kind}"
    if kind == "jsonl":
        _jsonl(path, MIXED)
    else:
        pq.write_table(pa.Table.from_pylist(MIXED), path)
    rows = list(read_corpus(str(path), "sw", lang_column="lang"))
    assert [r["source"]["row"] for r in rows] == ["a", "c", "e", "g"]
    assert _texts(path, "hi", lang_column="lang") == [HINDI]
    # --max-docs counts the language's own rows, not the rows of others skipped on the way
    assert [
        r["source"]["row"] for r in read_corpus(str(path), "sw", lang_column="lang", limit=2)
    ] == ["a", "c"]


def test_lang_column_row_names_keep_the_line_numbers_of_the_file(tmp_path):
    path = _jsonl(
        tmp_path / "mixed.jsonl", [{k: v for k, v in r.items() if k != "id"} for r in MIXED]
    )
    assert [r["source"]["row"] for r in read_corpus(str(path), "sw", lang_column="lang")] == [
        "mixed.jsonl:1",
        "mixed.jsonl:3",
        "mixed.jsonl:5",
        "mixed.jsonl:7",
    ]


def test_lang_column_naming_no_requested_language_says_what_it_holds(tmp_path):
    path = _jsonl(tmp_path / "mixed.jsonl", MIXED)
    with pytest.raises(CorpusError) as err:  # at the start of a build
        check_corpus(str(path), ["sw", "ta"], lang_column="lang")
    message = str(err.value)
    assert "names no row as 'ta'" in message and "ta, tam_Taml, tam" in message
    assert (
        "sw (1)" in message
        and "fr (1)" in message
        and "(null) (1)" in message
        and "\n" not in message
    )
    with pytest.raises(CorpusError, match="names no row as 'ta'"):  # and when read directly
        list(read_corpus(str(path), "ta", lang_column="lang"))
    # codes outside the registry are no error
    check_corpus(str(path), ["sw", "hi"], lang_column="lang")


def test_lang_column_errors_name_the_option(tmp_path):
    path = _jsonl(tmp_path / "mixed.jsonl", MIXED)
    with pytest.raises(MissingColumnError, match="no column 'language'.*--lang-column"):
        list(read_corpus(str(path), "sw", lang_column="language"))
    (tmp_path / "plain.txt").write_text(SWAHILI[0], encoding="utf-8")
    with pytest.raises(CorpusError, match="plain text.*--lang-column needs JSON Lines or Parquet"):
        list(read_corpus(str(tmp_path / "plain.txt"), "sw", lang_column="lang"))
    with pytest.raises(CorpusError, match="embedded sample"):
        read_corpus("embedded", "sw", lang_column="lang")


# --- what the build keys its prepared rows on -------------------------------------------------


def test_prepare_fingerprint_follows_the_files_and_rows_a_language_reads(tmp_path, crawl):
    _jsonl(tmp_path / "mixed.jsonl", MIXED)

    def prepare_fp(**kw) -> str:
        config = BuildConfig(
            langs=["sw", "hi"], model="scripted", work_dir=str(tmp_path / "work"), **kw
        )
        return Pipeline(config, engines={"scripted": ScriptedEngine(lambda *a: "")}).fingerprints(
            "sw"
        )["prepare"]

    whole = prepare_fp(corpus=str(tmp_path / "mixed.jsonl"))
    assert prepare_fp(corpus=str(tmp_path / "mixed.jsonl"), lang_column="lang") != whole
    before = prepare_fp(corpus=str(crawl))
    _jsonl(crawl / "swh_Latn-00001.jsonl", [{"text": SWAHILI[4]}])  # a second Swahili file
    assert prepare_fp(corpus=str(crawl)) != before


# --- the build, through the CLI ---------------------------------------------------------------

FAST = [
    "--max-docs",
    "3",
    "--candidates",
    "2",
    "--rounds",
    "1",
    "--max-instruction-tokens",
    "8",
    "--shard-size",
    "2",
    "--engine",
    "transformers",
]


def _cli_build(root: Path, model: Path, langs: str, corpus: str, *extra: str) -> dict:
    """Run `x-instruction build` in this process; what it printed, its prepared rows and requests."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "build",
                "--langs",
                langs,
                "--corpus",
                corpus,
                "--model",
                str(model),
                *FAST,
                *extra,
                "--work-dir",
                str(root / "work"),
                "--output-dir",
                str(root / "out"),
            ]
        )
    printed = out.getvalue() + err.getvalue()
    # The random model's judgements never parse (deterministic: seeded weights and sampling), so
    # every pair is dropped and the build ends with the empty-build message, exit 1. A crash is
    # exit 1 too: it is told apart by the message, and by its "internal error" line.
    assert (
        code == 1 and "x-instruction: every row was filtered out; nothing to publish" in printed
    ), printed
    assert "internal error" not in printed and "Traceback" not in printed, printed
    for lang in langs.split(","):
        row = next(line for line in printed.splitlines() if line.startswith(f"{lang} "))
        assert row.split()[4] == "0" and "unparseable_judgement" in row, printed  # refine kept none
    prepared = {}
    for lang in langs.split(","):
        shards = sorted((root / "work" / lang).glob("prepare-*/shard-*.parquet"))
        rows = [r for shard in shards for r in pq.read_table(shard).to_pylist()]
        prepared[lang] = [
            (r["id"], r["source"]["row"], r["source"]["corpus"], r["dropped"]) for r in rows
        ]
    with sqlite3.connect(root / "work" / "cache.sqlite") as db:
        requests = {key for (key,) in db.execute("SELECT key FROM requests")}
    return {"printed": printed, "prepared": prepared, "requests": requests}


@pytest.fixture(scope="module")
def udhr_crawl(tmp_path_factory, shared_data) -> Path:
    folder = tmp_path_factory.mktemp("udhr") / "crawl"
    folder.mkdir()
    for lang in UDHR_FOLDER_LANGS:
        (folder / f"{lang}.jsonl").write_bytes(
            (shared_data / "udhr" / f"{lang}.jsonl").read_bytes()
        )
    return folder


@pytest.fixture(scope="module")
def per_language_builds(tmp_path_factory, udhr_crawl, tiny_model_dir) -> dict:
    root = tmp_path_factory.mktemp("single")
    return {
        lang: _cli_build(root / lang, tiny_model_dir, lang, str(udhr_crawl / f"{lang}.jsonl"))
        for lang in ("sw", "hi")
    }


def test_build_on_a_folder_equals_one_build_per_language(
    tmp_path, udhr_crawl, tiny_model_dir, per_language_builds
):
    folder = _cli_build(tmp_path, tiny_model_dir, "sw,hi", str(udhr_crawl) + "/")
    print(folder["printed"][folder["printed"].index("lang ") :])  # the funnel, for -s
    assert "wrong_language" not in folder["printed"]
    for lang in ("sw", "hi"):
        rows = folder["prepared"][lang]
        assert len(rows) == 3 and [r[1] for r in rows] == [f"udhr-{lang}-{n}" for n in (1, 2, 3)]
        # source.corpus: the file read
        assert {r[2] for r in rows} == {str(udhr_crawl / f"{lang}.jsonl")}
        assert rows == per_language_builds[lang]["prepared"][lang]
        assert sum(r[3] is None for r in rows) >= 1, rows  # some rows reached the model
    # the same model requests: as many calls, and the very same prompts, as the two builds together
    alone = per_language_builds["sw"]["requests"] | per_language_builds["hi"]["requests"]
    assert folder["requests"] == alone and len(alone) == sum(
        len(b["requests"]) for b in per_language_builds.values()
    )


def test_build_on_a_mixed_file_with_lang_column_equals_one_build_per_language(
    tmp_path, udhr_crawl, tiny_model_dir, per_language_builds
):
    # one file, languages interleaved, named three ways; Finnish and an unregistered code mixed in
    readers = {
        lang: (udhr_crawl / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()
        for lang in ("sw", "hi", "fi")
    }
    names = {"sw": "swh_Latn", "hi": "hi", "fi": "fin"}
    mixed = []
    for lines in zip(*readers.values()):
        for lang, line in zip(readers, lines):
            mixed.append({**json.loads(line), "lang": names[lang]})
        mixed.append({"id": f"x-{len(mixed)}", "text": "Lorem ipsum dolor sit amet.", "lang": "xx"})
    path = _jsonl(tmp_path / "mixed.jsonl", mixed)
    build = _cli_build(tmp_path, tiny_model_dir, "sw,hi", str(path), "--lang-column", "lang")
    assert "wrong_language" not in build["printed"]
    for lang in ("sw", "hi"):
        without_corpus = [(i, row, dropped) for i, row, _, dropped in build["prepared"][lang]]
        assert without_corpus == [
            (i, row, d) for i, row, _, d in per_language_builds[lang]["prepared"][lang]
        ]
    assert (
        build["requests"]
        == per_language_builds["sw"]["requests"] | per_language_builds["hi"]["requests"]
    )


def test_cli_fails_before_loading_a_model_when_a_language_has_no_file(tmp_path, udhr_crawl, capsys):
    start = time.perf_counter()
    code = main(
        [
            "build",
            "--langs",
            "sw,ta",
            "--corpus",
            str(udhr_crawl),
            "--model",
            str(tmp_path / "no-such-model"),
            "--work-dir",
            str(tmp_path / "work"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert (
        "has no file for 'ta'; found languages: bn, fi, hi, sw" in err
        and "no-such-model" not in err
    )
    assert time.perf_counter() - start < 5 and not (tmp_path / "work").exists()
    assert main(["build", "--langs", "sw", "--corpus", f"{udhr_crawl}/{{lang}}.json"]) == 2
    assert (
        "(tried sw, swh_Latn, swa, swa_Latn, swahili for {lang}); nothing matches"
        in capsys.readouterr().err
    )
