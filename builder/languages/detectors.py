"""The offline language-ID detectors the builder can use, behind one small interface.

Each detector answers `(code, probability)` with codes normalised to ISO 639-1 where the
detector uses an older or regional form (langdetect's `zh-cn`, CLD2's `iw`), and lists the codes
it can answer at all (`languages`), which decides which detector covers which language.
benchmarks/bench_lid.py measures them on the same texts; builder/languages/lid.py picks per language.
"""

from __future__ import annotations

import threading
from functools import cache, cached_property


@cache
def _norm(code: str) -> str:
    """Deprecated and regional forms to the registry's code (iw -> he, zh-cn -> zh), via CLDR."""
    import langcodes

    try:
        return langcodes.Language.get(code).language or code
    except ValueError:
        return code


class Detector:
    name = ""

    @cached_property
    def languages(self) -> frozenset[str]:
        raise NotImplementedError

    def classify(self, text: str) -> tuple[str, float]:
        """(code, probability), or ("und", 0.0) when the detector finds nothing."""
        raise NotImplementedError


class LangdetectDetector(Detector):
    """Google's language-detection port: 55 languages; samples n-grams at random, so seeded."""

    name = "langdetect"
    _lock = threading.Lock()

    @cached_property
    def _factory(self):
        from langdetect import DetectorFactory, detector_factory

        with self._lock:  # the factory is global: load its profiles once, seeded
            DetectorFactory.seed = 0
            detector_factory.init_factory()
        return detector_factory._factory

    @cached_property
    def languages(self) -> frozenset[str]:
        return frozenset(_norm(c) for c in self._factory.get_lang_list())

    def classify(self, text: str) -> tuple[str, float]:
        from langdetect.lang_detect_exception import LangDetectException

        try:
            best = self._factory.create()
            best.append(text)
            top = best.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return "und", 0.0
        return _norm(top.lang), float(top.prob)


class Py3langidDetector(Detector):
    """langid.py's naive Bayes model (97 languages) in numpy, probabilities normalised."""

    name = "py3langid"

    @cached_property
    def _identifier(self):
        from py3langid.langid import MODEL_FILE

        return _float32_identifier().from_model_file(MODEL_FILE, norm_probs=True)

    @cached_property
    def languages(self) -> frozenset[str]:
        return frozenset(_norm(c) for c in self._identifier.nb_classes)

    def classify(self, text: str) -> tuple[str, float]:
        lang, prob = self._identifier.classify(text)
        return _norm(lang), float(prob)


@cache
def _float32_identifier():
    """py3langid's `LanguageIdentifier` holding its feature table in float32, not float16.

    The table ships as float16; each text's score multiplies its rows by float32 counts, which
    numpy does by first casting those rows to float32, and that cast was a third of a call
    (~7 of ~26 us for a generated instruction, 4 a request). Cast once at load instead (~15 ms,
    and 28 MiB more memory: 57 MiB for the table, not 28): the same float32 values go into the
    same float32 product, so every score is bit for bit the same (tests/test_lid.py compares
    the two on every UDHR sentence and a set of English instructions)."""
    import numpy as np
    from py3langid.langid import LanguageIdentifier

    class Float32Identifier(LanguageIdentifier):
        __slots__ = ()

        def __init__(self, nb_ptc, *args, **kwargs):
            super().__init__(np.asarray(nb_ptc, dtype=np.float32), *args, **kwargs)

    return Float32Identifier


class Cld2Detector(Detector):
    """Chromium's CLD2 (C++): ~80 languages by default; the score is the share of the text."""

    name = "pycld2"

    @cached_property
    def languages(self) -> frozenset[str]:
        import pycld2

        names = set(pycld2.DETECTED_LANGUAGES)
        return frozenset(_norm(code) for name, code in pycld2.LANGUAGES if name in names)

    def classify(self, text: str) -> tuple[str, float]:
        import pycld2

        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:  # invalid UTF-8 (lone surrogates): nothing to detect
            return "und", 0.0
        _, code, percent, _ = details[0]
        return ("und", 0.0) if code == "un" else (_norm(code), percent / 100.0)


DETECTORS = {d.name: d for d in (LangdetectDetector, Py3langidDetector, Cld2Detector)}


_loaded: dict[str, Detector | None] = {}
_loading = threading.Lock()


def get_detector(name: str) -> Detector | None:
    """The detector `name`, or None when its package is not installed. Loaded once per process
    under a lock: a build's stage maps several shards at once on threads, and each of them
    asking first would otherwise load its own copy (py3langid's model costs ~0.5 s of CPU)."""
    if name in _loaded:
        return _loaded[name]
    with _loading:
        if name not in _loaded:
            detector = DETECTORS[name]()
            try:
                detector.languages  # noqa: B018  (imports the package and loads the model)
            except ImportError:
                detector = None
            _loaded[name] = detector
    return _loaded[name]
