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

from _cli_build import build_args, cli
from builder.cli import main
from builder.languages import LANGUAGES, PAPER_LANGUAGES, get_language, parse_languages
from builder.languages.lid import covers, detect, matches

# UDHR-style sentences written for this test (not a UDHR translation), one text per row.
YORUBA = [
    "Gbogbo ènìyàn ló ní ẹ̀tọ́ láti gbé ayé ní àlàáfíà àti òmìnira. Kò sí ẹni tí ó gbọdọ̀ fi ìyà jẹ ọmọnìyàn "
    "ẹlẹ́gbẹ́ rẹ̀, nítorí pé ọ̀wọ̀ àti iyì kan náà ni gbogbo wa ní.",
    "Olúkúlùkù ènìyàn ló ní ẹ̀tọ́ sí ẹ̀kọ́. Ẹ̀kọ́ ní ilé-ìwé alákọ̀ọ́bẹ̀rẹ̀ gbọdọ̀ jẹ́ ọ̀fẹ́, kí àwọn ọmọdé lè kọ́ bí a "
    "ṣe ń kà àti bí a ṣe ń kọ̀wé ní èdè wọn.",
    "Ìdílé ni ìpìlẹ̀ àwùjọ, ìjọba àti àwùjọ sì gbọdọ̀ dáàbò bò ó. Ọkùnrin àti obìnrin tí ó ti tó ọjọ́ orí lè ṣe "
    "ìgbéyàwó, kí wọ́n sì dá ìdílé sílẹ̀ láìsí ìdíwọ́.",
    "Ẹnikẹ́ni kò gbọdọ̀ di ẹrú. Òwò ẹrú àti ìfiniṣẹrú ní gbogbo ọ̀nà jẹ́ èèwọ̀, òfin sì gbọdọ̀ dáàbò bo gbogbo "
    "ènìyàn lọ́wọ́ rẹ̀.",
    "Olúkúlùkù ló ní ẹ̀tọ́ láti ṣiṣẹ́, láti yan iṣẹ́ tí ó wù ú, àti láti gba owó-oṣù tí ó tọ́ fún iṣẹ́ rẹ̀, kí òun "
    "àti ìdílé rẹ̀ lè gbé ìgbésí ayé tí ó yẹ ọmọnìyàn.",
    "Gbogbo ènìyàn ló dọ́gba níwájú òfin, wọ́n sì ní ẹ̀tọ́ sí ààbò òfin láìsí ìyàtọ̀ kankan, bí ó ti wù kí àwọ̀ "
    "ara wọn, èdè wọn tàbí ẹ̀sìn wọn rí.",
]
BAMBARA = "Mɔgɔ bɛɛ bɛ bange hɔrɔnya la, danbe ni josira la. Hakili ni taasi b'u bɛɛ la, u ka kan ka badenya ko kɛ."


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(args))
    return code, out.getvalue()


# --- the registry -----------------------------------------------------------------------------

def test_paper_languages_keep_their_entries_and_stay_the_default():
    assert parse_languages("all") == [LANGUAGES[c] for c in PAPER_LANGUAGES] and len(PAPER_LANGUAGES) == 10
    sw = get_language("sw")
    assert (sw.name, sw.script, sw.iso639_3, sw.fineweb2, sw.culturax, sw.lid_aliases) == \
        ("Swahili", "Latn", "swa", "swh_Latn", "sw", ())
    # every name of a paper language leads to its one entry
    assert get_language("swh_Latn") is sw and get_language("swa") is sw and get_language("ben_Beng") is LANGUAGES["bn"]


@pytest.mark.parametrize("code, name, script, iso3, fineweb2, culturax", [
    ("am", "Amharic", "Ethi", "amh", "amh_Ethi", "am"),
    ("yo", "Yoruba", "Latn", "yor", "yor_Latn", "yo"),
    ("amh", "Amharic", "Ethi", "amh", "amh_Ethi", "am"),
    ("sr_Cyrl", "Serbian (Cyrillic)", "Cyrl", "srp", "srp_Cyrl", "sr"),
    ("pa_Guru", "Punjabi (Gurmukhi)", "Guru", "pan", "pan_Guru", "pa"),
    ("ceb", "Cebuano", "Latn", "ceb", "ceb_Latn", None),
])
def test_languages_beyond_the_ten_come_from_cldr(code, name, script, iso3, fineweb2, culturax):
    lang = get_language(code)
    assert (lang.name, lang.script, lang.iso639_3, lang.fineweb2, lang.culturax) == \
        (name, script, iso3, fineweb2, culturax)


@pytest.mark.parametrize("code, individual", [("ar", "arb_Arab"), ("fa", "pes_Arab"), ("ms", "zsm_Latn"),
                                               ("uz", "uzn_Latn")])
def test_a_macrolanguage_reads_the_individual_language_fineweb2_uses_and_says_so(code, individual, caplog):
    from builder.languages import _derived_language

    _derived_language.cache_clear()
    with caplog.at_level(logging.WARNING, logger="builder.languages.data"):
        lang = get_language(code)
    assert lang.code == code and lang.fineweb2 == individual
    assert f"config {individual}" in caplog.text and "macrolanguage" in caplog.text
    assert get_language(individual).code == code  # the FineWeb-2 name leads back


