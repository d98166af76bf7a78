# /// script
# dependencies = [
#     "x-instruction[train]",
# ]
# ///

"""
Fine-tune a causal LM on X-Instruction: English instructions answered in a target language.

Each pair is asked as the paper does (the English instruction, then "Answer in Swahili.") and the
loss covers the answer only. Run from the repository root; every flag is also a YAML key of
`--config` (see trl_scripts/configs/ and trl_scripts/README.md).

# CPU smoke run on the output of `x-instruction build` (the embedded SmolLM2, LoRA, a few steps, offline)
```bash
accelerate launch --cpu trl_scripts/sft.py --config trl_scripts/configs/sft_cpu_smoke.yaml \
    --dataset_name x-instruction-data
```

`--model_name_or_path` takes what `x-instruction build --model` takes: smollm2-135m (embedded), a
Hub id or a local folder. Bad input ends with one line `sft.py: error: ...` and exit code 2
(`-v` shows the traceback).

# LoRA on one GPU, Swahili and Bengali mixed 2:1, language check every 100 steps
```bash
accelerate launch trl_scripts/sft.py \
    --model_name_or_path Qwen/Qwen2.5-7B-Instruct \
    --dataset_name org/x-instruction \
    --languages sw,bn \
    --language_weights sw=2,bn=1 \
    --eval_size 200 \
    --eval_strategy steps \
    --eval_steps 100 \
    --language_check_steps 100 \
    --use_peft \
    --lora_r 16 \
    --lora_alpha 32 \
    --lora_target_modules all-linear \
    --packing \
    --learning_rate 2.0e-4 \
    --output_dir Qwen2.5-7B-X-Instruction-sw-bn
```

# Full fine-tuning on 8 GPUs with DeepSpeed ZeRO-3, all languages
```bash
accelerate launch --config_file trl_scripts/configs/accelerate/zero3.yaml trl_scripts/sft.py \
    --config trl_scripts/configs/sft_full_multi_gpu.yaml
```

# A base model without a chat template: clone one, or train on plain text
```bash
accelerate launch trl_scripts/sft.py --model_name_or_path Qwen/Qwen2.5-0.5B \
    --chat_template_path Qwen/Qwen2.5-0.5B-Instruct --eos_token '<|im_end|>' \
    --dataset_name org/x-instruction --languages sw --output_dir out
accelerate launch trl_scripts/sft.py --model_name_or_path Qwen/Qwen2.5-0.5B --prompt_format prompt_completion \
    --dataset_name org/x-instruction --languages sw --output_dir out
```
"""

import os
import sys

# Run as a file (accelerate launch trl_scripts/sft.py), the repository root is not on sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(script_args, training_args, model_args, x_args):
    from builder.training.modeling import base_model_path
    from builder.training.run import build_trainer, train_and_save
    from builder.training.sft_data import load_sft_data, sft_probes

    base_model_path(model_args)  # a misspelt model name fails before the data loads
    data = load_sft_data(
        script_args.dataset_name,
        x_args,
        train_split=script_args.dataset_train_split,
        test_split=script_args.dataset_test_split,
        seed=training_args.seed,
    )
    probes = sft_probes(data, x_args) if x_args.language_check_steps > 0 else None

    trainer = build_trainer(
        model_args,
        training_args,
        data.train,
        data.eval,
        prompt_format=x_args.prompt_format,
        training_data=data.card,
        probes=probes,
        check_args=x_args,
        eval_size=x_args.eval_size,
    )
    train_and_save(
        trainer,
        model_args,
        training_args,
        merge=x_args.merge_adapter,
        dataset_name=script_args.dataset_name,
    )
    return trainer


def make_parser():
    from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser

    from builder.training.args import XInstructionArguments

    return TrlParser((ScriptArguments, SFTConfig, ModelConfig, XInstructionArguments))


if __name__ == "__main__":
    from builder.training.entry import run_script

    sys.exit(run_script(os.path.basename(__file__), main, make_parser))
