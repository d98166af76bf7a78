"""Meta-talk: a paragraph in which a chat model talks about the request instead of being text.

Web crawls now hold chat-model output pasted into pages ("Sawa, nimeelewa ombi lako
kikamilifu. Nitakuandikia maneno 30,000..." = "OK, I understood your request; I will write you
30,000 words..."). Such a paragraph answers no instruction the generator could write, and the
rater does not notice. This is the cheap first pass, run in prepare on every text: a few exact
phrases that name the conversation with a model ("I understood your request", "as a language
model", "here is the text you asked for"), matched in the opening and the closing of the text
(where models put them), in the text's language and in English.

A phrase that ordinary service text also uses is not a marker: "your request" or "your
application" alone ("Tuma ombi lako...", "Lähetä pyyntösi", "Talebinizi...") is how job adverts
and service pages talk, and "I hope this helps" / "Semoga membantu!" ends recipes and forum
answers as often as chat replies. Phrases match whole words in every script that separates
words (a Turkish phrase must not match inside a longer word); Thai and other scripts without
spaces between words cannot have word boundaries, so theirs match as written.

The rule knows few phrases: for the paper's ten languages a few kinds, and for some languages
outside them only a model naming itself ("as an AI assistant", "as a language model"), the
words every model uses of itself. The multilingual detector (builder/quality/meta_talk.py)
catches the rest where the encoder runs.
`python benchmarks/bench_meta_talk.py` measures both.
"""

from __future__ import annotations

import re
import unicodedata

VERSION = 3  # part of prepare's fingerprint: changing the markers redoes prepare
HEAD, TAIL = 400, 250  # characters searched at each end

# Lower-case phrases; each names the conversation with a model (the request it understood, the
# model itself, the text it was asked for).
MARKERS: dict[str, tuple[str, ...]] = {
    "en": (
        "as an ai language model",
        "as a language model",
        "as an ai assistant",
        "as an ai model",
        "as an artificial intelligence assistant",
        "i am an ai language model",
        "i'm an ai language model",
        "i understood your request",
        "i have understood your request",
        "here is the article you asked for",
        "here's the article you asked for",
        "here is the text you asked for",
        "here's the text you asked for",
        "here is the article you requested",
        "here is the text you requested",
        "let me know if you would like me to",
        "let me know if you'd like me to",
    ),
    "sw": (
        "nimeelewa ombi lako",
        "kama modeli ya lugha",
        "kama msaidizi wa akili bandia",
        "kama msaidizi wa ai",
        "hapa kuna makala uliyoomba",
        "hapa kuna maandishi uliyoomba",
    ),
    "id": (
        "sebagai model bahasa",
        "sebagai asisten ai",
        "sebagai asisten kecerdasan buatan",
        "saya mengerti permintaan anda",
        "saya memahami permintaan anda",
        "berikut adalah artikel yang anda minta",
        "berikut adalah teks yang anda minta",
    ),
    "fi": (
        "kielimallina",
        "tekoälymallina",
        "tekoälynä en",
        "tekoälyavustajana",
        "tässä on pyytämäsi",
        "ymmärsin pyyntösi",
    ),
    "tr": (
        "bir dil modeli olarak",
        "yapay zeka dil modeli olarak",
        "bir yapay zeka asistanı olarak",
        "yapay zeka asistanı olarak",
        "isteğinizi anladım",
        "talebinizi anladım",
        "işte istediğiniz metin",
        "işte istediğiniz makale",
    ),
    "vi": (
        "là một mô hình ngôn ngữ",
        "là một trợ lý ai",
        "là một trợ lý trí tuệ nhân tạo",
        "tôi đã hiểu yêu cầu của bạn",
        "dưới đây là bài viết bạn yêu cầu",
        "dưới đây là bài viết mà bạn yêu cầu",
    ),
    "hi": (
        "एक भाषा मॉडल के रूप में",
        "एआई भाषा मॉडल के रूप में",
        "एक एआई सहायक के रूप में",
        "मैंने आपका अनुरोध समझ लिया",
    ),
    "bn": ("ভাষা মডেল হিসেবে", "এআই সহকারী হিসেবে", "আপনার অনুরোধ বুঝতে পেরেছি"),
    "ta": ("மொழி மாதிரியாக", "ai உதவியாளராக", "செயற்கை நுண்ணறிவு உதவியாளராக"),
    "th": ("ในฐานะโมเดลภาษา", "ในฐานะผู้ช่วย ai", "ในฐานะปัญญาประดิษฐ์", "นี่คือบทความที่คุณขอ"),
    "ur": (
        "زبان کے ماڈل کے طور پر",
        "لسانی ماڈل کے طور پر",
        "اے آئی اسسٹنٹ کے طور پر",
    ),
    # Outside the paper's ten: only the model naming itself ("as an AI assistant / a language
    # model"), the one kind of chat talk that is phrased the same way by every model.
    "es": ("como modelo de lenguaje", "como un modelo de lenguaje", "como asistente de ia"),
    "fr": ("en tant que modèle de langage", "en tant qu'assistant ia", "en tant qu'ia, je"),
    "pt": ("como modelo de linguagem", "como um modelo de linguagem", "como assistente de ia"),
    "de": ("als sprachmodell kann ich", "als ki-sprachmodell", "als ki-assistent kann ich"),
    "ms": ("sebagai model bahasa", "sebagai pembantu ai", "sebagai pembantu kecerdasan buatan"),
    "tl": ("bilang isang ai", "bilang isang language model"),
    "ne": ("भाषा मोडेलको रूपमा", "एआई सहायकको रूपमा"),
    "yo": ("gẹ́gẹ́ bí olùrànlọ́wọ́ ai", "gege bi oluranlowo ai"),
    "ha": ("a matsayina na ai", "a matsayina na mataimaki"),
    "zu": ("njengomsizi we-ai", "njengemodeli yolimi"),
}

