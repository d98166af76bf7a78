"""Worked examples for a language that has no seed pairs of its own.

The generator's task is the same in every language: read a text, write the English instruction
it answers. So a language with no embedded seeds (Yoruba, Amharic, Nepali, ...) borrows the
embedded pairs of other languages, each shown to the model under its own language's name.
Languages in the same script come first (Latin donors for `yo`, Hindi for `ne`, Urdu for `fa`):
their texts look most like the text being read. A script no embedded language uses (Ethiopic,
Cyrillic, ...) borrows from every embedded language. The choice depends only on the embedded
files, so it is the same on every run and in every worker.

Which donors a language borrows is logged once per build: by `announce_borrowing`, which the
build's start check calls in the driver (builder/corpus/seeds.py: check_seed_source). The
workers that build prompts from the same seeds (--data-parallel ranks, Ray actors) call only
`borrowed_seeds`, which is silent; before, each of them logged the warning again.
"""

from __future__ import annotations

import logging

from ..languages import get_language
from . import embedded

logger = logging.getLogger(__name__)
_warned: set[str] = set()


def donor_languages(lang: str) -> list[str]:
    """The embedded seed languages `lang` borrows from: those in its script, else all of them."""
    code = get_language(lang).code
    have = [c for c in embedded.available_languages("seeds") if c != code]
    script = get_language(code).script
    same = [c for c in have if get_language(c).script == script]
    return same or have


def borrowed_seeds(lang: str) -> list[dict]:
    """The donors' pairs, interleaved (one of each donor, then the next of each, ...) so that
    consecutive picks come from different languages. Each pair carries its own `lang`: the
    prompt names the language the example text is written in (builder/prompts.py)."""
    donors = donor_languages(lang)
    pools = [[{**pair, "lang": donor} for pair in embedded.load_seeds(donor)] for donor in donors]
    return [
        pool[i] for i in range(max(map(len, pools), default=0)) for pool in pools if i < len(pool)
    ]


def announce_borrowing(lang: str) -> None:
    """Warn, once per process, that `lang` has no seed pairs and which languages it borrows from.
    Only the driver calls this (see the module doc), so a build says it once."""
    language = get_language(lang)
    donors = donor_languages(lang)
    if not donors or language.code in _warned:
        return
    _warned.add(language.code)
    why = (
        f"same script, {language.script}"
        if get_language(donors[0]).script == language.script
        else f"no embedded seeds are written in {language.script}"
    )
    logger.warning(
        "no seed pairs for %s (%s): few-shot examples borrowed from the embedded seeds of %s (%s); "
        "pass --seeds FILE with English-instruction/%s-response pairs to use your own",
        language.name,
        language.code,
        ", ".join(donors),
        why,
        language.name,
    )


def seed_languages(seeds: list[dict]) -> list[str]:
    """The languages a seed list borrowed from ([] for a language's own pairs)."""
    return sorted({pair["lang"] for pair in seeds if pair.get("lang")})
