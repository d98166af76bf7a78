# /// script
# dependencies = [
#     "x-instruction[train]",
# ]
# ///

"""
Train the rater of the builder's refine stage: given an English instruction and a target-language
text, it answers "Score: N" (1-5) and "Reason: ...", the reply the refine stage pre-fills with
"Score:" and parses. The paper trains its evaluator; use the result with

    x-instruction build --langs sw --evaluator <output_dir> ...

# From the builder's own judgements (the audit config `candidates` of a build made with a strong
# evaluator): distil it into a smaller model
```bash
accelerate launch trl_scripts/train_evaluator.py \
    --model_name_or_path Qwen/Qwen2.5-1.5B-Instruct \
    --dataset_name org/x-instruction \
    --dataset_config candidates \
    --from_judgements \
    --balance_scores \
    --eval_size 100 \
    --eval_strategy steps \
    --eval_steps 100 \
    --score_check_steps 100 \
    --learning_rate 1.0e-5 \
    --num_train_epochs 2 \
    --output_dir evaluator-1.5b
```

# From a file of scored pairs (columns: lang, instruction, output, score, optional reason)
```bash
accelerate launch --cpu trl_scripts/train_evaluator.py --model_name_or_path smollm2-135m \
    --scores_file scored.jsonl --use_cpu --bf16 false --max_steps 10 --output_dir evaluator-smoke
```
"""

import os
import sys

# Run as a file (accelerate launch trl_scripts/...), the repository root is not on sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(script_args, training_args, model_args, eval_args):
    from builder.training.callbacks import ScoreAgreementCallback
    from builder.training.evaluator_data import load_evaluator_data, score_probes
    from builder.training.modeling import base_model_path
    from builder.training.run import build_trainer, train_and_save

    base_model_path(model_args)  # a misspelt model name fails before the data loads
    data = load_evaluator_data(
        script_args.dataset_name,
        script_args.dataset_config,
        eval_args,
        split=script_args.dataset_train_split,
        seed=training_args.seed,
    )
    trainer = build_trainer(
        model_args,
        training_args,
        data.train,
        data.eval,
        prompt_format="chat",
        training_data=data.card,
        eval_size=eval_args.eval_size,
    )
    prompts, references = (
        score_probes(data, eval_args) if eval_args.score_check_steps > 0 else (None, None)
    )
    if prompts:
        trainer.add_callback(
            ScoreAgreementCallback(
                trainer,
                prompts,
                references,
                every_steps=eval_args.score_check_steps,
                max_new_tokens=48,
                batch_size=training_args.per_device_eval_batch_size,
            )
        )
    train_and_save(
        trainer,
        model_args,
        training_args,
        merge=eval_args.merge_adapter,
        dataset_name=script_args.dataset_name,
    )
    return trainer


def make_parser():
    from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser

    from builder.training.args import EvaluatorArguments

    return TrlParser((ScriptArguments, SFTConfig, ModelConfig, EvaluatorArguments))


if __name__ == "__main__":
    from builder.training.entry import run_script

    sys.exit(run_script(os.path.basename(__file__), main, make_parser))
