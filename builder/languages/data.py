"""Languages beyond the paper's ten, derived from maintained data instead of a hand-written table.

`langcodes` (with its `language-data` package) carries the IANA subtag registry and Unicode CLDR:
code normalisation (`swa` -> `sw`), English names, ISO 639-3 codes, each language's likely script,
the scripts and territories CLDR records per language, and which individual language stands for
a macrolanguage (`ar` -> `arb`). From these we build a `Language` for any code CLDR gives a
script, the same way the paper's ten are written: FineWeb-2 `{iso639-3}_{Script}` (individual
language, as FineWeb-2 files macrolanguages) and CulturaX by ISO 639-1 code. Whether a corpus
actually has that config is only known online; the corpus readers report a missing one.
"""

from __future__ import annotations

import difflib
import logging
import xml.etree.ElementTree as ET
from functools import cache, lru_cache

import langcodes
from langcodes.data_dicts import LIKELY_SUBTAGS, NORMALIZED_MACROLANGUAGES

from .registry import LANGUAGES, Language

logger = logging.getLogger(__name__)


class LanguageLookupError(KeyError, ValueError):
    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return self.args[0]


@cache
def _likely_script(tag: str) -> str | None:
    full = LIKELY_SUBTAGS.get(tag)
    return full.split("-")[1] if full else None


@lru_cache(maxsize=1)
def _cldr_language_data() -> dict[str, tuple[set, set, set]]:
    """language -> (primary scripts, primary territories, secondary territories), CLDR languageData."""
    from language_data.util import data_filename

    table: dict[str, tuple[set, set, set]] = {}
    for el in ET.parse(data_filename("supplementalData.xml")).getroot().iter("language"):
        scripts, primary, secondary = table.setdefault(el.get("type"), (set(), set(), set()))
        territories = (el.get("territories") or "").split()
        if el.get("alt") == "secondary":
            secondary.update(territories)
        else:
            scripts.update((el.get("scripts") or "").split())
            primary.update(territories)
    return table


def scripts_in_use(lang: str) -> list[str]:
    """The scripts `lang` is written in where it is spoken, default first. Several only when CLDR
    gives the language several scripts *and* its territories really differ (Serbian: Cyrillic in
    Serbia, Latin in Montenegro), not for a minority script (Malay in Arabic on the Cocos Islands)."""
    default = _likely_script(lang)
    if default is None:
        return []
    scripts, primary, secondary = _cldr_language_data().get(lang, (set(), set(), set()))
    found = [default]
    if len(scripts) > 1:
        for territory in sorted(primary or secondary):
            script = _likely_script(f"{lang}-{territory}")
            if script and script not in found:
                found.append(script)
    return found


@lru_cache(maxsize=1)
def _individual_for_macro() -> dict[str, str]:
    """macrolanguage -> the individual language CLDR takes as its normal form (ar -> arb, sw -> swh),
    which is how FineWeb-2 labels them; macrolanguages with two candidates are left out."""
    counts: dict[str, list[str]] = {}
    for individual, macro in NORMALIZED_MACROLANGUAGES.items():
        counts.setdefault(macro, []).append(individual)
    return {macro: ind[0] for macro, ind in counts.items() if len(ind) == 1 and len(ind[0]) == 3}


def supported_codes() -> list[str]:
    """Every bare language code CLDR gives a likely script: what `--langs` accepts without a script."""
    return sorted(k for k in LIKELY_SUBTAGS if "-" not in k and k != "und" and len(k) in (2, 3))


def _parse(code: str) -> langcodes.Language:
    try:
        tag = langcodes.Language.get(code.strip().replace("_", "-"))
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        raise LanguageLookupError(unknown_message(code)) from None
    if not tag.language or not tag.is_valid() or tag.territory or tag.variants or tag.extensions:
        raise LanguageLookupError(unknown_message(code))
    return tag


