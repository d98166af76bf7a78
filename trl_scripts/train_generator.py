# /// script
# dependencies = [
#     "x-instruction[train]",
# ]
# ///

"""
Train the backward model of X-Instruction: target-language text in, the English instruction it
answers out. The paper trains it on seed pairs; the builder then uses it instead of few-shot
prompting:

    x-instruction build --langs sw --generator <output_dir> ...

It is trained on exactly the prompt the generate stage sends (`builder.prompts.generator_messages`:
one user turn), through the model's chat template, with the loss on the instruction only.

# Bactrian-X: English instructions from the `en` config, Swahili/Bengali responses, joined on `id`
```bash
accelerate launch trl_scripts/train_generator.py \
    --model_name_or_path Qwen/Qwen2.5-7B-Instruct \
    --dataset_name MBZUAI/Bactrian-X \
    --instruction_config en \
    --join_column id \
    --languages sw,bn \
    --eval_size 200 \
    --eval_strategy steps \
    --eval_steps 200 \
    --language_check_steps 200 \
    --use_peft \
    --lora_target_modules all-linear \
    --merge_adapter \
    --learning_rate 2.0e-4 \
    --num_train_epochs 1 \
    --output_dir generator-sw-bn
# then: x-instruction build --generator generator-sw-bn/merged ...
```

# Local seed files, one per language (columns: instruction, output), on the embedded SmolLM2
```bash
accelerate launch --cpu trl_scripts/train_generator.py --config trl_scripts/configs/generator_cpu_smoke.yaml \
    --seed_file 'seeds/{lang}.jsonl' --languages sw
```
"""

import os
import sys

# Run as a file (accelerate launch trl_scripts/...), the repository root is not on sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(script_args, training_args, model_args, gen_args):
    from builder.training.generator_data import generator_probes, load_generator_data
    from builder.training.modeling import base_model_path
    from builder.training.run import build_trainer, train_and_save

    base_model_path(model_args)  # a misspelt model name fails before the data loads
    data = load_generator_data(
        script_args.dataset_name,
        gen_args,
        train_split=script_args.dataset_train_split,
        seed=training_args.seed,
    )
    probes = generator_probes(data, gen_args) if gen_args.language_check_steps > 0 else None

    trainer = build_trainer(
        model_args,
        training_args,
        data.train,
        data.eval,
        prompt_format="chat",
        training_data=data.card,
        probes=probes,
        check_args=gen_args,
        eval_size=gen_args.eval_size,
    )
    train_and_save(
        trainer,
        model_args,
        training_args,
        merge=gen_args.merge_adapter,
        dataset_name=script_args.dataset_name,
    )
    return trainer


def make_parser():
    from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser

    from builder.training.args import GeneratorArguments

    return TrlParser((ScriptArguments, SFTConfig, ModelConfig, GeneratorArguments))


if __name__ == "__main__":
    from builder.training.entry import run_script

    sys.exit(run_script(os.path.basename(__file__), main, make_parser))
