"""Text clean-up for web paragraphs: pure functions, one job each, testable on their own.

- `normalize_whitespace` / `clean_text`: NFC, invisible characters, spaces and blank lines.
- `remove_boilerplate`: drops navigation, cookie, share and "read more" lines.
- `dedup_key`: the normalised form that exact dedup, near-dup shingles and row ids are built on.
- `garbled_reason`: names the defect when a text's encoding or shaping is broken.

Everything here is language-agnostic except the short "read more" list, which covers the ten
languages of the paper; other languages still get the structural rules (menus, URLs, symbols).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from functools import cache, lru_cache

# Invisible characters that carry no meaning in running text. ZWJ/ZWNJ (U+200C/U+200D) are
# NOT here: Bengali, Hindi, Urdu and Persian spell words with them.
_INVISIBLE = "\u200b\u2060\ufeff\u00ad\u180e"
# C0/C1 control characters (Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F)
# other than newline and tab come from binary junk or broken conversions; they break
# tokenizers and JSON viewers. One regex removes them with the invisible characters: a
# character class of a few ranges is scanned in C, where a per-character test was ~10x slower.
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + _INVISIBLE + "]+")
_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace except newline (tabs, NBSP, ideographic space)
_BLANK_RUN = re.compile(r"\n{3,}")


def normalize_whitespace(text: str) -> str:
    """NFC; no invisible or control characters; single spaces; at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _DROPPED.sub("", text)
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


# --- boilerplate --------------------------------------------------------------------------

# "Read more" / "see also" / "share" in the ten paper languages and English (web pages in
# every language carry English widgets). Matched against whole short lines only.
_READ_MORE = (
    "read more",
    "continue reading",
    "see also",
    "share this",
    "share on",
    "click here",
    "print",
    "soma zaidi",
    "soma pia",  # sw
    "baca juga",
    "baca selengkapnya",  # id
    "lue lisää",
    "lue myös",  # fi
    "devamını oku",
    "devamı",
    "paylaş",  # tr
    "xem thêm",
    "đọc thêm",
    "chia sẻ",  # vi
    "आगे पढ़ें",
    "और पढ़ें",
    "यह भी पढ़ें",  # hi
    "আরও পড়ুন",
    "আরো পড়ুন",  # bn
    "மேலும் படிக்க",  # ta
    "อ่านต่อ",
    "อ่านเพิ่มเติม",  # th
    "مزید پڑھیں",
    "یہ بھی پڑھیں",  # ur
)
# The phrase alone ("Soma zaidi »"), or as a link label ("Baca juga: <headline>"); a sentence
# that merely starts with the words ("Soma zaidi kuhusu haki zako ...") is text.
_READ_MORE_RE = re.compile(
    r"^\W*(?:" + "|".join(re.escape(p) for p in _READ_MORE) + r")(?:\W*$|\s*[:»›>|–—-].{0,100}$)",
    re.IGNORECASE,
)
# Widgets whose wording is English on pages in any language.
_WIDGET_RE = re.compile(
    r"\b(?:cookies?|javascript|all rights reserved|privacy policy|terms of (?:use|service)|"
    r"sign (?:in|up)|log ?in|subscribe|newsletter|copyright)\b",
    re.IGNORECASE,
)
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENU_SEPARATORS = re.compile(r"\s[|»›·•/>]\s|\s-\s")
_SHORT_LINE = 60  # characters: a line of a real paragraph is longer, or ends a sentence
# distinct characters up to which a scan per character beats a pass per character
_FEW_DISTINCT = 100


@cache
def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def _letters(text: str) -> int:
    chars = set(text)
    # a large alphabet (Chinese): one counting pass, not one scan per character
    if len(chars) > _FEW_DISTINCT:
        return sum(n for ch, n in Counter(text).items() if _is_letter(ch))
    # A line of an alphabetic script has ~60 distinct characters: str.count scans in C.
    return sum(text.count(ch) for ch in chars if _is_letter(ch))


def is_boilerplate_line(line: str) -> bool:
    """A line that belongs to the page chrome rather than to the text."""
    stripped = line.strip()
    if not stripped:
        return False
    if "©" in stripped or _READ_MORE_RE.match(stripped):
        return True
    without_urls = _URL_RE.sub("", stripped)
    if len(without_urls.strip()) < len(stripped) / 2:  # mostly links
        return True
    if _letters(stripped) < len(stripped) / 3:  # dates, prices, ratings, ASCII art
        return True
    if len(_MENU_SEPARATORS.findall(stripped)) >= 2 and not re.search(r"[.!?।۔।॥]$", stripped):
        return True  # "Home | News | Sport | Contact": a menu, not a sentence
    # English widget words only count on short lines: a long paragraph may discuss cookies.
    return len(stripped) <= _SHORT_LINE * 2 and bool(_WIDGET_RE.search(stripped))