def split_code(code: str) -> tuple[str, str | None]:
    """`swh_Latn` -> ("sw", "Latn"); `swa` -> ("sw", None). Raises with suggestions when unknown."""
    tag = _parse(code)
    # FineWeb-2's individual-language names lead back to the code users know (swh_Latn -> sw)
    lang = NORMALIZED_MACROLANGUAGES.get(tag.language, tag.language)
    if _likely_script(lang) is None:
        raise LanguageLookupError(unknown_message(code))
    return lang, tag.script


def check_script(code: str, lang: str, script: str | None) -> str:
    """The script to use for `lang`; asks for one when the language is written in several."""
    in_use = scripts_in_use(lang)
    if script is None:
        if len(in_use) > 1:
            options = ", ".join(f"{lang}_{s}" for s in in_use)
            raise LanguageLookupError(
                f"language {code!r} ({english_name(lang)}) is written in several scripts; "
                f"pass one: {options}"
            )
        return in_use[0]
    known = set(in_use) | _cldr_language_data().get(lang, (set(),))[0]
    if script not in known:
        raise LanguageLookupError(
            f"language {code!r}: {english_name(lang)} is not written in {script}; "
            f"CLDR knows {', '.join(f'{lang}_{s}' for s in sorted(known))}"
        )
    return script


def english_name(lang: str, script: str | None = None) -> str:
    name = langcodes.Language.get(lang).display_name("en")
    if script:
        name = f"{name} ({langcodes.Language.get(f'und-{script}').script_name('en')})"
    return name


def resolve(code: str, lang: str, script: str, *, explicit_script: bool):
    """A `Language` for `lang` in `script`; says once in the log how a macrolanguage was resolved."""
    tag = langcodes.Language.get(lang)
    iso3 = tag.to_alpha3()
    individual = _individual_for_macro().get(lang)
    fineweb_lang = individual or (lang if len(lang) == 3 else iso3)
    named_script = (explicit_script and len(scripts_in_use(lang)) > 1) or script != _likely_script(
        lang
    )
    language = Language(
        code=f"{lang}_{script}" if named_script else lang,
        name=english_name(lang, script if named_script else None),
        script=script,
        iso639_3=iso3,
        fineweb2=f"{fineweb_lang}_{script}",
        culturax=lang if len(lang) == 2 else None,
        lid_aliases=(lang,) if named_script else (),
    )
    if individual:  # a warning so that it shows by default: it decides which corpus config is read
        logger.warning(
            "%s: %s is a macrolanguage (%s); FineWeb-2 files it as the individual language %s (%s): "
            "config %s",
            code,
            language.name,
            iso3,
            individual,
            english_name(individual),
            language.fineweb2,
        )
    return language


@lru_cache(maxsize=1)
def _name_index() -> dict[str, str]:
    """lower-cased English name and code -> code, for suggestions."""
    index = {}
    for code in supported_codes():
        index.setdefault(code, code)
        index.setdefault(english_name(code).lower(), code)
    return index


def closest(code: str, n: int = 3) -> list[str]:
    """Codes a user probably meant: a language named `code` (`swahili`), then near spellings."""
    key = code.strip().lower()
    found = []
    try:
        found.append(langcodes.find(key).language)
    except LookupError:
        pass
    index = _name_index()
    found += [index[m] for m in difflib.get_close_matches(key, list(index), n=n, cutoff=0.75)]
    return list(dict.fromkeys(f for f in found if f and _likely_script(f)))[:n]


def unknown_message(code: str) -> str:
    near = closest(code)
    hint = f"closest: {', '.join(f'{c} ({english_name(c)})' for c in near)}. " if near else ""
    return (
        f"unknown language code {code!r}; {hint}Known: {', '.join(sorted(LANGUAGES))} and every code "
        "`x-instruction languages --all` lists. For a language CLDR does not know, call "
        "builder.languages.register_language(Language(code, name, script, iso639_3, fineweb2=..., culturax=...))"
    )
