"""Model loading, checkpoint resolution and adapter merging for the training scripts."""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)


def model_init_kwargs(model_args, training_args) -> dict:
    """`from_pretrained` kwargs from TRL's ModelConfig/SFTConfig, as TRL's own sft.py builds them."""
    from accelerate import PartialState
    from trl import get_quantization_config

    kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    quantization_config = get_quantization_config(model_args)
    if quantization_config is not None:
        # k-bit weights cannot be moved after loading: put each process's copy on its own device.
        kwargs["quantization_config"] = quantization_config
        kwargs["device_map"] = {"": PartialState().local_process_index}
    if training_args.model_init_kwargs:
        kwargs.update(training_args.model_init_kwargs)
    return kwargs


def base_model_path(model_args) -> str:
    """What `from_pretrained` loads for `--model_name_or_path`: resolved as the builder resolves
    `--model` (the embedded alias smollm2-135m, a Hub id, or a local folder), so a name that
    works for `x-instruction build` works here, offline included."""
    from ..engines.models import EMBEDDED_MODEL, resolve_model

    name = model_args.model_name_or_path
    if not name:
        raise ValueError(
            f"pass --model_name_or_path: {EMBEDDED_MODEL} (the embedded model), a Hub model id "
            "or a local folder"
        )
    return resolve_model(name)


def load_model_and_tokenizer(model_args, training_args):
    """The causal LM and its tokenizer. The model is built here rather than by name inside
    SFTTrainer because giving it a chat template (cloning) may resize its embeddings first."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = base_model_path(model_args)
    if name != model_args.model_name_or_path:
        logger.info("Loading %s from %s", model_args.model_name_or_path, name)
    kwargs = model_init_kwargs(model_args, training_args)
    if kwargs.get("dtype") not in (None, "auto"):
        import torch

        kwargs["dtype"] = getattr(torch, kwargs["dtype"])
    model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(
        name, revision=model_args.model_revision, trust_remote_code=training_args.trust_remote_code
    )
    # SFTTrainer would warn that these are ignored for an instantiated model: they were used above.
    training_args.model_init_kwargs = None
    return model, tokenizer


def train_added_tokens(peft_config, added_tokens: list[int]) -> None:
    """With LoRA, tokens added by cloning a chat template must be trainable, or the model never
    learns to emit them (TRL does the same when it clones the template itself)."""
    if peft_config is None or not added_tokens:
        return
    indices = peft_config.trainable_token_indices or {}
    indices.setdefault("embed_tokens", [])
    indices["embed_tokens"] = sorted(set(indices["embed_tokens"]) | set(added_tokens))
    peft_config.trainable_token_indices = indices
    modules = list(peft_config.modules_to_save or [])
    if "lm_head" not in modules:
        peft_config.modules_to_save = modules + ["lm_head"]


def resolve_checkpoint(value: str | bool | None, output_dir: str) -> str | None:
    """`--resume_from_checkpoint`: a path, `last` (the newest checkpoint in output_dir, which
    must exist) or `auto` (the newest if there is one, else start fresh: for preemptible jobs)."""
    from transformers.trainer_utils import get_last_checkpoint

    if value in (None, False, "", "false", "False"):
        return None
    if value in ("last", "auto", True, "true", "True"):
        last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
        if last is None and value != "auto":
            raise ValueError(
                f"--resume_from_checkpoint {value}: no checkpoint-* folder in {output_dir}; "
                "use 'auto' to start fresh when there is none"
            )
        if last is None:
            logger.info("No checkpoint in %s: starting from scratch", output_dir)
        return last
    if not os.path.isdir(value):
        raise ValueError(f"--resume_from_checkpoint {value}: no such folder")
    return value


def merge_adapter(
    adapter_dir: str, output_dir: str, model_args, trust_remote_code: bool = False
) -> None:
    """Write base model + LoRA adapter as one model folder, loadable by any engine (vLLM included).

    The base is reloaded unquantised, so merging a QLoRA adapter gives full-precision weights."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = model_args.dtype if model_args.dtype not in (None, "auto") else "bfloat16"
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    base = AutoModelForCausalLM.from_pretrained(
        base_model_path(model_args),
        revision=model_args.model_revision,
        dtype=getattr(torch, dtype),
        trust_remote_code=trust_remote_code,
    )
    # the chat template added tokens
    if base.get_input_embeddings().num_embeddings != len(tokenizer):
        base.resize_token_embeddings(len(tokenizer))
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    logger.info("Merged the adapter in %s into a full model in %s", adapter_dir, output_dir)
