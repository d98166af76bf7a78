"""Any language from the command line: the registry derived from CLDR beyond the paper's ten,
the errors a user meets, language ID for languages no detector knows, `languages --all`, and a
real build of Yoruba (not a paper language) from `--langs yo` to a loadable config and its card."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path

import datasets
import pytest
from _cli_build import build_args, cli, published, read_json
from helpers.texts import YORUBA

from builder.cli import main
from builder.languages import LANGUAGES, PAPER_LANGUAGES, get_language, parse_languages
from builder.languages.lid import covers, detect, matches

# Web-style Yoruba paragraphs written for this test (a recipe, a market report, the weather,
# greetings, cocoa farmers): what a user with a Yoruba crawl and no seed pairs has.
YORUBA_WEB = [
    "Láti se ẹ̀wà tí ó dùn, ẹ kọ́kọ́ ṣa òkúta kúrò nínú ẹ̀wà náà, kí ẹ sì fọ̀ ọ́ dáadáa. Ẹ gbé e kaná pẹ̀lú omi tó "
    "pọ̀ tó, kí ẹ sì jẹ́ kí ó hó fún wákàtí kan. Lẹ́yìn náà, ẹ fi iyọ̀, ata àti epo pupa sí i, kí ẹ sì dá a rú títí "
    "yóò fi rọ̀.",
    "Ọjà Ọba ní ìlú Ìbàdàn kún fún èrò ní ọjọ́ Àbámẹ́ta. Àwọn oníṣòwò ń ta iṣu, àgbàdo, ẹja gbígbẹ àti aṣọ àdìrẹ. "
    "Ọ̀pọ̀ àwọn olùrajà sọ pé owó oúnjẹ ti gbówó lórí ju ti ọdún tó kọjá lọ.",
    "Òjò ńlá rọ̀ ní alẹ́ àná, omi sì ya wọ inú ọ̀pọ̀lọpọ̀ ilé ní àdúgbò náà. Àwọn ọlọ́pàá ní kí àwọn ará ìlú má ṣe "
    "wakọ̀ gba àwọn ọ̀nà tí omi ti bò mọ́lẹ̀ títí tí omi náà yóò fi lọ sílẹ̀.",
    "Tí o bá fẹ́ kọ́ èdè Yorùbá, bẹ̀rẹ̀ pẹ̀lú ìkíni. A máa ń sọ pé 'Ẹ káàárọ̀' ní òwúrọ̀, 'Ẹ káàsán' ní ọ̀sán, àti "
    "'Ẹ kúurọ̀lẹ́' ní ìrọ̀lẹ́. Ọmọdé gbọdọ̀ dọ̀bálẹ̀ tàbí kúnlẹ̀ nígbà tí ó bá ń kí àgbàlagbà.",
    "Àwọn àgbẹ̀ kòkó ní ìpínlẹ̀ Ondo ń ṣàròyé pé àrùn kan ti ba ọ̀pọ̀lọpọ̀ igi kòkó jẹ́ lọ́dún yìí. Wọ́n ní àwọn "
    "nílò oògùn àti ìrànlọ́wọ́ láti ọ̀dọ̀ ìjọba kí ìkórè wọn má baà dín kù.",
]
# For each Yoruba text, an English instruction it answers (written with the texts): a writer that
# knows them makes pairs the default relevance gate should keep, so the Yoruba builds below run
# with the gate on and check it on true pairs.
ANSWERS = {
    YORUBA[0]: "What right does every person have to live in peace and freedom?",
    YORUBA[1]: "Does everyone have a right to education, and should primary school be free?",
    YORUBA[2]: "Who may marry and found a family, and who must protect the family?",
    YORUBA[3]: "Is anyone allowed to hold another person as a slave?",
    YORUBA[4]: "What should everyone be paid for their work?",
    YORUBA[5]: "Is everyone equal before the law, whatever their colour, language or religion?",
    YORUBA_WEB[0]: "How do I cook beans with palm oil and pepper?",
    YORUBA_WEB[1]: "What is sold at Oba market in Ibadan, and how have food prices changed?",
    YORUBA_WEB[
        2
    ]: "What happened after the heavy rain last night, and what did the police advise drivers?",
    YORUBA_WEB[3]: "How do you greet people in Yoruba at different times of the day?",
    YORUBA_WEB[
        4
    ]: "Why are cocoa farmers in Ondo State worried this year, and what help do they ask for?",
}


def yoruba_writer_and_judge(prompt, params, k):
    """The instruction each Yoruba text answers, worded two ways (two distinct candidates); the
    judge rates every one 5, so what the build keeps is the relevance gate's choice."""
    from _scripted_engine import last_user

    if prompt[-1]["role"] == "assistant":  # the evaluator, pre-filled with "Score:"
        return " 5\nReason: answers it."
    answer = ANSWERS[last_user(prompt).split("\n\n")[1]]
    return [answer, f"Please tell me: {answer[0].lower()}{answer[1:]}"][k % 2]


