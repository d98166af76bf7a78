"""Language ID on real text, the short-text policy and the language registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.languages import PAPER_LANGUAGES, get_language, parse_languages
from builder.languages.lid import _script_counted, detect, is_english, matches, script_of


def test_udhr_articles_are_identified_in_every_language(shared_data):
    for code in (*PAPER_LANGUAGES, "en"):
        rows = [
            json.loads(line)
            for line in (shared_data / "udhr" / f"{code}.jsonl").open(encoding="utf-8")
        ]
        hits = sum(bool(matches(detect(r["text"]), code)) for r in rows)
        # measured 15/15 everywhere; allow one miss per language for detector updates
        assert hits >= len(rows) - 1, f"{code}: {hits}/{len(rows)}"


def test_wrong_language_is_a_confident_no(shared_data):
    english = json.loads((shared_data / "udhr" / "en.jsonl").open(encoding="utf-8").readline())[
        "text"
    ]
    assert matches(detect(english), "sw") is False
    bengali = json.loads((shared_data / "udhr" / "bn.jsonl").open(encoding="utf-8").readline())[
        "text"
    ]
    assert matches(detect(bengali), "hi") is False  # script differs


def test_short_text_is_undecided_unless_the_script_decides():
    assert detect("Habari").reliable is False
    assert matches(detect("Habari"), "sw") is None
    assert matches(detect("ভালো"), "bn") is True  # Bengali script alone settles it
    assert matches(detect("hello"), "ur") is False  # Latin text is never Urdu
    assert is_english("Describe the island of Zanzibar in a few sentences.") is True


def test_script_of_counts_letters_and_marks():
    assert script_of("नमस्ते दुनिया")[0] == "Deva"
    assert script_of("سلام دنیا")[0] == "Arab"
    assert script_of("1234 !!") == ("Zyyy", 0)


def test_ascii_text_gets_the_script_and_letter_count_of_the_general_path():
    """script_of answers ASCII text without counting characters one by one: the same answer as
    counting each character's Unicode category and script, over every ASCII code point alone
    and in the instructions a generator writes."""
    for code in range(128):
        assert script_of(chr(code)) == _script_counted(chr(code)), repr(chr(code))
    every = "".join(map(chr, range(128)))
    assert script_of(every) == _script_counted(every) == ("Latn", 52)
    for text in (
        "",
        "Explain what gotong royong means.",
        "What do communities decide on rain seasons and river trade, case 37765?",
        "1234 !! ??",
        "x",
        "\tTab\r\nand_underscore`~",
    ):
        assert script_of(text) == _script_counted(text), text
    # not ASCII: the general path itself
    assert script_of("What\u2019s gotong royong?") == ("Latn", 17)


def test_registry_lookup_and_errors():
    assert get_language("swa").code == "sw"
    assert get_language("sw").fineweb2 == "swh_Latn"
    assert [lang.code for lang in parse_languages("sw, bn,sw")] == ["sw", "bn"]
    assert len(parse_languages("all")) == 10
    with pytest.raises(ValueError, match="register_language"):
        get_language("zz")


def test_threads_asking_for_a_detector_at_once_load_its_model_once(monkeypatch):
    """A build maps several shards at once on threads; each asked for py3langid on its first
    text, and `functools.cache` let every one of them load its own copy (~0.5 s of CPU each)."""
    import threading

    from builder.languages import detectors

    loads = []
    real = detectors._load_py3langid

    def counted():
        loads.append(threading.get_ident())
        return real()

    monkeypatch.setattr(detectors, "_load_py3langid", counted)
    monkeypatch.setattr(detectors, "_loaded", {})
    start = threading.Barrier(8)
    found = []

    def ask():
        start.wait()
        found.append(detectors.get_detector("py3langid"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len({id(d) for d in found}) == 1
    assert (
        found[0].classify("Kila mtu ana haki ya kuishi, uhuru na usalama wa maisha yake.")[0]
        == "sw"
    )


def test_py3langid_with_its_table_in_float32_scores_bit_for_bit_as_shipped(shared_data):
    """The detector casts py3langid's float16 feature table to float32 once at load (each call
    cast its rows again). Same language and the same float probability on every text: the UDHR
    articles in eleven languages and the embedded corpus's texts, their sentences and
    60-character starts, and English questions (what generated instructions look like)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from builder.languages.detectors import Py3langidDetector

    shipped = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ours = Py3langidDetector()._identifier
    assert str(shipped.nb_ptc.dtype) == "float16" and str(ours.nb_ptc.dtype) == "float32"
    corpus = Path(__file__).parents[1] / "builder" / "data" / "corpus"
    texts = []
    for path in [*sorted((shared_data / "udhr").glob("*.jsonl")), *sorted(corpus.glob("*.jsonl"))]:
        for line in path.open(encoding="utf-8"):
            article = json.loads(line)["text"]
            texts += [article, article[:60], *article.split(". ")]
    for bench in ("vicuna_bench", "mt_bench"):
        for line in (shared_data / bench / "question.jsonl").open(encoding="utf-8"):
            texts += json.loads(line)["turns"]
    assert len(texts) > 2000
    for text in texts:
        assert ours.classify(text) == shipped.classify(text), text


TEXTS = (
    "What do communities decide on national holidays and old temples?",
    "Kila mtu ana haki ya kuishi, uhuru na usalama wa maisha yake.",
    "สวัสดีครับ ยินดีต้อนรับ",
    "Herkesin yaşamaya, özgürlüğe ve kişi güvenliğine hakkı vardır.",
)


def test_py3langid_is_decoded_once_into_the_model_cache_then_read_from_it(tmp_path, monkeypatch):
    """The first process unpacks the shipped (LZMA) model into the model cache; later ones map
    its table from there, and score exactly as the shipped identifier does."""
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from builder.languages import detectors

    monkeypatch.setenv("X_INSTRUCTION_CACHE", str(tmp_path))
    shipped = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    first = detectors._load_py3langid()
    (folder,) = (tmp_path / "models").iterdir()  # one folder, no temporary left behind
    assert folder.name.startswith("py3langid-") and {p.name for p in folder.iterdir()} == {
        "ptc.npy",
        "dfa.npz",
    }
    written = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    second = detectors._load_py3langid()
    assert {
        p.name: p.stat().st_mtime_ns for p in folder.iterdir()
    } == written  # read, not rewritten
    assert isinstance(second.nb_ptc, np.memmap) and second.nb_ptc.dtype == np.float32
    for text in TEXTS:
        assert first.classify(text) == second.classify(text) == shipped.classify(text), text


def test_an_unusable_model_cache_falls_back_to_the_shipped_model(tmp_path, monkeypatch, caplog):
    """A cache that cannot be written (here: a file where the folder should be) or a damaged
    copy is warned about, and the shipped model is read instead: language ID still works."""
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from builder.languages import detectors

    shipped = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("X_INSTRUCTION_CACHE", str(blocked))
    unwritable = detectors._load_py3langid()
    monkeypatch.setenv("X_INSTRUCTION_CACHE", str(tmp_path / "cache"))
    detectors._load_py3langid()
    (folder,) = (tmp_path / "cache" / "models").iterdir()
    (folder / "ptc.npy").write_bytes(b"damaged")
    damaged = detectors._load_py3langid()
    assert len([r for r in caplog.records if "decoded model" in r.getMessage()]) == 2
    for identifier in (unwritable, damaged):
        assert not isinstance(identifier.nb_ptc, np.memmap)
        assert identifier.nb_ptc.dtype == np.float32
        for text in TEXTS:
            assert identifier.classify(text) == shipped.classify(text), text
