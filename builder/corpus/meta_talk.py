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

Besides the exact phrases, each language may have shapes (PATTERNS, regular expressions) for
the talk that a fixed phrase cannot hold: an offer asked as a question or a refusal, in the first
person singular ("would you like me to...?", "sorry, I can't help with that"; a shop says "we"),
the model naming itself, and "here is" a few words from "the ... you asked for" (either alone is
ordinary web text). An offer made as a condition ("if you want, I can...") is not a shape:
freelancers, tutors, sellers and forum members write it as often as models do. The paper's ten
languages have all four kinds; some languages outside them have a few, and the others only the
English ones. The multilingual detector (builder/quality/meta_talk.py) catches the rest where
the encoder runs. The rule costs about 24 us per text in prepare (15 us with the phrases alone).
`python benchmarks/bench_meta_talk.py` measures both.
"""

from __future__ import annotations

import re
import unicodedata

VERSION = 6  # part of prepare's fingerprint: changing the markers redoes prepare
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

# Shapes of chat talk that a fixed phrase cannot hold, as regular expressions (lower case, matched
# like the phrases). Each needs what only a model says to the person it answers:
# * an offer asked as a question in the first person singular ("would you like me to...?"): a
#   shop or an office offers as "we". An offer as a condition ("if you want, I can...", "I'm
#   ready to help") is not one: freelancers, tutors and forum members write it too;
# * a refusal in the first person singular ("sorry, I can't help with that"): a shop says "we";
# * the model naming itself ("as an AI, I...");
# * "here is" and "the ... you asked for / requested" together, a few words apart: either alone
#   is ordinary web text ("here is our menu", "the position you applied for").
# English ones apply to every language, as the English phrases do.
PATTERNS: dict[str, tuple[str, ...]] = {
    "en": (
        r"would you like me to",
        r"do you want me to",
        r"i(?:'m| am) sorry,? but i (?:can't|cannot|can not)",
        r"i (?:can't|cannot) (?:help|assist) (?:you )?with (?:that|this)",
        r"as an ai,? i\b",
        r"here(?: is|'s| are) .{0,60}?(?:you asked for|you requested|you wanted)",
    ),
    "sw": (
        r"(?:je,? )?ungependa ni(?!ni\b)\w+",
        r"siwezi kukusaidia",
        r"samahani,? (?:lakini )?siwezi",
        r"kama akili bandia",
        r"mimi ni (?:modeli|msaidizi wa akili bandia|msaidizi wa ai)",
        r"hapa (?:kuna|ni|chini) .{0,60}?(?:uliyoomba|ulizoomba|ulichoomba|ulioomba)",
    ),
    "id": (
        r"(?:apakah )?(?:anda|kamu) (?:ingin|mau) saya",
        r"maaf,? (?:tetapi |tapi )?saya tidak (?:dapat|bisa)",
        r"saya tidak (?:dapat|bisa) membantu",
        r"sebagai (?:sebuah )?(?:ai|model ai|kecerdasan buatan),? saya",
        r"saya (?:adalah|hanyalah) (?:sebuah )?model bahasa",
        r"(?:berikut|ini) .{0,60}?yang (?:anda|kamu) (?:minta|inginkan|tanyakan)",
        r"berikut .{0,100}?sesuai (?:dengan )?permintaan (?:anda|kamu)",
    ),
    "ms": (
        r"(?:adakah )?anda (?:mahu|ingin) saya",
        r"maaf,? (?:tetapi )?saya tidak (?:dapat|boleh)",
        r"sebagai (?:sebuah )?(?:ai|kecerdasan buatan),? saya",
        r"(?:berikut|ini) .{0,60}?(?:yang|seperti yang) anda minta",
    ),
    "fi": (
        r"haluatko,? että (?:kirjoitan|lisään|muokkaan|teen|selitän|laadin|tiivistän|jatkan"
        r"|käännän|annan|kerron|käyn|lasken)",
        r"(?:valitettavasti|pahoittelen,? mutta) en voi",
        r"en voi auttaa",
        r"tekoälynä minulla",
        r"olen (?:tekoäly|kielimalli|tekoälyavustaja)",
        r"(?:tässä|alla)(?: on| ovat)?\s.{0,60}?pyytämäsi",
    ),
    "tr": (
        r"\w+(?:mamı|memi) ister misin(?:iz)?",
        r"yardımcı olamam",
        r"üzgünüm,? (?:ancak|ama) (?:ben |bu )",
        r"(?:bir )?yapay zek[aâ] olarak,? (?:benim|ben)",
        r"ben bir (?:yapay zek[aâ]|dil modeli)",
        r"istediğiniz gibi,? .{0,60}?hazırladım",
        r"işte .{0,40}?(?:talep ettiğiniz|istediğiniz (?:metin|makale|yazı|liste|şiir|özet|içerik))",
    ),
    "vi": (
        r"bạn có (?:muốn|cần) (?:tôi|mình)",
        r"(?:xin lỗi|rất tiếc),? (?:nhưng )?(?:tôi|mình) không thể",
        r"tôi không thể giúp bạn",
        r"(?:với tư cách là|là) một (?:ai|mô hình ai|trí tuệ nhân tạo),? tôi",
        r"tôi là một (?:ai|mô hình)",
        r"(?:dưới đây|sau đây) là .{0,60}?(?:bạn (?:đã )?yêu cầu|theo yêu cầu của bạn)",
    ),
    "hi": (
        r"क्या आप (?:चाहेंगे|चाहते हैं|चाहती हैं) कि मैं",
        r"मुझे खेद है,? लेकिन मैं",
        r"(?:माफ़|माफ) कीजिए,? मैं .{0,80}?नहीं कर (?:सकता|सकती)",
        r"आपके अनुरोध के अनुसार,? (?:यहाँ|यहां|नीचे)",
        r"मैं इसमें आपकी (?:मदद|सहायता) नहीं कर (?:सकता|सकती)",
        r"(?:एक )?(?:एआई|ai) के रूप में,? मैं",
        r"मैं एक (?:एआई|ai|भाषा मॉडल)",
        r"(?:यहाँ|यहां|नीचे) .{0,60}?(?:आपके अनुरोध|आपने (?:मांगा|माँगा|मांगी|माँगी))",
    ),
    "bn": (
        r"আপনি কি চান (?:যে )?আমি",
        r"আপনার অনুরোধ অনুযায়ী,? (?:নিচে|এখানে)",
        r"আমি (?:আপনাকে )?(?:এ বিষয়ে|এতে) সাহায্য করতে পারব না",
        r"(?:একটি )?এআই হিসেবে,? আমি",
        r"আমি একটি (?:এআই|ai|ভাষা মডেল)",
        r"(?:এখানে|নিচে) .{0,60}?(?:আপনার অনুরোধ|আপনি যা চেয়েছেন)",
    ),
    "ta": (
        r"(?:எழுதித்|செய்து|தயாரித்துத்) தர வேண்டுமா",
        r"என்னால் (?:இதற்கு )?உதவ முடியாது",
        r"மன்னிக்கவும்,? ஆனால் என்னால்",
        r"ஒரு (?:ai|செயற்கை நுண்ணறிவு)(?: மாதிரி)?யாக,? (?:நான்|என்னால்|எனக்கு)",
        r"நான் ஒரு (?:ai|மொழி மாதிரி|செயற்கை நுண்ணறிவு)",
        r"(?:இதோ|கீழே) .{0,60}?நீங்கள் கோரிய",
    ),
    "th": (
        r"คุณ(?:ต้องการ|อยาก)ให้(?:ฉัน|ผม).{0,40}?(?:ไหม|หรือไม่|มั้ย)",
        r"(?:ฉัน|ผม)ไม่สามารถช่วย",
        r"ขออภัย (?:แต่)?(?:ฉัน|ผม)ไม่สามารถ",
        r"(?:ฉัน|ผม)เป็น(?: ai|เอไอ|โมเดลภาษา)",
        r"ในฐานะ ?(?:ai|เอไอ)",
    ),
    "ur": (
        r"کیا آپ (?:چاہیں گے|چاہتے ہیں|چاہیں گی) کہ میں",
        r"آپ کی (?:درخواست|فرمائش) (?:کے مطابق|پر)،? .{0,80}?(?:یہاں|پیش|درج ذیل)",
        r"معذرت،? لیکن میں",
        r"میں (?:اس میں )?آپ کی مدد نہیں کر (?:سکتا|سکتی)",
        r"(?:بطور اے آئی|ایک اے آئی کے طور پر)،? میں",
        r"میں ایک (?:اے آئی|لسانی ماڈل|زبان کا ماڈل)",
        r"(?:یہاں|یہ رہا|یہ رہی|ذیل میں) .{0,60}?(?:آپ کی درخواست|آپ نے (?:مانگا|مانگی|پوچھا))",
    ),
    "tl": (
        r"gusto (?:mo|ninyo) bang .{0,30}? ko\b",
        r"paumanhin,? (?:ngunit|pero) hindi (?:ko|kita)",
        r"(?:narito ang|na) .{0,60}?(?:hiniling mo|hiningi mo|hiniling mong)",
    ),
    # Outside the paper's ten: refusals, offers asked as questions, the model naming itself and
    # "here is ... you asked for", in languages whose chat talk the encoder reads poorly.
    "ha": (
        r"\bga .{0,60}?da ka (?:nema|buƙata|bukata|tambaya)",
        r"ba zan iya taimaka maka",
        r"(?:yi haƙuri|yi hakuri),? ba zan iya",
        r"kana (?:so|son) in\b",
        r"a matsayina na (?:shirin kwamfuta|basirar)",
    ),
    "yo": (r"ṣé (?:o|ẹ) fẹ́ kí n",),
    "ig": (r"ọ bụrụ na ị chọrọ ka m",),
    "so": (r"anigoo ah barnaamij",),
    "om": (r"akka moodela afaanii", r"si gargaaruu hin danda'u"),
    "ne": (
        r"के तपाईं चाहनुहुन्छ कि म",
        r"म एक (?:एआई|ai|भाषा मोडेल)",
    ),
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
    shapes = [*PATTERNS["en"], *PATTERNS.get(lang, ())]
    words = [re.escape(p) for p in phrases if not UNSPACED.search(p)]
    words += [p for p in shapes if not UNSPACED.search(p)]
    unspaced = [re.escape(p) for p in phrases if UNSPACED.search(p)]
    unspaced += [p for p in shapes if UNSPACED.search(p)]
    # one boundary around all the spaced phrases: one large class compiles once
    word = _word_chars()
    spaced = rf"(?<!{word})(?:{'|'.join(words)})(?!{word})"
    return re.compile("|".join([spaced, *unspaced]), re.IGNORECASE)


_PATTERNS: dict[str, re.Pattern] = {}


def meta_talk(text: str, lang: str) -> str | None:
    """The marker phrase found when `text` is a chat model talking about the request, else None."""
    pattern = _PATTERNS.get(lang) or _PATTERNS.setdefault(lang, _pattern(lang))
    ends = text[:HEAD] if len(text) <= HEAD + TAIL else text[:HEAD] + "\n" + text[-TAIL:]
    match = pattern.search(ends)
    return match.group(0) if match else None
