"""The registry's entries: what a language is called and coded as, and the paper's ten written out.

Below builder/languages/__init__.py (lookup, registration) and data.py (CLDR), which both read them."""

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
    return Language(
        code, name, script, iso3, fineweb2=f"{iso3}_{script}", culturax=code, lid_aliases=aliases
    )


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
