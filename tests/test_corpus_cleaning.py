"""Text clean-up: normalisation, boilerplate lines, the dedup key and garbled-text detection."""

from __future__ import annotations

import json
import unicodedata

import pytest
from _corpus_helpers import HINDI, SWAHILI

from builder.corpus.cleaning import (
    clean_text,
    count_dangling_marks,
    dedup_key,
    garbled_reason,
    is_boilerplate_line,
    mojibake_sequences,
    normalize_whitespace,
    remove_boilerplate,
)
from builder.languages import PAPER_LANGUAGES


def test_normalize_whitespace_nfc_spaces_invisibles_and_blank_lines():
    decomposed = "Tie\u0302\u0301ng Vie\u0323\u0302t"  # Vietnamese typed with combining marks
    text = f"  {decomposed}\u00a0\tna\u200b   maji\r\n\r\n\r\n\r\nline\u0007 two  \n"
    out = normalize_whitespace(text)
    assert out == "Ti\u1ebfng Vi\u1ec7t na maji\n\nline two"
    assert unicodedata.is_normalized("NFC", out)
    assert "\u200b" not in out and "\u0007" not in out and "\r" not in out and "\n\n\n" not in out


def test_normalize_whitespace_keeps_zero_width_joiners():
    # ZWNJ spells Persian/Urdu and Bengali words; removing it changes the word.
    word = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645"
    assert normalize_whitespace(word) == word


@pytest.mark.parametrize(
    "line",
    [
        "Home | Habari | Michezo | Burudani | Wasiliana nasi",
        "© 2024 Gazeti la Mwananchi. Haki zote zimehifadhiwa.",
        "https://example.com/habari/2024/05/mvua-kubwa",
        "Soma zaidi »",
        "Baca juga: Harga beras naik lagi",
        "Devamını oku",
        "We use cookies to improve your experience.",
        "12.05.2024 | 14:30 | 3 min",
        "आगे पढ़ें",
    ],
)
def test_boilerplate_lines_are_recognised(line):
    assert is_boilerplate_line(line)


@pytest.mark.parametrize(
    "line",
    SWAHILI
    + [
        HINDI,
        "Watu wote wamezaliwa huru. Soma zaidi kuhusu haki zao katika kitabu hiki cha sheria.",
    ],
)
def test_text_lines_are_not_boilerplate(line):
    assert not is_boilerplate_line(line)


def test_remove_boilerplate_keeps_text_and_counts_removed_characters():
    page = "\n".join(
        [
            "Home | Habari | Michezo | Wasiliana nasi",
            SWAHILI[0],
            "Soma zaidi",
            "",
            SWAHILI[1],
            "© 2024 Mwananchi",
        ]
    )
    text, removed = remove_boilerplate(page)
    assert text == SWAHILI[0] + "\n\n" + SWAHILI[1]
    assert removed == len("Home | Habari | Michezo | Wasiliana nasi") + len("Soma zaidi") + len(
        "© 2024 Mwananchi"
    )


def test_clean_text_on_text_without_boilerplate_is_only_normalisation():
    assert clean_text(SWAHILI[2]) == (SWAHILI[2], 0)


def test_dedup_key_ignores_case_punctuation_and_spacing_but_keeps_indic_vowel_signs():
    assert (
        dedup_key("Watu  WOTE, wamezaliwa huru!")
        == dedup_key("watu wote wamezaliwa — huru")
        == "watu wote wamezaliwa huru"
    )
    # "कि" and "क" differ by a vowel sign (a combining mark): a \W-based key would merge them.
    assert dedup_key("कि") != dedup_key("क")
    assert dedup_key("हिंदी।") == "हिंदी"


def test_garbled_reason_on_clean_text_is_none():
    for text in SWAHILI + [
        HINDI,
        "Ödül töreni ODTÜ’nün salonunda yapıldı.",
        "Hà Nội là thủ đô của Việt Nam.",
    ]:
        assert garbled_reason(text) is None, text


