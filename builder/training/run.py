"""The part every training script shares: model + template set-up, the trainer, training,
saving, merging and pushing. Scripts only build their datasets and call these."""

from __future__ import annotations

import logging
import os

from datasets import Dataset

from .callbacks import GenerationCheckCallback, LanguageShareCallback, Probe
from .card import TrainingData, XInstructionSFTTrainer
from .chat_template import apply_chat_template_path, ensure_assistant_masks, require_chat_template
from .modeling import (
    load_model_and_tokenizer,
    merge_adapter,
    resolve_checkpoint,
    train_added_tokens,
)

logger = logging.getLogger(__name__)


def build_trainer(
    model_args,
    training_args,
    train_dataset: Dataset,
    eval_dataset: Dataset | dict[str, Dataset] | None,
    *,
    prompt_format: str,
    training_data: TrainingData | None = None,
    probes: list[Probe] | None = None,
    check_args=None,
    eval_size: float = 0.0,
) -> XInstructionSFTTrainer:
    """An SFTTrainer for `train_dataset` (TRL rows: messages, or prompt/completion).

    `eval_size` is what the user asked to hold out: with it, no held-out rows means every
    language was too small to spare one, and the run trains without evaluation (a warning)."""
    from trl import get_peft_config

    settle_eval(training_args, eval_dataset, eval_size)
    # Resolved before the model loads, so that `last` with no checkpoint fails in seconds.
    training_args.resume_from_checkpoint = resolve_checkpoint(
        training_args.resume_from_checkpoint, training_args.output_dir
    )
    model, tokenizer = load_model_and_tokenizer(model_args, training_args)
    peft_config = get_peft_config(model_args)
    if prompt_format == "chat":
        model, tokenizer, added = apply_chat_template_path(
            model, tokenizer, training_args.chat_template_path
        )
        training_args.chat_template_path = None  # applied above; SFTTrainer must not apply it again
        require_chat_template(tokenizer, model_args.model_name_or_path)
        how = ensure_assistant_masks(tokenizer)
        logger.info(
            "Assistant-only loss through %s",
            {
                "markers": "the model's own template",
                "trl": "TRL's training template",
                "chatml": "a marked ChatML template equal to the model's",
            }[how],
        )
        training_args.assistant_only_loss = True
        train_added_tokens(peft_config, added)
    elif training_args.chat_template_path:
        raise ValueError(
            "--chat_template_path only applies to --prompt_format chat; plain-text prompt/completion "
            "training does not use a chat template"
        )

    trainer = XInstructionSFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset if training_args.eval_strategy != "no" else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        training_data=training_data,
    )
    if check_args is not None and check_args.language_check_steps > 0 and probes:
        trainer.add_callback(
            LanguageShareCallback(
                trainer,
                probes,
                every_steps=check_args.language_check_steps,
                max_new_tokens=check_args.language_check_max_new_tokens,
                batch_size=training_args.per_device_eval_batch_size,
            )
        )
    return trainer


def settle_eval(training_args, eval_dataset, eval_size: float) -> None:
    """Evaluation needs held-out rows: without them it is an error if none were asked for, and is
    turned off with a warning if they were but no language had a row to spare."""
    from transformers.trainer_utils import IntervalStrategy

    if training_args.eval_strategy == "no" or eval_dataset:
        return
    strategy = getattr(training_args.eval_strategy, "value", training_args.eval_strategy)
    if not eval_size:
        raise ValueError(
            f"--eval_strategy {strategy} needs held-out rows: set --eval_size (a fraction or a count "
            "per language) or export a test split; or pass --eval_strategy no"
        )
    logger.warning(
        "No language had a row to hold out for --eval_size %g: training without evaluation "
        "(--eval_strategy %s turned off)",
        eval_size,
        strategy,
    )
    training_args.eval_strategy = IntervalStrategy.NO


def language_check(trainer) -> LanguageShareCallback | None:
    return next(
        (cb for cb in trainer.callback_handler.callbacks if isinstance(cb, LanguageShareCallback)),
        None,
    )


def last_checks(trainer) -> dict[str, float]:
    """The last numbers of every generation check, for the model card."""
    results = {}
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, GenerationCheckCallback) and callback.history:
            results.update(callback.history[-1][1])
    return results


def train_and_save(
    trainer: XInstructionSFTTrainer,
    model_args,
    training_args,
    *,
    merge: bool = False,
    dataset_name: str | None = None,
) -> None:
    """Train (resuming if asked), save, optionally merge the adapter, and push."""
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.accelerator.print("✅ Training completed.")

    trainer.check_results = last_checks(trainer)

    trainer.save_model(training_args.output_dir)
    trainer.accelerator.print(f"💾 Model saved to {training_args.output_dir}.")
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=dataset_name)
        trainer.accelerator.print(
            f"🤗 Model pushed to the Hub in https://huggingface.co/{trainer.hub_model_id}."
        )
    else:
        trainer.create_model_card()  # save_model writes none outside checkpoints

    if merge:
        if not model_args.use_peft:
            logger.warning(
                "--merge_adapter has no effect without --use_peft: %s already holds the full model",
                training_args.output_dir,
            )
        else:
            if trainer.accelerator.is_main_process:
                merged = os.path.join(training_args.output_dir, "merged")
                merge_adapter(
                    training_args.output_dir, merged, model_args, training_args.trust_remote_code
                )
                trainer.accelerator.print(f"🔗 Adapter merged into {merged}.")
            trainer.accelerator.wait_for_everyone()
    if hasattr(trainer, "end"):  # transformers >= 5.18: finish trackers, destroy the process group
        trainer.end()
