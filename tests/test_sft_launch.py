"""`accelerate launch --cpu trl_scripts/sft.py --config trl_scripts/configs/sft_cpu_smoke.yaml`,
end to end on a small export: LoRA, eval loss, language check, model card, then a resumed run
that continues the step count and merges the adapter; and the same recipe on the export of a
real build, where a language kept no row and others have fewer rows than eval_size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _trl_helpers import write_export

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "trl_scripts" / "configs" / "sft_cpu_smoke.yaml"

# two training processes: ~10 s of imports each, more on a busy machine
pytestmark = pytest.mark.slow


def launch(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # One torch thread: on a CPU shared with other jobs, two OpenMP threads spin-waiting on each
    # other made a step ~5x slower (measured: 35 s vs 6.5 s for 4 steps at load average 7).
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--cpu",
        "--num_processes",
        "1",
        "--num_cpu_threads_per_process",
        "1",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(ROOT / "trl_scripts" / script),
        *args,
    ]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise AssertionError(f"{script} failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result


def logged(output: str, key: str) -> int:
    """How many log dicts with `key` the trainer printed (its progress bar prints every log)."""
    return output.count(f"'{key}':")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("sft-launch")
    export = write_export(root / "export", {"sw": 10, "bn": 6}, {"sw": 2})
    out = root / "out"
    common = [
        "--config",
        str(RECIPE),
        "--model_name_or_path",
        str(tiny_model_dir),
        "--dataset_name",
        str(export),
        "--output_dir",
        str(out),
        "--eval_steps",
        "2",
        "--save_steps",
        "2",
        "--language_check_steps",
        "2",
        "--language_check_max_new_tokens",
        "8",
    ]
    result = launch("sft.py", *common, "--max_steps", "2")
    return {"out": out, "common": common, "result": result, "export": export}


def test_trains_evaluates_checks_language_and_saves_a_loadable_adapter(first_run):
    import torch
    from peft import AutoPeftModelForCausalLM

    out = first_run["out"]
    stdout = first_run["result"].stdout + first_run["result"].stderr
    assert logged(stdout, "loss") == 2 and logged(stdout, "eval_loss") == 1
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    checks = [h for h in history if "lang_share" in h]
    assert [h["step"] for h in checks] == [0, 2]  # before training and at step 2 (every 2 steps)
    assert {"lang_share/sw", "lang_share/bn", "lang_undecided/sw"} <= set(checks[0])

    model = AutoPeftModelForCausalLM.from_pretrained(out)  # adapter + base, as a user loads it
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    # LoRA B starts at zero: it was trained
    assert lora_b and any(torch.count_nonzero(p) for p in lora_b)

    card = (out / "README.md").read_text()
    assert "language:\n- bn\n- sw" in card and "x-instruction" in card
    assert "| `sw` | Swahili | 10 | 10 | - | 2 |" in card  # sw's test split is its held-out set
    assert "| `bn` | Bengali | 4 | 4 | - | 2 |" in card  # bn: --eval_size 2 split off its 6 rows
    assert "Share of held-out answers in the expected language" in card


def test_resume_continues_the_step_count_and_merges(first_run):
    from builder.engines import SamplingParams, create_engine
    from builder.prompts import answer_prompt

    out = first_run["out"]
    checkpoint_state = (out / "checkpoint-2" / "trainer_state.json").read_bytes()
    result = launch(
        "sft.py",
        *first_run["common"],
        "--max_steps",
        "4",
        "--resume_from_checkpoint",
        "last",
        "--merge_adapter",
    )
    stdout = result.stdout + result.stderr
    assert logged(stdout, "loss") == 2  # steps 3 and 4 only: steps 1-2 came from the checkpoint
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert [h["step"] for h in state["log_history"] if "loss" in h] == [1, 2, 3, 4]
    # not retrained
    assert (out / "checkpoint-2" / "trainer_state.json").read_bytes() == checkpoint_state

    engine = create_engine("transformers", str(out / "merged"), progress=False)
    completion = engine.generate(
        [[{"role": "user", "content": answer_prompt("What is rain?", "sw")}]],
        SamplingParams(max_new_tokens=4),
    )[0]
    assert completion.completion_tokens >= 1


def test_two_processes_share_the_language_check(tmp_path, tiny_model_dir, first_run):
    """gloo DDP on CPU (what multi-GPU runs do with NCCL): each process answers half of the
    held-out prompts, the answers are gathered, and training, eval and saving still agree.
    --standalone picks a free rendezvous port (the fixed default 29500 may be taken on a shared host)."""
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(ROOT / "trl_scripts" / "sft.py"),
        "--config",
        str(RECIPE),
        "--model_name_or_path",
        str(tiny_model_dir),
        "--dataset_name",
        str(first_run["export"]),
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--eval_steps",
        "2",
        "--save_steps",
        "2",
        "--language_check_steps",
        "2",
        "--language_check_prompts",
        "3",
        "--language_check_max_new_tokens",
        "8",
    ]
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-6000:]
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    assert [h["step"] for h in history if "lang_share" in h] == [0, 2]
    assert any("eval_loss" in h for h in history) and (out / "adapter_model.safetensors").is_file()


# A few steps instead of the recipe's 8: the point is that the run gets through the data.
SHORT = [
    "--max_steps",
    "2",
    "--eval_steps",
    "2",
    "--save_steps",
    "2",
    "--language_check_steps",
    "2",
    "--language_check_max_new_tokens",
    "8",
]


def check_demo_run(result: subprocess.CompletedProcess, out: Path, skipped: str) -> None:
    """What the run on demo_exports must show: vi skipped, eval_size 2 shrunk to 1 for sw and to
    0 for fi, eval on sw's row, the language check on sw only, a saved adapter."""
    log = result.stdout + result.stderr
    assert skipped in log
    assert "has 2 row(s): holding out 1 instead of 2 (--eval_size)" in log  # sw
    assert "has 1 row(s): holding out 0 instead of 2 (--eval_size)" in log  # fi
    assert "The language check leaves out fi: no held-out row" in log
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    assert [h["step"] for h in history if "loss" in h] == [1, 2]
    assert any("eval_loss" in h for h in history)
    checks = [h for h in history if "lang_share" in h]
    assert checks and all("lang_share/sw" in h and "lang_share/fi" not in h for h in checks)
    assert (out / "adapter_model.safetensors").is_file()
    assert "| `sw` | Swahili | 1 | 1 | - | 1 |" in (out / "README.md").read_text()


