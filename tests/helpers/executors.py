"""The executor tests' build settings and the always-5 rater, shared with the two-node Ray tests."""

from __future__ import annotations

from pathlib import Path

from builder.config import BuildConfig


def executor_config(tmp_path: Path, model_dir: Path, **kw) -> BuildConfig:
    """The executor tests' build: the same rows wherever the model stages run."""
    # Two languages, three shards each: enough to spread over two workers and to crash one mid-stage.
    base = dict(
        langs=["sw", "fi"],
        corpus="embedded",
        max_docs=8,
        shard_size=3,
        candidates=2,
        rounds=2,
        few_shot=1,
        max_instruction_tokens=12,
        target_size=50,
        model=str(model_dir),
        engine="transformers",
        work_dir=str(tmp_path / "work"),
        output_dir=str(tmp_path / "out"),
    )
    base.update(kw)
    return BuildConfig(**base)


def save_always_five(out: Path, embedded_model_dir: Path) -> Path:
    """A 3 M-parameter Llama built to answer any prompt with "5" and stop: the rater that rates
    every pair 5, whose controls must measure chance (AUC 0.5) wherever it runs. Every token's
    embedding is +100 in dimension 0 except "5"'s (-100); the head maps +dim0 to "5" and -dim0
    to end of turn, so greedy and sampled replies alike are "5"."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    five = tokenizer.convert_tokens_to_ids("5")
    with torch.no_grad():
        model.model.embed_tokens.weight[:, 0] = 100.0
        model.model.embed_tokens.weight[five, 0] = -100.0
        model.lm_head.weight.zero_()
        model.lm_head.weight[five, 0] = 10.0
        model.lm_head.weight[tokenizer.eos_token_id, 0] = -10.0
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