def test_mojibake_is_detected_and_decodes_to_what_was_meant():
    meant = "Le café de l’été à Genève était fermé."
    broken = meant.encode("utf-8").decode("cp1252")
    assert "Ã©" in broken
    assert garbled_reason(broken) == "mojibake"
    assert "Ã©" in mojibake_sequences(broken) and "â€™" in mojibake_sequences(broken)
    # One smart quote gone wrong in Swahili (3-byte sequence) is enough.
    assert (
        garbled_reason("Alisema â€œtutashindaâ€ kwa sauti kubwa mbele ya mashabiki wake.")
        == "mojibake"
    )
    # Hindi read as Latin-1: every letter becomes a sequence.
    assert (
        garbled_reason(normalize_whitespace(HINDI.encode("utf-8").decode("latin-1"))) == "mojibake"
    )


def test_replacement_char_and_dotted_circle_are_garbled():
    assert garbled_reason("Kila mtu ana haki ya kuishi \ufffd na uhuru.") == "replacement_char"
    assert garbled_reason("यह \u25ccि उदाहरण है") == "dotted_circle"


def test_dangling_vowel_signs_from_broken_indic_shaping_are_garbled():
    # Broken shaping puts a space between a consonant and its vowel sign ("ज िसम ें").
    broken = HINDI.replace("जि", "ज ि").replace("में", "म ें").replace("लिखी", "ल िखी")
    assert count_dangling_marks(broken) == 4  # जि, लि and both में
    assert count_dangling_marks(HINDI) == 0
    assert garbled_reason(broken) == "dangling_mark"


def test_no_false_garbled_or_boilerplate_on_udhr_in_every_language(shared_data):
    for lang in PAPER_LANGUAGES + ("en",):
        for line in (
            (shared_data / "udhr" / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()
        ):
            text = json.loads(line)["text"]
            cleaned, removed = clean_text(text)
            assert removed == 0, (lang, text)
            assert garbled_reason(cleaned) is None, (lang, text)
            if not text.isascii():  # read with the wrong codec, every non-ASCII text is caught
                misread = normalize_whitespace(text.encode("utf-8").decode("cp1252", "replace"))
                assert garbled_reason(misread) in ("mojibake", "replacement_char"), (lang, misread)


# --- the fast paths give what the per-character definitions give ------------------------------


def _reference_letters(text):
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LM")


def _reference_dangling(text):
    count, prev = 0, " "
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Mc") and (
            prev.isspace() or unicodedata.category(prev)[0] in "PZ"
        ):
            count += 1
        prev = ch
    return count


def _reference_key(text):
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(
        "".join(
            " " if ch == "_" or unicodedata.category(ch)[0] in "PS" else ch for ch in text
        ).split()
    )


def _reference_strip(text):
    text = text.translate(dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad\u180e"), None))
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def _mixed_strings(n=3000, seed=5):
    import random

    rng = random.Random(seed)
    points = [
        *range(0x20, 0x7F),
        *range(0x900, 0x9FF),
        *range(0xB80, 0xBFF),
        *range(0xE00, 0xE5C),
        *range(0x600, 0x6FF),
        0x0,
        0x7,
        0x9,
        0xA,
        0xB,
        0x85,
        0x9F,
        0xA0,
        0xAD,
        0x200B,
        0x200C,
        0x200D,
        0x2060,
        0xFEFF,
        0x180E,
        0x3000,
        0x2028,
        0x2029,
        0x1680,
        0x300,
        0x301,
        0xD7,
        0xAB,
        0xBB,
        0x3001,
        0x1F600,
        0x1D11E,
        0x11000,
        0x11001,
        0xFF3F,
        0x25CC,
        0xFFFD,
    ]
    return ["".join(chr(rng.choice(points)) for _ in range(rng.randint(0, 80))) for _ in range(n)]


def test_fast_paths_equal_the_per_character_definitions():
    from builder.corpus import cleaning

    # Every code point, in runs of 3,000 (a large alphabet: the other path), and mixed scripts.
    every = [
        " ".join(
            chr(c) for c in range(start, min(start + 3000, 0x110000)) if not 0xD800 <= c <= 0xDFFF
        )
        for start in range(0, 0x110000, 3000)
    ]
    for text in [*every, *_mixed_strings()]:
        assert cleaning._letters(text) == _reference_letters(text)
        assert count_dangling_marks(text) == _reference_dangling(text)
        assert dedup_key(text) == _reference_key(text)
        assert cleaning._DROPPED.sub("", text) == _reference_strip(text)
