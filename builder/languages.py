"""The language registry: one entry per language the builder knows by name.

The ten languages of the paper are registered below. Any other language works once it has an
entry: call `register_language(Language(...))` from your own code, or add a line to `_PAPER`
and send a pull request. What an entry needs: the code users type (ISO 639-1, or 639-3 when
there is no 639-1 code), the English name (used in prompts: "Answer in Swahili."), the ISO 15924
script, and the corpus config names (FineWeb-2 uses `{iso639-3}_{Script}`, CulturaX ISO 639-1).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Language:
    code: str
    name: str
    script: str  # ISO 15924, e.g. Latn, Beng, Deva
    iso639_3: str
    fineweb2: str | None = None  # config of HuggingFaceFW/fineweb-2
    culturax: str | None = None  # config of uonlp/CulturaX
    # Codes the language-ID model may answer for this language on real text (a documented
    # confusion, not a different language the user asked for).
    lid_aliases: tuple[str, ...] = ()

    @property
    def lid_codes(self) -> tuple[str, ...]:
        return (self.code, *self.lid_aliases)


def _paper_language(code, name, script, iso3, *aliases) -> Language:
    return Language(code, name, script, iso3, fineweb2=f"{iso3}_{script}", culturax=code, lid_aliases=aliases)


_PAPER = [
    _paper_language("bn", "Bengali", "Beng", "ben"),
    _paper_language("fi", "Finnish", "Latn", "fin"),
    # langdetect answers Nepali for some short Hindi text (same script, close vocabulary).
    _paper_language("hi", "Hindi", "Deva", "hin", "ne"),
    # Every detector tested calls part of formal Indonesian Malay.
    _paper_language("id", "Indonesian", "Latn", "ind", "ms"),
    # FineWeb-2 files Swahili under the individual language swh, not the macrolanguage swa.
    dataclasses.replace(_paper_language("sw", "Swahili", "Latn", "swa"), fineweb2="swh_Latn"),
    _paper_language("ta", "Tamil", "Taml", "tam"),
    _paper_language("th", "Thai", "Thai", "tha"),
    _paper_language("tr", "Turkish", "Latn", "tur"),
    _paper_language("ur", "Urdu", "Arab", "urd"),
    _paper_language("vi", "Vietnamese", "Latn", "vie"),
]

ENGLISH = Language("en", "English", "Latn", "eng", fineweb2=None, culturax="en")

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in _PAPER}
PAPER_LANGUAGES: tuple[str, ...] = tuple(LANGUAGES)


class UnknownLanguageError(KeyError, ValueError):
    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return self.args[0]


def register_language(language: Language, *, replace: bool = False) -> None:
    if language.code in LANGUAGES and not replace:
        raise ValueError(f"language {language.code!r} is already registered; pass replace=True to override it")
    LANGUAGES[language.code] = language


def get_language(code: str) -> Language:
    key = code.strip()
    if key in LANGUAGES:
        return LANGUAGES[key]
    if key == ENGLISH.code:
        return ENGLISH
    for lang in LANGUAGES.values():  # accept the ISO 639-3 code too (swa, ben, ...)
        if key == lang.iso639_3:
            return lang
    raise UnknownLanguageError(
        f"unknown language code {code!r}. Known: {', '.join(sorted(LANGUAGES))}. "
        "To add one, call builder.languages.register_language(Language(code, name, script, "
        "iso639_3, fineweb2=..., culturax=...)) or add it to _PAPER in builder/languages.py"
    )


def parse_languages(spec: str | list[str]) -> list[Language]:
    """`"sw,bn"` or `["sw", "bn"]` or `"all"` (the ten paper languages) -> Language objects."""
    codes = spec.split(",") if isinstance(spec, str) else list(spec)
    codes = [c.strip() for c in codes if c.strip()]
    if codes == ["all"]:
        codes = list(PAPER_LANGUAGES)
    if not codes:
        raise ValueError("no language given; pass codes such as 'sw,bn' or 'all'")
    langs = [get_language(c) for c in codes]
    seen = set()
    return [lang for lang in langs if not (lang.code in seen or seen.add(lang.code))]
