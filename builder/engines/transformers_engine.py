"""Batched generation with `transformers` on CPU or CUDA (the default engine).

Two choices here matter for the rest of the project:

* Left padding, so every row of a batch ends at the same position and greedy output of a
  batch equals greedy output of each prompt alone.
* Batch-invariant sampling. `generate(do_sample=True)` draws every row from one global RNG,
  so a row's sample depends on which other prompts share its batch; a resumed run (which
  batches differently, since cached requests are skipped) would then differ from an
  uninterrupted one. Instead each row gets its own `torch.Generator`, seeded from
  (seed, prompt, sample index), and picks argmax(logits / T + Gumbel noise), which is an
  exact sample from the softmax (the Gumbel-max trick). Same seed + same prompt = same text,
  whatever the batch.
"""

from __future__ import annotations

import dataclasses
import logging
import random

import torch
from tqdm.auto import tqdm

from ..core.hashing import stable_hash
from .base import Completion, Engine, EngineError, Prompt, SamplingParams, prompt_key
from .prompt_tokens import (
    count_text_tokens,
    count_text_tokens_many,
    cut_at_stop,
    encode_prompts,
    render_prompt,
)

logger = logging.getLogger(__name__)


class _GumbelSampling:
    """A logits processor: temperature, top-p, then per-row Gumbel noise (argmax = a sample)."""

    def __init__(self, temperature: float, top_p: float, generators: list[torch.Generator]):
        self.temperature = temperature
        self.top_p = top_p
        self.generators = generators

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.float() / self.temperature
        if self.top_p < 1.0:
            sorted_scores, order = torch.sort(scores, descending=True, dim=-1)
            cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
            # Drop a token when the tokens before it already cover top_p; the first always stays.
            remove_sorted = (cumulative - sorted_scores.softmax(dim=-1)) >= self.top_p
            remove = remove_sorted.scatter(-1, order, remove_sorted)
            scores = scores.masked_fill(remove, float("-inf"))
        vocab = scores.shape[-1]
        uniform = torch.stack(
            [torch.rand(vocab, generator=g, device=g.device) for g in self.generators]
        ).to(scores.device)
        gumbel = -torch.log(-torch.log(uniform.clamp_(1e-10, 1.0 - 1e-7)))
        return scores + gumbel


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(
        self,
        model: str,
        *,
        model_path: str | None = None,
        revision: str | None = None,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 16,
        max_model_len: int | None = None,
        progress: bool = True,
        model_obj=None,
        tokenizer=None,
    ):
        """`model` names the model (for `meta` and cache keys); `model_path` is what
        `from_pretrained` loads (defaults to `model`). `model_obj`/`tokenizer` take an
        already-built model, as the tests do with a tiny random Llama."""
        super().__init__(model, revision)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or _default_device()
        if dtype is None:
            dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        elif isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        path = model_path or model
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(path, revision=revision)
        self.model = model_obj or AutoModelForCausalLM.from_pretrained(
            path, revision=revision, dtype=dtype
        )
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.progress = progress
        self.max_model_len = (
            max_model_len or getattr(self.model.config, "max_position_embeddings", None) or 2048
        )
        self._eos_ids = self._collect_eos_ids()

    def _collect_eos_ids(self) -> set[int]:
        ids = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if source is None:
                continue
            ids.update(source if isinstance(source, (list, tuple)) else [source])
        return ids

    def render(self, prompt: Prompt) -> str:
        """The exact text the model sees: chat messages go through the chat template."""
        return render_prompt(self.tokenizer, prompt, self.model_id)

    def count_tokens(self, text: str) -> int:
        return count_text_tokens(self.tokenizer, text)

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        return count_text_tokens_many(self.tokenizer, texts)

    def _generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        if self.model is None:
            raise EngineError("this transformers engine was closed; build a new one")
        encoded, truncated = encode_prompts(
            self.tokenizer, prompts, params, self.max_model_len, self.model_id
        )
        # Longest first: batches of similar length waste less compute on padding.
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        results: list[Completion | None] = [None] * len(prompts)
        per_batch = max(1, self.batch_size // params.n)
        batches = [order[i : i + per_batch] for i in range(0, len(order), per_batch)]
        bar = tqdm(
            total=len(prompts),
            desc=self.progress_desc,
            unit="prompt",
            disable=not (self.progress and self.progress_shown) or len(batches) < 2,
            leave=False,
        )
        for batch in batches:
            outs = self._generate_batch(
                [encoded[i] for i in batch], [prompts[i] for i in batch], params
            )
            for i, completion in zip(batch, outs):
                completion.truncated = truncated[i]
                results[i] = completion
            bar.update(len(batch))
        bar.close()
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_batch(
        self, encoded: list[list[int]], prompts: list[Prompt], params: SamplingParams
    ) -> list[Completion]:
        from transformers import GenerationConfig, LogitsProcessorList

        width = max(len(r) for r in encoded)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor(
            [[pad] * (width - len(r)) + r for r in encoded], device=self.device
        )
        attention = torch.tensor(
            [[0] * (width - len(r)) + [1] * len(r) for r in encoded], device=self.device
        )
        prefilled = {}
        if params.n > 1:
            if width > 1:  # a one-token prompt leaves nothing to pre-fill
                prefilled = self._shared_prefill(input_ids, attention, params.n)
            input_ids = input_ids.repeat_interleave(params.n, dim=0)
            attention = attention.repeat_interleave(params.n, dim=0)

        config = GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=False,  # sampling happens in _GumbelSampling; argmax then picks the sample
            num_beams=1,
            pad_token_id=pad,
            eos_token_id=sorted(self._eos_ids) or None,
            stop_strings=list(params.stop) or None,
            # generate() fills every field left at None from the model's own generation_config,
            # so a checkpoint that ships e.g. repetition_penalty=1.05 (Qwen2.5-Instruct) would
            # silently change our output and part ways with the other engines. Pin the fields
            # that shape greedy logits to neutral values; SamplingParams is the one authority.
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            min_new_tokens=0,
            temperature=1.0,
            top_p=1.0,
            top_k=50,  # unused (do_sample=False); neutral to keep generate() quiet
        )
        processors = LogitsProcessorList()
        if not params.greedy:
            # seed=None asks for fresh randomness, as in the other engines; a fixed hash of
            # None would silently repeat the same samples on every call.
            seed = params.seed if params.seed is not None else random.SystemRandom().getrandbits(63)
            generators = []
            for prompt in prompts:
                for k in range(params.n):
                    g = torch.Generator(
                        device=self.device if self.device.startswith("cuda") else "cpu"
                    )
                    g.manual_seed(int(stable_hash(seed, prompt_key(prompt), k)[:15], 16))
                    generators.append(g)
            processors.append(_GumbelSampling(params.temperature, params.top_p, generators))
        extra = {"tokenizer": self.tokenizer} if params.stop else {}
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            generation_config=config,
            logits_processor=processors,
            **extra,
            **prefilled,
        )
        new_tokens = output[:, width:].tolist()

        completions = []
        for p, ids in enumerate(encoded):
            texts, reasons, used = [], [], 0
            for k in range(params.n):
                text, reason, count = self._finish(new_tokens[p * params.n + k], params)
                texts.append(text)
                reasons.append(reason)
                used += count
            completions.append(
                Completion(texts, reasons, prompt_tokens=len(ids), completion_tokens=used)
            )
        return completions

    def _shared_prefill(self, input_ids: torch.Tensor, attention: torch.Tensor, n: int) -> dict:
        """Run each prompt once and copy its KV cache for the n samples: the keyword argument
        that hands it to generate().

        generate(num_return_sequences=n) would encode every prompt n times; for long prompts
        and short outputs (an instruction per web text) the prompt is most of the work. The
        last prompt token is left for generate() to run, so it computes the first logits."""
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        # logits_to_keep=1: only the cache is needed here, and the 49k-vocabulary head over
        # every prompt position would cost a fifth of the prefill.
        out = self.model(
            input_ids=input_ids[:, :-1],
            attention_mask=attention[:, :-1],
            position_ids=positions[:, :-1],
            use_cache=True,
            logits_to_keep=1,
        )
        # transformers 5.24 renamed the KV cache `past_key_values` -> `cache`, in model outputs
        # and in generate() (the old name warns and goes in 6.0); older 5.x, which the vllm
        # extra pins, knows only the old name. The output's own field says which one applies.
        name = (
            "cache" if "cache" in {f.name for f in dataclasses.fields(out)} else "past_key_values"
        )
        cache = getattr(out, name)
        cache.batch_repeat_interleave(n)
        return {name: cache}

    def _finish(self, tokens: list[int], params: SamplingParams) -> tuple[str, str, int]:
        """Cut one generated row at EOS or a stop string; return (text, finish reason, tokens used)."""
        pad = self.tokenizer.pad_token_id
        reason, kept, count = "length", tokens, len(tokens)
        for j, tok in enumerate(tokens):
            if tok in self._eos_ids:
                reason, kept, count = "stop", tokens[:j], j + 1
                break
            if tok == pad:  # the row stopped on a stop string and was padded while others ran on
                reason, kept, count = "stop", tokens[:j], j
                break
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, params.stop)
        if stopped:
            # The row ended on the token that completed the stop string. Count up to it: when
            # pad == EOS (SmolLM2), the padding after a stopped row looks like an EOS, and
            # counting it would make a batched row one token longer than the same row alone.
            reason, count = "stop", self._tokens_to_stop(kept, params.stop)
        return text, reason, count

    def _tokens_to_stop(self, tokens: list[int], stop: tuple[str, ...]) -> int:
        """The fewest leading tokens whose text contains a stop string (binary search)."""
        low, high = 1, len(tokens)
        while low < high:
            mid = (low + high) // 2
            if cut_at_stop(self.tokenizer.decode(tokens[:mid], skip_special_tokens=True), stop)[1]:
                high = mid
            else:
                low = mid + 1
        return high

    def close(self) -> None:
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
