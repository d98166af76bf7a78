"""Offline language identification: language, score and script for a text.

Which detector answers is chosen by measurement (benchmarks/bench_lid.py, UDHR + the embedded
corpus): CLD2 (`pycld2`) is as accurate as langdetect on long text at ~60x the speed, and
py3langid is the most accurate on short text (answers, titles), still ~10x faster than
langdetect. So texts of `SHORT_LETTERS` letters or more go to CLD2, shorter ones to py3langid
(CLD2 decides when py3langid is unsure); langdetect (the former default) is the fallback when
neither is installed. Script detection is our own: the dominant Unicode script of the letters,
which settles languages with a script of their own (Bengali, Tamil, Thai) even when short.

Short-text policy: below `MIN_RELIABLE_CHARS` letters every detector is unreliable, so the
result is marked `reliable=False` and `matches()` answers None ("cannot tell") unless the
script alone decides it. Callers must not drop a row on None. A language that the detector
which answered cannot name at all (Yoruba for langdetect, most of the world for any of them)
also gets None once the script agrees: the corpus's own label is trusted (`covers()`).
"""

from __future__ import annotations

import dataclasses
import string
import unicodedata
from collections import Counter
from functools import lru_cache

from . import ENGLISH, get_language
from .detectors import Detector, get_detector

MIN_RELIABLE_CHARS = 20

# Unicode character-name prefixes -> ISO 15924 codes, for the scripts we are likely to meet.
_SCRIPT_PREFIXES = {
    "LATIN": "Latn",
    "BENGALI": "Beng",
    "DEVANAGARI": "Deva",
    "TAMIL": "Taml",
    "THAI": "Thai",
    "ARABIC": "Arab",
    "CYRILLIC": "Cyrl",
    "GREEK": "Grek",
    "HEBREW": "Hebr",
    "CJK": "Hani",
    "HIRAGANA": "Hira",
    "KATAKANA": "Kana",
    "HANGUL": "Hang",
    "GUJARATI": "Gujr",
    "GURMUKHI": "Guru",
    "TELUGU": "Telu",
    "KANNADA": "Knda",
    "MALAYALAM": "Mlym",
    "SINHALA": "Sinh",
    "ORIYA": "Orya",
    "MYANMAR": "Mymr",
    "KHMER": "Khmr",
    "LAO": "Laoo",
    "ETHIOPIC": "Ethi",
    "GEORGIAN": "Geor",
    "ARMENIAN": "Armn",
    "TIBETAN": "Tibt",
}
# Scripts that identify a paper language on their own (Bengali-script text asked as Bengali).
_SCRIPT_DECIDES = {"Beng": "bn", "Taml": "ta", "Thai": "th"}
# ISO 15924 codes languages are registered with -> the scripts `script_of` may report for them.
_SCRIPT_FAMILIES = {
    "Hans": {"Hani"},
    "Hant": {"Hani"},
    "Jpan": {"Hani", "Hira", "Kana"},
    "Kore": {"Hang", "Hani"},
}
# Texts under this many letters (a short paragraph) go to py3langid, the more accurate on short
# text (bench_lid.py measures 60-character texts and whole questions); longer ones to CLD2.
SHORT_LETTERS = 200
# A short-text answer below this probability is replaced by the long-text detector's (bench_lid.py:
# 625/625 right on 60-character texts and English questions, against 624 and 623 for each alone).
SECOND_OPINION_BELOW = 0.5
_LONG_ORDER = ("pycld2", "py3langid", "langdetect")
_SHORT_ORDER = ("py3langid", "pycld2", "langdetect")


@dataclasses.dataclass(frozen=True)
class LIDResult:
    lang: str  # ISO 639-1 code from the detector, or "und" when nothing was detectable
    score: float  # the detector's probability for `lang`
    script: str  # dominant script of the letters (ISO 15924), "Zyyy" when there are none
    reliable: bool  # False for texts too short to trust the detector
    detector: str = dataclasses.field(default="", compare=False)  # which detector answered

    def to_dict(self) -> dict:
        return {
            "lang": self.lang,
            "score": self.score,
            "script": self.script,
            "reliable": self.reliable,
        }


