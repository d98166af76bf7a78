"""Per-prompt preparation shared by the engines: rendering, token ids, context fit, seeds, stops.

The vllm engine (and the openai engine, when given a tokenizer) render chat messages with the
model's own chat template and tokenize the result themselves, the way the transformers engine
does, so every engine feeds the model the same token ids for the same prompt and the length
check (`PromptTooLongError` or `truncate_prompt="left"`) means the same thing everywhere.
"""

from __future__ import annotations

from ..core.hashing import stable_hash
from .base import Prompt, PromptTooLongError, SamplingParams, prompt_key


def count_text_tokens(tokenizer, text: str) -> int:
    """Content tokens of `text` (no BOS/EOS): the unit of prepare's length bounds. Every engine
    counts this way, so the same corpus keeps the same rows whichever engine (or the driver's
    weightless stand-in) measured it."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def count_text_tokens_many(tokenizer, texts: list[str]) -> list[int]:
    """`count_text_tokens` of each text, in one batch encode. A fast tokenizer's Rust side
    (`backend_tokenizer`) counts without the offsets and Python token lists that `tokenizer(...)`
    builds: ~1/3 less time on prepare's texts, the same counts. Only while it truncates and pads
    nothing (transformers turns both off for a plain call; a tokenizer.json may turn them on)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not texts:
        return []
    if backend is None or backend.truncation is not None or backend.padding is not None:
        return [count_text_tokens(tokenizer, text) for text in texts]
    return [
        len(encoding) for encoding in backend.encode_batch_fast(texts, add_special_tokens=False)
    ]


def render_prompt(tokenizer, prompt: Prompt, model_id: str) -> str:
    """The text the model sees: raw text as is, chat messages through the chat template."""
    if isinstance(prompt, str):
        return prompt
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"{model_id} has no chat template, so chat messages cannot be rendered; "
            "pass raw text prompts or use an instruction-tuned model"
        )
    # A conversation that ends with an assistant message is continued, not answered: the
    # caller pre-fills the start of the reply ("Score:") so that weak models keep the format.
    prefill = continues_reply(prompt)
    return tokenizer.apply_chat_template(
        prompt, tokenize=False, add_generation_prompt=not prefill, continue_final_message=prefill
    )


def continues_reply(prompt: Prompt) -> bool:
    """Chat messages whose last turn is the assistant's: the model continues that turn."""
    return not isinstance(prompt, str) and prompt[-1]["role"] == "assistant"


def prompt_budget(max_model_len: int, params: SamplingParams, model_id: str) -> int:
    """How many prompt tokens fit beside `max_new_tokens` in the context."""
    budget = max_model_len - params.max_new_tokens
    if budget < 1:
        raise PromptTooLongError(
            f"max_new_tokens={params.max_new_tokens} leaves no room for a prompt in the "
            f"{max_model_len}-token context of {model_id}; lower max_new_tokens"
        )
    return budget


def encode_prompts(
    tokenizer, prompts: list[Prompt], params: SamplingParams, max_model_len: int, model_id: str
) -> tuple[list[list[int]], list[bool]]:
    """Token ids for each prompt, cut from the left when allowed; and whether each was cut."""
    budget = prompt_budget(max_model_len, params, model_id)
    encoded, truncated = [], []
    for i, prompt in enumerate(prompts):
        # A chat template writes its own start markers; raw text gets the tokenizer's (e.g. BOS).
        ids = tokenizer(
            render_prompt(tokenizer, prompt, model_id), add_special_tokens=isinstance(prompt, str)
        )["input_ids"]
        cut = len(ids) > budget
        if cut and params.truncate_prompt == "error":
            raise PromptTooLongError(
                f"prompt {i} has {len(ids)} tokens, but {model_id} fits {budget} with "
                f"max_new_tokens={params.max_new_tokens} (context {max_model_len}); shorten "
                "the input or pass truncate_prompt='left' to keep its end"
            )
        encoded.append(ids[-budget:] if cut else ids)
        truncated.append(cut)
    return encoded, truncated


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Cut `text` before the earliest stop string (servers differ on whether they keep it)."""
    cuts = [found for s in stop if (found := text.find(s)) != -1]
    if not cuts:
        return text, False
    return text[: min(cuts)], True


def request_seed(seed: int | None, prompt: Prompt) -> int | None:
    """A per-request seed that depends only on the run's seed and the prompt itself, so a
    prompt's samples do not change with the other prompts of the call (None stays random)."""
    if seed is None:
        return None
    return int(stable_hash(seed, prompt_key(prompt))[:15], 16)
