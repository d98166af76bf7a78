"""`x-instruction languages`: the registered languages, or with `--all` every language `--langs`
accepts and who can identify it."""

from __future__ import annotations

import argparse
import logging

from ..languages import LANGUAGES, Language, UnknownLanguageError, get_language
from ..languages.data import scripts_in_use, supported_codes
from ..languages.detectors import DETECTORS, get_detector


def add_languages_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all",
        action="store_true",
        help="every language --langs accepts (from Unicode CLDR), with the language-ID detectors that know it",
    )


def run_languages(args: argparse.Namespace) -> int:
    if args.all:
        return print_all_languages()
    for lang in LANGUAGES.values():
        print(
            f"{lang.code:4} {lang.name:12} {lang.script:5} fineweb-2: "
            f"{lang.fineweb2 or '-':10} culturax: {lang.culturax or '-'}"
        )
    return 0


def all_languages() -> list[Language]:
    """One entry per accepted code; a language written in several scripts once per script."""
    out = []
    for code in supported_codes():
        scripts = scripts_in_use(code)
        names = [f"{code}_{script}" for script in scripts] if len(scripts) > 1 else [code]
        try:
            out += [get_language(name) for name in names]
        except UnknownLanguageError:
            continue  # CLDR gives it a script but langcodes cannot name it: not offered
    return list({lang.code: lang for lang in out}.values())


def detectors_for(language: Language) -> list[str]:
    installed = [d for d in map(get_detector, DETECTORS) if d is not None]
    return [d.name for d in installed if any(c in d.languages for c in language.lid_codes)]


def print_all_languages() -> int:
    # Resolving each macrolanguage logs how FineWeb-2 files it; in this table the fineweb-2
    # column already says so, and a warning per row would bury it.
    log = logging.getLogger("builder.languages.data")
    level, log.level = log.level, logging.ERROR
    try:
        langs = all_languages()
    finally:
        log.setLevel(level)
    print(
        f"{'code':9} {'name':34} {'script':6} {'iso639-3':8} {'fineweb-2':10} {'culturax':8} language ID"
    )
    for lang in langs:
        found = ", ".join(detectors_for(lang)) or "none (script check only)"
        print(
            f"{lang.code:9} {lang.name[:34]:34} {lang.script:6} {lang.iso639_3:8} {lang.fineweb2 or '-':10} "
            f"{lang.culturax or '-':8} {found}"
        )
    covered = sum(bool(detectors_for(lang)) for lang in langs)
    print(
        f"\n{len(langs)} languages; {covered} known to an installed language-ID detector. "
        "FineWeb-2/CulturaX configs follow each corpus's naming; whether one exists is checked when it is read."
    )
    return 0