@lru_cache(maxsize=4096)
def _char_script(ch: str) -> str | None:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    return _SCRIPT_PREFIXES.get(name.split(" ", 1)[0], "Zzzz")


# The ASCII letters: the only ASCII characters of Unicode category L or M, all LATIN by name
# (tests/test_lid.py checks script_of against the general path over the 128 code points).
_ASCII_LETTERS = string.ascii_letters.encode("ascii")


def script_of(text: str) -> tuple[str, int]:
    """(dominant script, number of letters counted) of `text`."""
    if text.isascii():
        # What the general path below answers for ASCII text, without counting characters one
        # by one: most generated instructions are plain ASCII English, and each candidate of
        # every request is checked (bytes.translate deletes the letters; the rest are not).
        letters = len(text) - len(text.encode("ascii").translate(None, _ASCII_LETTERS))
        return ("Latn", letters) if letters else ("Zyyy", 0)
    return _script_counted(text)


def _script_counted(text: str) -> tuple[str, int]:
    """`script_of` for any text: each distinct character's category and script, counted."""
    counts: Counter[str] = Counter()
    for ch, n in Counter(text).items():  # distinct characters only: a page has ~100 of them
        script = _letter_script(ch)
        if script:
            counts[script] += n
    if not counts:
        return "Zyyy", 0
    return counts.most_common(1)[0][0], sum(counts.values())


@lru_cache(maxsize=8192)
def _letter_script(ch: str) -> str | None:
    if unicodedata.category(ch)[0] not in "LM":  # letters and combining marks (Indic vowel signs)
        return None
    return _char_script(ch)


@lru_cache(maxsize=2)
def _detector(short: bool) -> Detector:
    for name in _SHORT_ORDER if short else _LONG_ORDER:
        detector = get_detector(name)
        if detector is not None:
            return detector
    raise ImportError("no language-ID package is installed: pip install pycld2 py3langid")


def detect(text: str) -> LIDResult:
    script, letters = script_of(text)
    if not letters:
        return LIDResult("und", 0.0, script, False)
    short = letters < SHORT_LETTERS
    detector = _detector(short)
    lang, score = detector.classify(text)
    if short and score < SECOND_OPINION_BELOW and _detector(False) is not detector:
        # an unsure short answer ("Explain what gotong royong means." -> bcl 0.32): CLD2 decides
        second = _detector(False)
        second_lang, second_score = second.classify(text)
        if second_lang != "und":
            detector, lang, score = second, second_lang, second_score
    if lang in ("und", "zxx"):  # zxx: py3langid's "no linguistic content"
        return LIDResult("und", 0.0, script, False, detector.name)
    return LIDResult(
        lang, round(float(score), 4), script, letters >= MIN_RELIABLE_CHARS, detector.name
    )


def covers(code: str, detector: str | None = None) -> bool:
    """Can `detector` (default: the one long texts go to) name language `code` at all?"""
    found = get_detector(detector) if detector else _detector(False)
    return found is not None and any(c in found.languages for c in get_language(code).lid_codes)


def _script_agrees(detected: str, language_script: str) -> bool | None:
    if detected in ("Zyyy", "Zzzz"):  # no letters, or a script the table above does not name
        return None
    return detected in _SCRIPT_FAMILIES.get(language_script, {language_script})


def matches(result: LIDResult, code: str) -> bool | None:
    """Is the detected language `code`? True/False, or None when the text is too short to say
    or the detector cannot name the language (then only a wrong script is a confident no)."""
    language = get_language(code)
    if _SCRIPT_DECIDES.get(result.script) == language.code:
        return True
    script_ok = _script_agrees(result.script, language.script)
    if script_ok is False:
        return False  # Latin text for an Urdu request is wrong whatever its length
    if result.script in _SCRIPT_DECIDES and language.code in _SCRIPT_DECIDES.values():
        return False
    if not result.reliable or not covers(code, result.detector or None):
        return None
    return result.lang in language.lid_codes


def is_english(text: str) -> bool | None:
    return matches(detect(text), ENGLISH.code)
