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
        return _load_py3langid()

    @cached_property
    def languages(self) -> frozenset[str]:
        return frozenset(_norm(c) for c in self._identifier.nb_classes)

    def classify(self, text: str) -> tuple[str, float]:
        lang, prob = self._identifier.classify(text)
        return _norm(lang), float(prob)


# Bump when the files written by `_write_decoded` change shape.
_DECODED_FORMAT = 1


def _load_py3langid():
    """py3langid's model as a `LanguageIdentifier`, its feature table in float32 and read from
    a decoded copy in the model cache (`cache_dir()/models/py3langid-<version>-<size>/`).

    * float32: the table ships as float16, and each text's score multiplies its rows by float32
      counts, which numpy does by casting those rows to float32 first: that cast was a third of
      a call (~7 of ~26 us for a generated instruction, 4 of them a request). The same float32
      values go into the same float32 product, so every score is bit for bit the same
      (tests/test_lid.py compares the two on every UDHR sentence and a set of questions).
    * the decoded copy: unpacking the shipped file (LZMA) cost ~0.35 s of CPU in every process
      that identifies a language (the driver, each prepare worker); the copy (~95 MB: the table,
      memory-mapped, and the tokenizer's state machine) loads in ~0.07 s, and the mapped table
      takes memory only for the rows texts use, shared between processes. It is written once, on
      first use; where it cannot be written or read, the shipped file is read as before."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    ptc, pc, classes, nextmove, row, output = _model_arrays(MODEL_DIR / MODEL_FILE)
    return LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=True, tk_row=row)


def _model_arrays(shipped):
    """The model's arrays from the decoded copy, writing it first if it is not there yet. Where
    the copy can be neither written nor read (a read-only home, a full disk, a damaged file),
    the shipped file's arrays, decoded once in either case."""
    import logging
    from importlib.metadata import version

    from ..core.cache_root import cache_dir

    folder = (
        cache_dir()
        / "models"
        / f"py3langid-{version('py3langid')}-{shipped.stat().st_size}-v{_DECODED_FORMAT}"
    )
    decoded = None
    try:
        if not (folder / "dfa.npz").is_file():
            decoded = _decode(shipped)
            _write_decoded(decoded, folder)
        return _read_decoded(folder)
    except (OSError, ValueError, KeyError) as err:
        logging.getLogger(__name__).warning(
            "py3langid's decoded model in %s is unusable (%s); reading the shipped file instead",
            folder,
            err,
        )
    return decoded if decoded is not None else _decode(shipped)


def _decode(shipped):
    """py3langid's `load_model` of the shipped (LZMA) file, its table cast to float32."""
    import numpy as np
    from py3langid.modelio import load_model

    ptc, pc, classes, nextmove, row, output = load_model(shipped)
    return np.asarray(ptc, dtype=np.float32), pc, classes, nextmove, row, output


def _write_decoded(decoded, folder) -> None:
    """`decoded` into `folder`, whole or not at all (see `write_folder`)."""
    import numpy as np

    from ..core.cache_root import write_folder

    ptc, pc, classes, nextmove, row, output = decoded

    def fill(tmp) -> None:
        np.save(tmp / "ptc.npy", ptc)
        # the file `_model_arrays` looks for: the rename makes the folder appear whole
        np.savez(
            tmp / "dfa.npz",
            pc=pc,
            classes=np.array(classes),
            nextmove=np.frombuffer(nextmove, dtype=np.dtype(nextmove.typecode)),
            row=np.frombuffer(row, dtype=np.dtype(row.typecode)),
            output=np.asarray(output, dtype=np.int32),
        )

    write_folder(folder, "dfa.npz", fill, ".decode-")


def _read_decoded(folder):
    """(ptc, pc, classes, nextmove, row, output) as py3langid's `load_model` returns them, the
    table memory-mapped read-only: pages are read as texts need them and shared between
    processes."""
    from array import array

    import numpy as np

    ptc = np.load(folder / "ptc.npy", mmap_mode="r")
    with np.load(folder / "dfa.npz", allow_pickle=False) as data:
        pc, classes, output = data["pc"], data["classes"].tolist(), data["output"].tolist()
        nextmove, row = (
            array(data[name].dtype.char, data[name].tobytes()) for name in ("nextmove", "row")
        )
    if ptc.dtype != np.float32 or ptc.ndim != 2 or ptc.shape[1] != len(classes):
        raise ValueError(f"ptc.npy holds {ptc.dtype} {ptc.shape} for {len(classes)} languages")
    return ptc, pc, classes, nextmove, row, output


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