def remove_boilerplate(text: str) -> tuple[str, int]:
    """(text without boilerplate lines, number of characters removed)."""
    kept, removed = [], 0
    for line in text.split("\n"):
        if is_boilerplate_line(line):
            removed += len(line)
        else:
            kept.append(line)
    return _BLANK_RUN.sub("\n\n", "\n".join(kept)).strip(), removed


def clean_text(text: str) -> tuple[str, int]:
    """normalize_whitespace + remove_boilerplate: (cleaned text, boilerplate characters removed)."""
    return remove_boilerplate(normalize_whitespace(text))


# --- normalised key for dedup and ids -----------------------------------------------------


@lru_cache(maxsize=1)
def _word_separators() -> dict[int, str]:
    # Built from the Unicode database once, so every script's punctuation (। ۔ ፣ 、) goes,
    # while combining marks stay: Indic vowel signs are part of the word, and Python's \W
    # would treat them as separators. A translate table, not a regex character class: a class
    # this large (it reaches past U+FFFF) is matched range by range, ~3x slower.
    table = {
        cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp))[0] in "PS"
    }
    table[ord("_")] = " "
    return table


def dedup_key(text: str) -> str:
    """Case-, punctuation- and spacing-insensitive form: two texts that read the same share it."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.translate(_word_separators()).split())


# --- garbled text -------------------------------------------------------------------------

# Bytes 0x80-0xBF as cp1252 shows them (latin-1 for the five bytes cp1252 leaves undefined):
# the continuation bytes of UTF-8 after a wrong decode.
_CONT_CHARS = "".join(
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xC0)
)
_CONT = "[" + re.escape(_CONT_CHARS) + "]"
# A UTF-8 lead byte shown as latin-1 (Ã = 0xC3, à = 0xE0, ð = 0xF0) followed by exactly the
# continuation bytes its sequence needs: "Ã©" (é), "â€™" (’), "à¤¹" (ह), "Ø§" (ا).
_MOJIBAKE_RE = re.compile(
    f"[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}|[\u00f0-\u00f4]{_CONT}{{3}}"
)


def _decodes_to_text(seq: str) -> bool:
    """Would these characters, re-encoded, be the UTF-8 of a letter, mark or punctuation?"""
    try:
        original = seq.encode("cp1252", errors="strict")
    except UnicodeEncodeError:
        original = seq.encode("latin-1", errors="ignore")
    try:
        ch = original.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # Legit pairs such as Turkish "Ü’" decode to Syriac or Hebrew accents: not plausible text.
    category = unicodedata.category(ch)
    if category[0] == "L":
        return True
    return len(original) >= 3 and category[0] in "MPS" or 0xA0 <= ord(ch) <= 0xBF


def mojibake_sequences(text: str) -> list[str]:
    """The character runs in `text` that are UTF-8 bytes shown in the wrong encoding."""
    return [m.group() for m in _MOJIBAKE_RE.finditer(text) if _decodes_to_text(m.group())]


@cache
def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Mc")


@cache
def _ends_word(ch: str) -> bool:
    """Punctuation or a separator that is not whitespace: a word may start after it."""
    return not ch.isspace() and unicodedata.category(ch)[0] in "PZ"


def count_dangling_marks(text: str) -> int:
    """Combining marks at the start of a word: vowel signs cut off their consonant.

    A renderer shows these on a dotted circle; text copied out of a PDF or a page with broken
    Indic shaping carries them (the official X-Instruction Hindi sample has such rows).
    A mark counts at the start of the text and after whitespace, punctuation or a separator.
    Counted with str.split in C, per distinct character, not per character in Python (~5x).
    """
    chars = set(text)
    if not any(map(_is_mark, chars)):
        return 0
    enders = [ch for ch in chars if _ends_word(ch)]
    if len(enders) > _FEW_DISTINCT // 4:  # many kinds of punctuation: one pass over the characters
        count, prev = 0, " "
        for ch in text:
            count += _is_mark(ch) and (prev.isspace() or _ends_word(prev))
            prev = ch
        return count
    count = sum(1 for word in text.split() if _is_mark(word[0]))  # the start, and after whitespace
    for ch in enders:
        count += sum(1 for piece in text.split(ch)[1:] if piece and _is_mark(piece[0]))
    return count


def garbled_reason(text: str) -> str | None:
    """Which defect makes `text` unusable, or None. Thresholds leave room for one stray glyph."""
    if "\ufffd" in text:
        return "replacement_char"  # a byte sequence that was not valid in its encoding
    if "\u25cc" in text:
        return "dotted_circle"  # the renderer's placeholder for a mark with no base letter
    if count_dangling_marks(text) >= 2:
        return "dangling_mark"
    mojibake = mojibake_sequences(text)
    # One 2-byte pair can be a coincidence of real letters; two, or one 3-byte sequence
    # such as "â€™", cannot.
    if len(mojibake) >= 2 or any(len(seq) >= 3 for seq in mojibake):
        return "mojibake"
    return None
