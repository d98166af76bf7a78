"""Every recipe in trl_scripts/configs parses with its script's parser (no unknown or misspelt key),
and every accelerate config loads with accelerate's own reader."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parents[1] / "trl_scripts" / "configs"
SCRIPTS = {"sft": "sft", "generator": "train_generator"}


def parser_for(recipe: Path):
    script = SCRIPTS[recipe.stem.split("_")[0]]
    spec = importlib.util.spec_from_file_location(script, CONFIGS.parents[0] / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_parser()


@pytest.mark.parametrize("recipe", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_recipe_parses(recipe):
    # bf16 recipes are for GPUs; use_cpu keeps TrainingArguments from probing for one here.
    overrides = [] if "cpu" in recipe.stem else ["--use_cpu", "--bf16", "false"]
    script_args, training_args, model_args, data_args = parser_for(recipe).parse_args_and_config(
        args=["--config", str(recipe), *overrides]
    )
    assert training_args.output_dir.startswith("out/")
    assert data_args.languages
    if "cpu" not in recipe.stem:
        assert model_args.model_name_or_path and script_args.dataset_name
        assert data_args.language_check_steps > 0 and training_args.eval_strategy == "steps"


@pytest.mark.parametrize(
    "config", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.name
)
def test_accelerate_config_loads(config):
    from accelerate.commands.config.config_args import load_config_from_file

    loaded = load_config_from_file(str(config))
    assert loaded.num_processes == 8 and loaded.mixed_precision == "bf16"
