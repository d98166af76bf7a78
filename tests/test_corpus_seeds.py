"""read_seeds: embedded seeds, local files, any Hub dataset and the Bactrian-X two-config join."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _corpus_helpers import SWAHILI, write_hub_folder

from builder.corpus import CorpusError, MissingColumnError, embedded, read_seeds, seeds

PAIRS = [
    {"instruction": "Why did parts of Dar es Salaam flood last night?", "output": SWAHILI[0]},
    {"instruction": "What worries coffee farmers in Kilimanjaro?", "output": SWAHILI[1]},
]


def test_embedded_seeds(tmp_path, monkeypatch):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "sw.jsonl").write_text(
        "".join(json.dumps({"id": f"s{i}", **p}) + "\n" for i, p in enumerate(PAIRS)),
        encoding="utf-8",
    )
    monkeypatch.setattr(embedded, "data_root", lambda: tmp_path)
    assert read_seeds(None, "sw") == PAIRS
    assert read_seeds("embedded", "sw") == PAIRS
    # Tamil has no seeds here: it borrows the only embedded ones, each marked with its language
    assert read_seeds(None, "ta") == [{**p, "lang": "sw"} for p in PAIRS]
    (tmp_path / "seeds" / "sw.jsonl").unlink()
    with pytest.raises(
        CorpusError, match="no embedded demo seeds for language 'ta' \\(embedded: none\\)"
    ):
        read_seeds(None, "ta")  # nothing to borrow from


def test_seed_files_jsonl_and_parquet_skip_empty_pairs(tmp_path):
    rows = PAIRS + [{"instruction": "Empty answer?", "output": "  "}]
    jsonl = tmp_path / "seeds.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    parquet = tmp_path / "seeds.parquet"
    pq.write_table(pa.Table.from_pylist([{**r, "id": str(i)} for i, r in enumerate(rows)]), parquet)
    assert read_seeds(str(jsonl), "sw") == PAIRS
    assert read_seeds(str(parquet), "sw") == PAIRS
    assert read_seeds(str(parquet), "sw", limit=1) == PAIRS[:1]


def test_seed_file_without_output_column(tmp_path):
    path = tmp_path / "seeds.parquet"
    pq.write_table(pa.table({"instruction": ["a"], "response": ["b"]}), path)
    with pytest.raises(
        MissingColumnError, match="no column 'output'; available columns: instruction, response"
    ):
        read_seeds(str(path), "sw")


def test_seed_source_that_gives_nothing(tmp_path):
    path = tmp_path / "seeds.jsonl"
    path.write_text(json.dumps({"instruction": "", "output": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="gave no pair"):
        read_seeds(str(path), "sw")


def test_hub_seed_dataset(tmp_path):
    repo = write_hub_folder(
        tmp_path / "repo", {"default": {"train": [{**p, "source": "x"} for p in PAIRS]}}
    )
    assert read_seeds(f"hub:{repo}:default", "sw") == PAIRS


def _bactrian_like(root):
    # Same ids in both configs, in another order in `en`, plus ids that exist in one config only.
    en = [
        {
            "id": "3",
            "instruction": "Summarise the news below.",
            "input": "Heavy rain fell in the city.",
            "output": "It rained.",
        },
        {
            "id": "1",
            "instruction": "Why did parts of Dar es Salaam flood last night?",
            "input": "",
            "output": "...",
        },
        {
            "id": "2",
            "instruction": "What worries coffee farmers in Kilimanjaro?",
            "input": "",
            "output": "...",
        },
        {"id": "9", "instruction": "English only", "input": "", "output": "..."},
    ]
    sw = [
        {
            "id": "1",
            "instruction": "Kwa nini sehemu za Dar es Salaam zilifurika?",
            "input": "",
            "output": SWAHILI[0],
        },
        {
            "id": "2",
            "instruction": "Nini kinawasumbua wakulima?",
            "input": "",
            "output": SWAHILI[1],
        },
        {
            "id": "3",
            "instruction": "Fupisha habari hii.",
            "input": "Mvua kubwa ilinyesha.",
            "output": SWAHILI[2],
        },
        {"id": "4", "instruction": "Swali lisilo na jibu", "input": "", "output": ""},
    ]
    return write_hub_folder(root, {"en": {"train": en}, "sw": {"train": sw}})


def test_bactrian_x_joins_english_instruction_with_target_output(tmp_path, monkeypatch):
    repo = _bactrian_like(tmp_path / "Bactrian-X")
    monkeypatch.setitem(seeds.SEED_DATASETS, "bactrian-x", str(repo))
    pairs = read_seeds("bactrian-x", "sw")
    assert pairs == PAIRS + [
        {
            "instruction": "Summarise the news below.\n\nHeavy rain fell in the city.",
            "output": SWAHILI[2],
        }
    ]
    assert read_seeds("bactrian-x", "sw", limit=1) == PAIRS[:1]