BAMBARA = "Mɔgɔ bɛɛ bɛ bange hɔrɔnya la, danbe ni josira la. Hakili ni taasi b'u bɛɛ la, u ka kan ka badenya ko kɛ."


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(args))
    return code, out.getvalue()


# --- the registry -----------------------------------------------------------------------------


def test_paper_languages_keep_their_entries_and_stay_the_default():
    assert (
        parse_languages("all") == [LANGUAGES[c] for c in PAPER_LANGUAGES]
        and len(PAPER_LANGUAGES) == 10
    )
    sw = get_language("sw")
    assert (sw.name, sw.script, sw.iso639_3, sw.fineweb2, sw.culturax, sw.lid_aliases) == (
        "Swahili",
        "Latn",
        "swa",
        "swh_Latn",
        "sw",
        (),
    )
    # every name of a paper language leads to its one entry
    assert (
        get_language("swh_Latn") is sw
        and get_language("swa") is sw
        and get_language("ben_Beng") is LANGUAGES["bn"]
    )


@pytest.mark.parametrize(
    "code, name, script, iso3, fineweb2, culturax",
    [
        ("am", "Amharic", "Ethi", "amh", "amh_Ethi", "am"),
        ("yo", "Yoruba", "Latn", "yor", "yor_Latn", "yo"),
        ("amh", "Amharic", "Ethi", "amh", "amh_Ethi", "am"),
        ("sr_Cyrl", "Serbian (Cyrillic)", "Cyrl", "srp", "srp_Cyrl", "sr"),
        ("pa_Guru", "Punjabi (Gurmukhi)", "Guru", "pan", "pan_Guru", "pa"),
        ("ceb", "Cebuano", "Latn", "ceb", "ceb_Latn", None),
    ],
)
def test_languages_beyond_the_ten_come_from_cldr(code, name, script, iso3, fineweb2, culturax):
    lang = get_language(code)
    assert (lang.name, lang.script, lang.iso639_3, lang.fineweb2, lang.culturax) == (
        name,
        script,
        iso3,
        fineweb2,
        culturax,
    )


@pytest.mark.parametrize(
    "code, individual",
    [("ar", "arb_Arab"), ("fa", "pes_Arab"), ("ms", "zsm_Latn"), ("uz", "uzn_Latn")],
)
def test_a_macrolanguage_reads_the_individual_language_fineweb2_uses_and_says_so(
    code, individual, caplog
):
    from builder.languages import _derived_language

    _derived_language.cache_clear()
    with caplog.at_level(logging.WARNING, logger="builder.languages.data"):
        lang = get_language(code)
    assert lang.code == code and lang.fineweb2 == individual
    assert f"config {individual}" in caplog.text and "macrolanguage" in caplog.text
    assert get_language(individual).code == code  # the FineWeb-2 name leads back


