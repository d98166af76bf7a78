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
from functools import lru_cache

# Invisible characters that carry no meaning in running text. ZWJ/ZWNJ (U+200C/U+200D) are
# NOT here: Bengali, Hindi, Urdu and Persian spell words with them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad\u180e"), None)
_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace except newline (tabs, NBSP, ideographic space)
_BLANK_RUN = re.compile(r"\n{3,}")


def _strip_controls(text: str) -> str:
    # C0/C1 control characters other than newline and tab come from binary junk or broken
    # conversions; they break tokenizers and JSON viewers.
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def normalize_whitespace(text: str) -> str:
    """NFC; no invisible or control characters; single spaces; at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _strip_controls(text.translate(_INVISIBLE))
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


# --- boilerplate --------------------------------------------------------------------------

# "Read more" / "see also" / "share" in the ten paper languages and English (web pages in
# every language carry English widgets). Matched against whole short lines only.
_READ_MORE = (
    "read more", "continue reading", "see also", "share this", "share on", "click here", "print",
    "soma zaidi", "soma pia",  # sw
    "baca juga", "baca selengkapnya",  # id
    "lue lisää", "lue myös",  # fi
    "devamını oku", "devamı", "paylaş",  # tr
    "xem thêm", "đọc thêm", "chia sẻ",  # vi
    "आगे पढ़ें", "और पढ़ें", "यह भी पढ़ें",  # hi
    "আরও পড়ুন", "আরো পড়ুন",  # bn
    "மேலும் படிக்க",  # ta
    "อ่านต่อ", "อ่านเพิ่มเติม",  # th
    "مزید پڑھیں", "یہ بھی پڑھیں",  # ur
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


def _letters(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LM")


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
def _punct_symbol_re() -> re.Pattern:
    # Built from the Unicode database once, so every script's punctuation (। ۔ ፣ 、) goes,
    # while combining marks stay: Indic vowel signs are part of the word, and Python's \W
    # would treat them as separators.
    ranges, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] in "PS":
            if start is None:
                start = cp
            elif cp != prev + 1:
                ranges.append((start, prev))
                start = cp
            prev = cp
    ranges.append((start, prev))
    body = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"[{body}_]+")


def dedup_key(text: str) -> str:
    """Case-, punctuation- and spacing-insensitive form: two texts that read the same share it."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_punct_symbol_re().sub(" ", text).split())


# --- garbled text -------------------------------------------------------------------------

# Bytes 0x80-0xBF as cp1252 shows them (latin-1 for the five bytes cp1252 leaves undefined):
# the continuation bytes of UTF-8 after a wrong decode.
_CONT_CHARS = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xC0))
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


def count_dangling_marks(text: str) -> int:
    """Combining marks at the start of a word: vowel signs cut off their consonant.

    A renderer shows these on a dotted circle; text copied out of a PDF or a page with broken
    Indic shaping carries them (the official X-Instruction Hindi sample has such rows).
    """
    count, prev = 0, " "
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Mc") and (prev.isspace() or unicodedata.category(prev)[0] in "PZ"):
            count += 1
        prev = ch
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
