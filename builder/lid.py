"""Offline language identification: language, score and script for a text.

`langdetect` ships its profiles in the wheel and measured best on the ten languages here
(see notes/ecosystem.md). Its answers are random unless seeded, so the factory is seeded once.
Script detection is our own: the dominant Unicode script of the letters, which settles
languages with a script of their own (Bengali, Tamil, Thai) even when the text is short.

Short-text policy: below `MIN_RELIABLE_CHARS` letters every detector is unreliable, so the
result is marked `reliable=False` and `matches()` answers None ("cannot tell") unless the
script alone decides it. Callers must not drop a row on None.
"""

from __future__ import annotations

import dataclasses
import threading
import unicodedata
from collections import Counter
from functools import lru_cache

from .languages import ENGLISH, get_language

MIN_RELIABLE_CHARS = 20

# Unicode character-name prefixes -> ISO 15924 codes, for the scripts we are likely to meet.
_SCRIPT_PREFIXES = {
    "LATIN": "Latn", "BENGALI": "Beng", "DEVANAGARI": "Deva", "TAMIL": "Taml", "THAI": "Thai",
    "ARABIC": "Arab", "CYRILLIC": "Cyrl", "GREEK": "Grek", "HEBREW": "Hebr", "CJK": "Hani",
    "HIRAGANA": "Hira", "KATAKANA": "Kana", "HANGUL": "Hang", "GUJARATI": "Gujr", "GURMUKHI": "Guru",
    "TELUGU": "Telu", "KANNADA": "Knda", "MALAYALAM": "Mlym", "SINHALA": "Sinh", "ORIYA": "Orya",
    "MYANMAR": "Mymr", "KHMER": "Khmr", "LAO": "Laoo", "ETHIOPIC": "Ethi", "GEORGIAN": "Geor",
    "ARMENIAN": "Armn", "TIBETAN": "Tibt",
}
# Scripts used by exactly one of the registered languages: the script alone identifies them.
_SCRIPT_DECIDES = {"Beng": "bn", "Taml": "ta", "Thai": "th"}


@dataclasses.dataclass(frozen=True)
class LIDResult:
    lang: str  # ISO 639-1 code from the detector, or "und" when nothing was detectable
    score: float  # the detector's probability for `lang`
    script: str  # dominant script of the letters (ISO 15924), "Zyyy" when there are none
    reliable: bool  # False for texts too short to trust the detector

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@lru_cache(maxsize=4096)
def _char_script(ch: str) -> str | None:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    return _SCRIPT_PREFIXES.get(name.split(" ", 1)[0], "Zzzz")


def script_of(text: str) -> tuple[str, int]:
    """(dominant script, number of letters counted) of `text`."""
    counts: Counter[str] = Counter()
    for ch in text:
        if unicodedata.category(ch)[0] in "LM":  # letters and combining marks (Indic vowel signs)
            script = _char_script(ch)
            if script:
                counts[script] += 1
    if not counts:
        return "Zyyy", 0
    return counts.most_common(1)[0][0], sum(counts.values())


_lock = threading.Lock()
_seeded = False


def _detect_probs(text: str) -> list[tuple[str, float]]:
    global _seeded
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    if not _seeded:
        with _lock:  # langdetect's factory is global; load its profiles once, seeded
            DetectorFactory.seed = 0  # it samples n-grams at random: seed for repeatable answers
            _seeded = True
    try:
        return [(p.lang, p.prob) for p in detect_langs(text)]
    except LangDetectException:
        return []


def detect(text: str) -> LIDResult:
    script, letters = script_of(text)
    probs = _detect_probs(text) if letters else []
    if not probs:
        return LIDResult("und", 0.0, script, False)
    lang, score = probs[0]
    return LIDResult(lang, round(float(score), 4), script, letters >= MIN_RELIABLE_CHARS)


def matches(result: LIDResult, code: str) -> bool | None:
    """Is the detected language `code`? True/False, or None when the text is too short to say."""
    language = get_language(code)
    if result.script in _SCRIPT_DECIDES:
        return _SCRIPT_DECIDES[result.script] == language.code
    if result.script != "Zyyy" and result.script != language.script:
        return False  # Latin text for an Urdu request is wrong whatever its length
    if not result.reliable:
        return None
    return result.lang in language.lid_codes


def is_english(text: str) -> bool | None:
    return matches(detect(text), ENGLISH.code)