def test_the_readme_command_trains_the_embedded_model_on_a_builds_export(
    demo_exports, embedded_model_dir, tmp_path
):
    """As the README has it, from the folder holding the build's output: no --model_name_or_path
    (the recipe names the embedded smollm2-135m, resolved offline to its converted folder), and
    an export whose empty language is a 0-row config."""
    export = Path(demo_exports["0-row config"])
    assert export.name == "x-instruction-data"
    result = launch(
        "sft.py",
        "--config",
        str(RECIPE),
        "--dataset_name",
        "x-instruction-data",
        *SHORT,
        cwd=export.parent,
    )
    # the recipe's output_dir, under the working directory
    out = export.parent / "out" / "sft-cpu-smoke"
    check_demo_run(result, out, "Skipping vi: its config has no rows")
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(embedded_model_dir)


def test_tiny_model_on_a_builds_export_that_leaves_the_empty_language_out(
    demo_exports, tiny_model_dir, tmp_path
):
    out = tmp_path / "out"
    result = launch(
        "sft.py",
        "--config",
        str(RECIPE),
        "--model_name_or_path",
        str(tiny_model_dir),
        "--dataset_name",
        demo_exports["no config"],
        "--output_dir",
        str(out),
        *SHORT,
    )
    check_demo_run(result, out, "Skipping vi: built but not exported")


def test_the_generator_recipe_on_a_builds_export(demo_exports, tiny_model_dir, tmp_path):
    """train_generator.py's CPU recipe reads the same export as seed pairs: vi skipped, fi's one
    row kept for training rather than held out (eval_size 1), sw's second row held out."""
    out = tmp_path / "generator"
    result = launch(
        "train_generator.py",
        "--config",
        str(RECIPE.parent / "generator_cpu_smoke.yaml"),
        "--model_name_or_path",
        str(tiny_model_dir),
        "--dataset_name",
        demo_exports["0-row config"],
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--language_check_max_new_tokens",
        "8",
    )
    log = result.stdout + result.stderr
    assert "Skipping vi: its config has no rows" in log
    assert "seed pairs (fi) has 1 row(s): holding out 0 instead of 1 (--eval_size)" in log
    card = (out / "README.md").read_text()
    assert (
        "| `sw` | Swahili | 1 | 1 | - | 1 |" in card
        and "| `fi` | Finnish | 1 | 1 | - | 0 |" in card
    )
    assert (out / "model.safetensors").is_file()