@pytest.mark.parametrize(
    "code, expected",
    [
        ("swahili", "closest: sw (Swahili)"),
        ("swhili", "closest: sw (Swahili)"),
        ("sr", "pass one: sr_Cyrl, sr_Latn"),
        ("pa", "pass one: pa_Guru, pa_Arab"),
        ("sw_Cyrl", "Swahili is not written in Cyrl"),
        ("xx", "unknown language code 'xx'"),
        ("all,yo", "unknown language code 'all'"),
    ],
)
def test_bad_codes_get_one_line_with_the_fix(code, expected, tmp_path):
    code_, printed = _cli(
        "build", "--langs", code, "--dry-run", "--output-dir", str(tmp_path / "out")
    )
    assert code_ == 2 and expected in printed, printed
    assert printed.count("\n") == 1 and printed.startswith("x-instruction: error: ")


# --- language ID ------------------------------------------------------------------------------


def test_a_language_no_detector_knows_is_trusted_when_the_script_agrees():
    assert not covers("bm") and covers("yo") and covers("am")
    result = detect(BAMBARA)
    assert result.reliable and matches(result, "bm") is None  # cannot tell: prepare keeps the row
    # Ethiopic is never Bambara
    assert matches(detect("ሰላም ለዓለም ሁሉ ይሁን፤ ሰዎች ሁሉ እኩል ናቸው።"), "bm") is False


def test_prepare_keeps_a_language_no_detector_knows_and_says_so_once(caplog):
    from _prepare_helpers import iter_prepare

    from builder.stages.prepare import Prepare, PrepareConfig

    rows = [
        {"text": t, "source": {"corpus": "test", "config": None, "split": "train", "row": str(i)}}
        for i, t in enumerate(
            [BAMBARA, "Латиница? Нет: этот текст написан кириллицей, а не латиницей, как бамана."]
        )
    ]
    with caplog.at_level(logging.WARNING, logger="builder.stages.prepare"):
        for _ in range(2):
            block = Prepare(
                "bm", PrepareConfig(min_tokens=1, min_chars=10), lambda text: len(text.split())
            )
            out = list(iter_prepare([dict(r) for r in rows], block))
    # trusted label; Cyrillic is not Bambara
    assert [r["dropped"] for r in out] == [None, "wrong_language"]
    assert caplog.text.count("no installed language-ID model knows this language") == 1


def test_yoruba_long_and_short_is_identified_and_english_is_not_yoruba(shared_data):
    for text in YORUBA:
        assert matches(detect(text), "yo") is True
        assert matches(detect(text[:60]), "yo") is True
    english = json.loads((shared_data / "udhr" / "en.jsonl").open(encoding="utf-8").readline())[
        "text"
    ]
    assert matches(detect(english), "yo") is False


def test_languages_all_lists_every_code_with_its_detectors(caplog):
    with caplog.at_level(logging.WARNING):
        code, printed = _cli("languages", "--all")
    assert "macrolanguage" not in caplog.text  # the fineweb-2 column says it; no warning per row
    lines = {line.split()[0]: line for line in printed.splitlines()[1:] if line.strip()}
    assert code == 0 and len(lines) > 1000
    assert "amh_Ethi" in lines["am"] and "pycld2" in lines["am"]
    assert "none (script check only)" in lines["bm"]
    assert "sr_Cyrl" in lines and "sr_Latn" in lines and "sr" not in lines
    _, paper = _cli("languages")
    assert len(paper.splitlines()) == 10  # the plain listing stays the paper's ten


# --- a real build of a non-paper language -----------------------------------------------------

_YORUBA_SEEDS = (
    ("Is anyone allowed to hold another person as a slave?", YORUBA[3]),
    ("What should everyone be paid for their work?", YORUBA[4]),
)


