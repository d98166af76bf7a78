"""The paper's whole loop as a user runs it, on the embedded default: build -> SFT -> eval (slow).

Each step is the README's command in a subprocess, reading the real output of the step before:
`x-instruction build` writes an export, `trl_scripts/sft.py` trains a LoRA adapter on it and
merges it, and `x-instruction eval` judges the merged model against the untuned base model on
the embedded questions, which no build or training step has seen. Sizes are CI-sized: a few
texts, a few steps, a few questions; the point is that the steps fit together, not the scores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QUESTIONS = 3


def _run(args: list[str], cwd: Path) -> tuple[str, float]:
    # One torch thread per process: two OpenMP threads on two shared cores wait on each other.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, (
        f"{' '.join(args[:3])} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout, elapsed


def test_build_then_sft_then_eval_on_the_embedded_default(tmp_path, embedded_model_dir):
    data, work, tuned, report = (
        tmp_path / "data",
        tmp_path / "work",
        tmp_path / "sft",
        tmp_path / "eval",
    )
    # Two languages, two texts each; accept-score 1 so the 135M rater's verdicts cannot leave
    # the export empty (the README's demo uses the defaults; this keeps CI's time down).
    _, t_build = _run(
        [
            str(BIN / "x-instruction"),
            "build",
            "--langs",
            "sw,id",
            "--max-docs",
            "2",
            "--candidates",
            "2",
            "--rounds",
            "1",
            "--accept-score",
            "1",
            "--max-instruction-tokens",
            "32",
            "--work-dir",
            str(work),
            "--output-dir",
            str(data),
        ],
        ROOT,
    )
    info = json.loads((data / "build_info.json").read_text())
    kept = {lang: f["rows_out"] for lang, f in info["funnel"].items()}
    assert sum(kept.values()) >= 1, info["funnel"]

    _, t_sft = _run(
        [
            str(BIN / "accelerate"),
            "launch",
            "--cpu",
            "--num_processes",
            "1",
            "--num_cpu_threads_per_process",
            "1",
            "trl_scripts/sft.py",
            "--config",
            "trl_scripts/configs/sft_cpu_smoke.yaml",
            "--dataset_name",
            str(data),
            "--output_dir",
            str(tuned),
            "--max_steps",
            "2",
            "--eval_steps",
            "2",
            "--save_steps",
            "2",
            "--language_check_steps",
            "2",
            "--merge_adapter",
        ],
        ROOT,
    )
    merged = tuned / "merged"
    assert (merged / "config.json").is_file() and list(merged.glob("*.safetensors"))
    card = (tuned / "README.md").read_text()
    assert all(
        f"`{lang}`" in card or f" {lang} " in card for lang, rows in kept.items() if rows > 0
    ), card[:2000]

    lang = next(lang for lang, rows in kept.items() if rows > 0)
    out, t_eval = _run(
        [
            str(BIN / "x-instruction"),
            "eval",
            "--langs",
            lang,
            "--settings",
            "en",
            "--model",
            str(merged),
            "--reference-model",
            "smollm2-135m",
            "--judge-model",
            "smollm2-135m",
            "--limit",
            str(QUESTIONS),
            "--answer-max-tokens",
            "48",
            "--bootstrap",
            "100",
            "--output-dir",
            str(report),
        ],
        ROOT,
    )
    result = json.loads((report / "report.json").read_text())
    records = [json.loads(line) for line in (report / "records.jsonl").read_text().splitlines()]
    assert len(records) == QUESTIONS and {r["lang"] for r in records} == {lang}
    assert all(r["answer_a"].strip() and r["answer_b"].strip() for r in records)
    summary = result["results"][lang]["en"]
    assert summary["valid_pairs"] + summary["invalid_judgements"] >= 1
    assert str(merged) in json.dumps(result) and "report:" in out
    print(
        f"\njourney wall time: build {t_build:.0f} s, sft {t_sft:.0f} s, eval {t_eval:.0f} s, "
        f"total {t_build + t_sft + t_eval:.0f} s; kept {kept}"
    )
    # The export loads as the README says, with the rows the build kept.
    assert len(datasets.load_dataset(str(data), lang, split="train")) == kept[lang]