@pytest.mark.parametrize("code, expected", [
    ("swahili", "closest: sw (Swahili)"),
    ("swhili", "closest: sw (Swahili)"),
    ("sr", "pass one: sr_Cyrl, sr_Latn"),
    ("pa", "pass one: pa_Guru, pa_Arab"),
    ("sw_Cyrl", "Swahili is not written in Cyrl"),
    ("xx", "unknown language code 'xx'"),
    ("all,yo", "unknown language code 'all'"),
])
def test_bad_codes_get_one_line_with_the_fix(code, expected, tmp_path):
    code_, printed = _cli("build", "--langs", code, "--dry-run", "--output-dir", str(tmp_path / "out"))
    assert code_ == 2 and expected in printed, printed
    assert printed.count("\n") == 1 and printed.startswith("x-instruction: error: ")


# --- language ID ------------------------------------------------------------------------------

def test_a_language_no_detector_knows_is_trusted_when_the_script_agrees():
    assert not covers("bm") and covers("yo") and covers("am")
    result = detect(BAMBARA)
    assert result.reliable and matches(result, "bm") is None  # cannot tell: prepare keeps the row
    assert matches(detect("ሰላም ለዓለም ሁሉ ይሁን፤ ሰዎች ሁሉ እኩል ናቸው።"), "bm") is False  # Ethiopic is never Bambara


def test_prepare_keeps_a_language_no_detector_knows_and_says_so_once(caplog):
    from builder.stages.prepare import Prepare, PrepareConfig

    from _prepare_helpers import iter_prepare

    rows = [{"text": t, "source": {"corpus": "test", "config": None, "split": "train", "row": str(i)}}
            for i, t in enumerate([BAMBARA, "Латиница? Нет: этот текст написан кириллицей, а не латиницей, как бамана."])]
    with caplog.at_level(logging.WARNING, logger="builder.stages.prepare"):
        for _ in range(2):
            block = Prepare("bm", PrepareConfig(min_tokens=1, min_chars=10), lambda text: len(text.split()))
            out = list(iter_prepare([dict(r) for r in rows], block))
    assert [r["dropped"] for r in out] == [None, "wrong_language"]  # trusted label; Cyrillic is not Bambara
    assert caplog.text.count("no installed language-ID model knows this language") == 1


def test_yoruba_long_and_short_is_identified_and_english_is_not_yoruba(shared_data):
    for text in YORUBA:
        assert matches(detect(text), "yo") is True
        assert matches(detect(text[:60]), "yo") is True
    english = json.loads((shared_data / "udhr" / "en.jsonl").open(encoding="utf-8").readline())["text"]
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

def _yoruba_inputs(tmp_path: Path) -> tuple[str, str]:
    """A `{lang}.jsonl` corpus of the Yoruba texts, and a seeds file (there are no embedded
    demo seeds for Yoruba: the user brings two pairs)."""
    corpus = tmp_path / "crawl" / "yo.jsonl"
    corpus.parent.mkdir()
    corpus.write_text("".join(json.dumps({"id": f"yo-{i}", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(YORUBA)), encoding="utf-8")
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"instruction": q, "output": a}, ensure_ascii=False) + "\n" for q, a in (
        ("Is anyone allowed to hold another person as a slave?", YORUBA[3]),
        ("What should everyone be paid for their work?", YORUBA[4]))), encoding="utf-8")
    return str(corpus.parent / "{lang}.jsonl"), str(seeds)


def test_build_yoruba_to_a_loadable_config_and_a_card_naming_it(tmp_path, capsys):
    corpus, seeds = _yoruba_inputs(tmp_path)
    run = cli(build_args(tmp_path, corpus, "yo", "--seeds", seeds, "--min-relevance", "0"), capsys)
    assert run.code == 0, run.err
    assert "wrong_language" not in run.out + run.err
    rows = datasets.load_dataset(str(tmp_path / "out"), "yo", split="train")
    assert len(rows) >= 1 and set(rows["lang"]) == {"yo"}
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "config_name: yo" in card and "| `yo` (default) | Yoruba |" in card
    assert "\n- yo\n" in card.split("\n---\n", 1)[0]  # the Hub's `language:` metadata


def test_build_yoruba_on_the_tiny_model_keeps_every_text_through_language_id(tmp_path, tiny_model_dir):
    corpus, seeds = _yoruba_inputs(tmp_path)
    code, printed = _cli("build", "--langs", "yo", "--corpus", corpus, "--seeds", seeds,
                         "--model", str(tiny_model_dir), "--engine", "transformers", "--max-docs", "3",
                         "--candidates", "2", "--rounds", "1", "--max-instruction-tokens", "8", "--shard-size", "2",
                         "--min-relevance", "0", "--accept-score", "1",
                         "--work-dir", str(tmp_path / "work"), "--output-dir", str(tmp_path / "out"))
    # 1: the random model's judgements do not parse, so nothing is published; what matters here
    # is that prepare kept all three Yoruba texts and the model was asked about each
    assert code in (0, 1), printed
    funnel = next(line.split() for line in printed.splitlines() if line.startswith("yo "))
    assert funnel[1:4] == ["3", "3", "3"], printed