def _yoruba_inputs(tmp_path: Path) -> tuple[str, str]:
    """A `{lang}.jsonl` corpus of the Yoruba texts, and a seeds file of two Yoruba pairs (without
    it, Yoruba would borrow other languages' embedded seeds)."""
    corpus = tmp_path / "crawl" / "yo.jsonl"
    corpus.parent.mkdir()
    corpus.write_text(
        "".join(
            json.dumps({"id": f"yo-{i}", "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate(YORUBA)
        ),
        encoding="utf-8",
    )
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        "".join(
            json.dumps({"instruction": q, "output": a}, ensure_ascii=False) + "\n"
            for q, a in _YORUBA_SEEDS
        ),
        encoding="utf-8",
    )
    return str(corpus.parent / "{lang}.jsonl"), str(seeds)


def _answers(text: str) -> tuple[str, str]:
    """Both wordings yoruba_writer_and_judge gives for `text`."""
    answer = ANSWERS[text]
    return answer, f"Please tell me: {answer[0].lower()}{answer[1:]}"


def test_build_yoruba_with_the_users_seeds_to_a_loadable_config_and_a_card_naming_it(
    tmp_path, capsys, caplog, monkeypatch
):
    from builder.corpus import seed_donors

    monkeypatch.setattr(seed_donors, "_warned", set())  # a borrowing warning here would be new
    corpus, seeds = _yoruba_inputs(tmp_path)
    with caplog.at_level(logging.WARNING, logger="builder.corpus.seed_donors"):
        run = cli(
            build_args(tmp_path, corpus, "yo", "--seeds", seeds), capsys, yoruba_writer_and_judge
        )
    assert run.code == 0, run.err
    assert "wrong_language" not in run.out + run.err
    # the default relevance gate is on: what it publishes are true pairs
    rows = datasets.load_dataset(str(tmp_path / "out"), "yo", split="train")
    assert len(rows) >= 1 and set(rows["lang"]) == {"yo"}
    assert all(row["instruction"] in _answers(row["output"]) for row in rows)
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "config_name: yo" in card and "| `yo` (default) | Yoruba |" in card
    assert "\n- yo\n" in card.split("\n---\n", 1)[0]  # the Hub's `language:` metadata
    # The user's seed file wins: their Yoruba pairs are the worked examples, nothing is borrowed.
    assert "no seed pairs" not in caplog.text
    assert read_json(tmp_path / "out" / "build_info.json")["seeds_borrowed"] == {}
    prompts = _backward_prompts(run, "Yoruba")
    assert prompts and all(
        {(i, t) for _, t, i in _few_shot(p)} <= set(_YORUBA_SEEDS) for p in prompts
    )
    assert all(name == "Yoruba" for p in prompts for name, _, _ in _few_shot(p))


def test_build_yoruba_on_the_tiny_model_keeps_every_text_through_language_id(
    tmp_path, tiny_model_dir
):
    corpus, seeds = _yoruba_inputs(tmp_path)
    code, printed = _cli(
        "build",
        "--langs",
        "yo",
        "--corpus",
        corpus,
        "--seeds",
        seeds,
        "--model",
        str(tiny_model_dir),
        "--engine",
        "transformers",
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
        "--accept-score",
        "1",
        "--work-dir",
        str(tmp_path / "work"),
        "--output-dir",
        str(tmp_path / "out"),
    )
    # The random model's judgements never parse (seeded weights and sampling: always so), so the
    # build ends with the empty-build message and exit 1; a crash would be exit 1 too, with an
    # "internal error" line instead. What matters here is that prepare kept all three Yoruba
    # texts and the model was asked about each.
    assert (
        code == 1 and "x-instruction: every row was filtered out; nothing to publish" in printed
    ), printed
    assert "internal error" not in printed, printed
    funnel = next(line.split() for line in printed.splitlines() if line.startswith("yo "))
    assert funnel[1:5] == ["3", "3", "3", "0"] and funnel[-2:] == ["unparseable_judgement", "3"], (
        printed
    )


# --- a language without a seed file ------------------------------------------------------------


def _few_shot(prompt: list[dict]) -> list[tuple[str, str, str]]:
    """(language named, example text, instruction) for each worked example of a backward prompt."""
    shots = prompt[1:-1]
    return [
        (
            user["content"].split("Here is a text in ", 1)[1].split(":", 1)[0],
            user["content"].split("\n\n")[1],
            assistant["content"],
        )
        for user, assistant in zip(shots[::2], shots[1::2])
    ]


def _backward_prompts(run, language: str) -> list[list[dict]]:
    return [
        p
        for e in run.engines
        for p in e.prompts
        if p[0]["role"] == "system" and f"a given {language} text" in p[0]["content"]
    ]


def test_yoruba_without_a_seed_file_borrows_latin_seeds_shows_them_in_the_prompt_and_builds(
    tmp_path, capsys, caplog, monkeypatch
):
    from builder.corpus import embedded, seed_donors

    # another test may have borrowed for yo already
    monkeypatch.setattr(seed_donors, "_warned", set())
    corpus = tmp_path / "crawl" / "yo.jsonl"
    corpus.parent.mkdir()
    corpus.write_text(
        "".join(
            json.dumps({"id": f"yo-web-{i}", "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate(YORUBA_WEB)
        ),
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="builder.corpus.seed_donors"):
        run = cli(
            build_args(tmp_path, str(corpus.parent / "{lang}.jsonl"), "yo", "--max-docs", "5"),
            capsys,
            yoruba_writer_and_judge,
        )
    assert run.code == 0, run.err
    assert "no embedded demo seeds" not in run.out + run.err
    # one warning for the language, naming the donors and why they were chosen
    assert caplog.text.count("no seed pairs for Yoruba (yo)") == 1, caplog.text
    assert "embedded seeds of fi, id, sw, tr, vi (same script, Latn)" in caplog.text
    info = read_json(tmp_path / "out" / "build_info.json")
    assert info["seeds_borrowed"] == {"yo": ["fi", "id", "sw", "tr", "vi"]}
    # the default relevance gate is on: what it publishes are true pairs
    rows = published(tmp_path / "out", "yo")
    assert len(rows) >= 1 and {r["lang"] for r in rows} == {"yo"}
    assert all(row["instruction"] in _answers(row["output"]) for row in rows)

    # Every Yoruba text was asked about with two embedded pairs of two different Latin-script
    # languages, each under its own language's name, and then the Yoruba text itself.
    donors = {
        (get_language(code).name, pair["output"]): pair["instruction"]
        for code in ("fi", "id", "sw", "tr", "vi")
        for pair in embedded.load_seeds(code)
    }
    prompts = _backward_prompts(run, "Yoruba")
    assert sorted(p[-1]["content"].split("\n\n")[1] for p in prompts) == sorted(YORUBA_WEB)
    for prompt in prompts:
        shots = _few_shot(prompt)
        assert len(shots) == 2 and shots[0][0] != shots[1][0]
        assert all(donors[(name, text)] == instruction for name, text, instruction in shots)
        assert prompt[-1]["content"].startswith("Here is a text in Yoruba:")


@pytest.mark.parametrize(
    "code, donors",
    [
        ("yo", ["fi", "id", "sw", "tr", "vi"]),  # Latin
        ("ne", ["hi"]),  # Devanagari
        ("fa", ["ur"]),
        ("ps", ["ur"]),  # Arabic
        ("as", ["bn"]),  # Assamese is written in the Bengali script
        (
            "am",
            ["bn", "fi", "hi", "id", "sw", "ta", "th", "tr", "ur", "vi"],
        ),  # no embedded Ethiopic: all
        ("sw", ["fi", "id", "tr", "vi"]),  # never itself
    ],
)
def test_seed_donors_share_the_script_else_all_embedded_languages(code, donors):
    from builder.corpus.seed_donors import donor_languages

    assert donor_languages(code) == donors


def test_borrowed_seeds_interleave_the_donors_and_only_for_languages_without_their_own():
    from builder.corpus import embedded, read_seeds

    seeds = read_seeds(None, "ne")
    assert seeds == [{**pair, "lang": "hi"} for pair in embedded.load_seeds("hi")]
    yo = read_seeds("embedded", "yo")
    assert [s["lang"] for s in yo[:6]] == ["fi", "id", "sw", "tr", "vi", "fi"]
    assert len(yo) == sum(len(embedded.load_seeds(c)) for c in ("fi", "id", "sw", "tr", "vi"))
    assert read_seeds(None, "yo", limit=3) == yo[:3]
    # a language's own pairs are not borrowed
    assert all("lang" not in s for s in read_seeds(None, "sw"))


def test_the_generate_fingerprint_holds_the_borrowed_seeds(tmp_path, monkeypatch):
    """Editing a donor's embedded seed changes the prompts of a borrowing language, so its
    generate output must be named anew (and a language that does not borrow from it must not)."""
    import shutil

    from builder.config import BuildConfig
    from builder.corpus import embedded
    from builder.stages.plan import stage_fingerprints

    root = tmp_path / "data"
    shutil.copytree(embedded.data_root() / "seeds", root / "seeds")
    monkeypatch.setattr(embedded, "data_root", lambda: root)
    corpus, _ = _yoruba_inputs(tmp_path)
    (tmp_path / "crawl" / "ne.jsonl").write_text(
        json.dumps({"text": "नेपाल हिमालयको देश हो।"}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    identity = {"engine": "scripted", "model": "scripted-model", "revision": "r1"}

    def generate_fp(lang):
        c = BuildConfig(
            langs=[lang],
            corpus=corpus,
            model="scripted",
            work_dir=str(tmp_path / "w"),
            output_dir=str(tmp_path / "o"),
        )
        return stage_fingerprints(c, lang, identity, identity)["generate"]

    before = {lang: generate_fp(lang) for lang in ("yo", "ne")}
    sw = root / "seeds" / "sw.jsonl"
    rows = [json.loads(line) for line in sw.read_text(encoding="utf-8").splitlines()]
    rows[0]["instruction"] = "What does this Swahili proverb teach?"
    sw.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert generate_fp("yo") != before["yo"]
    assert generate_fp("ne") == before["ne"]  # Nepali borrows from Hindi only


def test_borrowed_seeds_are_announced_once_per_build_under_data_parallel(tmp_path, tiny_model_dir):
    """Two data-parallel ranks build their prompts from the borrowed seeds too; the warning that
    names the donors comes from the driver alone. A real CLI process, so that the ranks' stderr
    (spawned processes writing to the same stream) is in what is counted."""
    import os
    import subprocess
    import sys

    corpus = tmp_path / "crawl" / "yo.jsonl"
    corpus.parent.mkdir()
    corpus.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in YORUBA_WEB[:4]),
        encoding="utf-8",
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "build",
            "--langs",
            "yo",
            "--corpus",
            str(corpus.parent / "{lang}.jsonl"),
            "--model",
            str(tiny_model_dir),
            "--engine",
            "transformers",
            "--data-parallel",
            "2",
            "--shard-size",
            "1",
            "--candidates",
            "1",
            "--rounds",
            "1",
            "--few-shot",
            "1",
            "--max-instruction-tokens",
            "4",
            "--work-dir",
            str(tmp_path / "work"),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    # the random model's judgements never parse: every row is filtered out (exit 1, not a crash)
    assert run.returncode == 1 and "every row was filtered out" in run.stderr, run.stderr[-3000:]
    assert "internal error" not in run.stderr
    # both ranks generated (each wrote shards), and the warning was logged once
    assert len(list((tmp_path / "work" / "yo").glob("generate-*/shard-*.parquet"))) == 4
    lines = [line for line in run.stderr.splitlines() if "no seed pairs for Yoruba (yo)" in line]
    assert len(lines) == 1, run.stderr[-3000:]
    assert "embedded seeds of fi, id, sw, tr, vi (same script, Latn)" in lines[0]
