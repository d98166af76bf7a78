"""An engine without weights, for the process that plans a distributed build.

With `--executor ray` or `--data-parallel N` the model runs in worker processes, one per GPU.
The driver still needs the engine's identity (fingerprints, cache keys, `meta`) and its
tokenizer (prepare's length bounds), but loading the weights there would take memory on the
GPU a worker is about to claim. This engine answers both from the tokenizer alone and refuses
to generate.
"""

from __future__ import annotations

from .base import Completion, Engine, EngineError, Prompt, SamplingParams
from .prompt_tokens import count_text_tokens, count_text_tokens_many


class TokenizerOnlyEngine(Engine):
    def __init__(self, kind: str, model: str, *, model_path: str, revision: str | None = None):
        super().__init__(model, revision)
        self.name = kind  # the identity must match the engine the workers load
        self.model_path = model_path
        self._tokenizer = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        return count_text_tokens(self.tokenizer, text)

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        return count_text_tokens_many(self.tokenizer, texts)

    def _generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        raise EngineError(
            f"{self.model_id}: this process plans the build and has no model loaded; generation runs "
            "in the executor's workers (--executor ray, --data-parallel)"
        )
