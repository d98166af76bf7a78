"""The language registry: the paper's ten languages, and any other language by its code.

The ten languages of the paper are written out below (`_PAPER`) and stay the default set. Any
other code that Unicode CLDR gives a script is derived on demand from maintained data by
builder/languages/data.py (`am`, `yo`, `sr_Cyrl`, `swh_Latn`, ...). A language CLDR does not know
works once it has an entry: call `register_language(Language(...))`. What an entry needs: the
code users type (ISO 639-1, or 639-3 when there is no 639-1 code), the English name (used in
prompts: "Answer in Swahili."), the ISO 15924 script, and the corpus config names (FineWeb-2
uses `{iso639-3}_{Script}`, CulturaX ISO 639-1)."""

from __future__ import annotations

from functools import cache

from .registry import ENGLISH, LANGUAGES, PAPER_LANGUAGES, Language  # noqa: F401 (the registry's names)


class UnknownLanguageError(KeyError, ValueError):
    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return self.args[0]


def register_language(language: Language, *, replace: bool = False) -> None:
    if language.code in LANGUAGES and not replace:
        raise ValueError(
            f"language {language.code!r} is already registered; pass replace=True to override it"
        )
    LANGUAGES[language.code] = language
    _derived_language.cache_clear()  # a registered entry wins over one derived before


def get_language(code: str) -> Language:
    """The registered language for `code`, else one derived from CLDR (builder/languages/data.py):
    ISO 639-1/639-3 codes, `{code}_{Script}` and FineWeb-2 names such as `swh_Latn` all work."""
    key = code.strip()
    if key in LANGUAGES:
        return LANGUAGES[key]
    if key == ENGLISH.code:
        return ENGLISH
    for lang in LANGUAGES.values():  # accept the ISO 639-3 code too (swa, ben, ...)
        if key == lang.iso639_3:
            return lang
    return _derived_language(key)


@cache
def _derived_language(code: str) -> Language:
    # langcodes and CLDR's data: loaded for a language beyond the paper's
    from . import data as language_data

    try:
        lang, script = language_data.split_code(code)
        registered = LANGUAGES.get(lang) or (ENGLISH if lang == ENGLISH.code else None)
        if registered and script in (None, registered.script):
            return registered  # swh_Latn, ben_Beng: a paper language under another name
        chosen = language_data.check_script(code, lang, script)
        return language_data.resolve(code, lang, chosen, explicit_script=script is not None)
    except language_data.LanguageLookupError as err:
        raise UnknownLanguageError(str(err)) from None


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