# Scripts written without spaces between words: a phrase in them gets no word boundary.
UNSPACED = re.compile(
    "[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff]"
)
_BOUNDARY: str | None = None


def _word_chars() -> str:
    """A character class of what continues a word: `\\w` plus combining marks. Python's `\\w`
    leaves out the vowel signs of Devanagari, Bengali or Tamil ("ो" in "अनुरोधों"), so `(?!\\w)`
    alone would end a Hindi word in the middle."""
    global _BOUNDARY
    # the Basic Multilingual Plane holds the marks of every script with markers
    if _BOUNDARY is None:
        marks = [
            c for c in range(0x300, 0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")
        ]
        ranges, start = [], marks[0]
        for prev, here in zip(marks, marks[1:] + [-1]):
            if here != prev + 1:
                ranges.append(
                    f"\\u{start:04x}-\\u{prev:04x}" if prev > start else f"\\u{start:04x}"
                )
                start = here
        _BOUNDARY = r"[\w" + "".join(ranges) + "]"
    return _BOUNDARY


def _pattern(lang: str) -> re.Pattern:
    phrases = sorted({*MARKERS["en"], *MARKERS.get(lang, ())}, key=len, reverse=True)
    words = "|".join(re.escape(p) for p in phrases if not UNSPACED.search(p))
    unspaced = [re.escape(p) for p in phrases if UNSPACED.search(p)]
    # one boundary around all the spaced phrases: one large class compiles once
    word = _word_chars()
    return re.compile("|".join([rf"(?<!{word})(?:{words})(?!{word})", *unspaced]), re.IGNORECASE)


_PATTERNS: dict[str, re.Pattern] = {}


def meta_talk(text: str, lang: str) -> str | None:
    """The marker phrase found when `text` is a chat model talking about the request, else None."""
    pattern = _PATTERNS.get(lang) or _PATTERNS.setdefault(lang, _pattern(lang))
    ends = text[:HEAD] if len(text) <= HEAD + TAIL else text[:HEAD] + "\n" + text[-TAIL:]
    match = pattern.search(ends)
    return match.group(0) if match else None
