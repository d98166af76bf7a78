"""Meta-talk: a paragraph in which a chat model talks about the request instead of being text.

Web crawls now hold chat-model output pasted into pages ("Sawa, nimeelewa ombi lako
kikamilifu. Nitakuandikia maneno 30,000..." = "OK, I understood your request; I will write you
30,000 words..."). Such a paragraph answers no instruction the generator could write, and the
rater does not notice. The markers are phrases a model uses about the conversation itself:
the reader's request, "as an AI / a language model", "here is the article you asked for",
"I hope this helps". They are matched in the opening and the closing of the text (where models
put them) in the text's language and in English. Precision is measured by
benchmarks/bench_meta_talk.py on the embedded corpus, the seeds and UDHR (none flagged).
"""

from __future__ import annotations

import re

VERSION = 1  # part of prepare's fingerprint: changing the markers redoes prepare
HEAD, TAIL = 400, 250  # characters searched at each end

# Lower-case phrases; each names the conversation (the reader's request, the model itself).
MARKERS: dict[str, tuple[str, ...]] = {
    "en": ("your request", "as an ai", "as a language model", "as an ai language model", "i'm sorry, but i can",
           "i hope this helps", "here is the article you", "here's the article you", "let me know if you need",
           "certainly! here", "sure! here", "i will write you", "i'll write you"),
    "sw": ("ombi lako", "nimeelewa ombi", "nitakuandikia", "kama modeli ya lugha", "kama akili bandia",
           "natumaini hii itakusaidia", "hapa kuna makala uliyo"),
    "id": ("permintaan anda", "permintaanmu", "sebagai model bahasa", "sebagai ai", "semoga membantu!",
           "berikut adalah artikel yang anda", "saya akan menuliskan untuk anda"),
    "fi": ("pyyntösi", "kielimallina", "tekoälynä en", "tässä on pyytämäsi", "toivottavasti tästä oli apua",
           "kirjoitan sinulle"),
    "tr": ("isteğinizi", "talebinizi", "bir dil modeli olarak", "bir yapay zeka olarak", "işte istediğiniz",
           "umarım yardımcı olur", "sizin için yazacağım"),
    "vi": ("yêu cầu của bạn", "là một mô hình ngôn ngữ", "là một ai", "dưới đây là bài viết bạn",
           "hy vọng điều này giúp ích", "tôi sẽ viết cho bạn"),
    "hi": ("आपका अनुरोध", "आपके अनुरोध", "एक भाषा मॉडल के रूप में", "एआई के रूप में", "उम्मीद है कि यह मददगार",
           "मैं आपके लिए लिखूंगा", "मैं आपके लिए लिखूँगा"),
    "bn": ("আপনার অনুরোধ", "ভাষা মডেল হিসেবে", "এআই হিসেবে", "আশা করি এটি সাহায্য", "আমি আপনার জন্য লিখব"),
    "ta": ("உங்கள் கோரிக்கை", "மொழி மாதிரியாக", "செயற்கை நுண்ணறிவாக", "இது உதவும் என்று நம்புகிறேன்"),
    "th": ("คำขอของคุณ", "ในฐานะโมเดลภาษา", "ในฐานะ ai", "หวังว่าจะเป็นประโยชน์", "ฉันจะเขียนให้คุณ"),
    "ur": ("آپ کی درخواست", "ماڈل کے طور پر", "مصنوعی ذہانت کے طور پر", "امید ہے کہ یہ مددگار"),
}


def _pattern(lang: str) -> re.Pattern:
    phrases = {*MARKERS["en"], *MARKERS.get(lang, ())}
    # Latin-script phrases must not start or end inside a word ("ombi lako" in "maombi lakoni").
    return re.compile("|".join(rf"(?<!\w){re.escape(p)}(?!\w)" if p.isascii() else re.escape(p)
                               for p in sorted(phrases, key=len, reverse=True)), re.IGNORECASE)


_PATTERNS: dict[str, re.Pattern] = {}


def meta_talk(text: str, lang: str) -> str | None:
    """The marker phrase found when `text` is a chat model talking about the request, else None."""
    pattern = _PATTERNS.get(lang) or _PATTERNS.setdefault(lang, _pattern(lang))
    ends = text[:HEAD] if len(text) <= HEAD + TAIL else text[:HEAD] + "\n" + text[-TAIL:]
    match = pattern.search(ends)
    return match.group(0) if match else None
