"""Offline generation with `vllm.LLM` (GPU machines; vLLM's CPU build runs it in tests).

vLLM is imported only when this engine is built, so the rest of the project works without it.
Prompts are rendered and tokenized here with the model's tokenizer (see `prompt_tokens`) and
handed to vLLM as token ids: the length check is ours and identical to the other engines'.

Sampling is seeded per request from (seed, prompt), as in the transformers engine, so a
prompt's samples do not depend on which other prompts share the call, and a resumed run
(which sends fewer prompts) reproduces an uninterrupted one.

One engine per process: vLLM owns the accelerator and its worker processes, so it must not
be copied into forked `datasets.map` workers. The engine refuses to run in a process other
than the one that built it, and refuses to be pickled.
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

from .base import Completion, Engine, EngineError, Prompt, SamplingParams
from .prompt_tokens import count_text_tokens, count_text_tokens_many, encode_prompts, request_seed

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "the vllm engine needs vLLM, which is not installed; on a CUDA machine install it with "
    "`pip install 'x-instruction[vllm]'`, or use --engine transformers (CPU or GPU) or "
    "--engine openai (any OpenAI-compatible server)"
)


def _import_vllm():
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return vllm


class VLLMEngine(Engine):
    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        model_path: str | None = None,
        revision: str | None = None,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        dtype: str = "auto",
        enforce_eager: bool = False,
        progress: bool = True,
        **llm_kwargs: Any,
    ):
        """`model` names the model (for `meta` and cache keys); `model_path` is what vLLM
        loads (a local folder or Hub id; defaults to `model`). Extra keyword arguments go to
        `vllm.LLM` unchanged (e.g. `tensor_parallel_size=2`)."""
        super().__init__(model, revision)
        vllm = _import_vllm()
        self._sampling_params_cls = vllm.SamplingParams
        path = model_path or model
        # `revision` names a Hub commit; for a local folder it only labels the weights (the
        # embedded model's is a package version), so vLLM must not try to resolve it.
        hub_revision = None if os.path.isdir(path) else revision
        logger.info("Loading %s with vLLM %s", path, vllm.__version__)
        self.llm = vllm.LLM(
            model=path,
            revision=hub_revision,
            tokenizer_revision=hub_revision,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            enforce_eager=enforce_eager,
            **llm_kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()
        # vLLM settles the context length (the model's own unless max_model_len lowers it).
        self.max_model_len = self.llm.model_config.max_model_len
        self.progress = progress
        self._pid = os.getpid()

    def __getstate__(self):
        raise TypeError(
            "a VLLMEngine cannot be pickled or sent to another process: build one engine per "
            "process (with datasets, run generation in the main process, not in map(num_proc>1))"
        )

    def count_tokens(self, text: str) -> int:
        return count_text_tokens(self.tokenizer, text)

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        return count_text_tokens_many(self.tokenizer, texts)

    def _sampling_params(self, prompt: Prompt, params: SamplingParams):
        return self._sampling_params_cls(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=None if params.greedy else request_seed(params.seed, prompt),
            max_tokens=params.max_new_tokens,  # always set: vLLM's default is 16 tokens
            stop=list(params.stop) or None,
        )

    def _generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        if self.llm is None:
            raise EngineError("this vllm engine was closed; build a new one")
        if os.getpid() != self._pid:
            raise EngineError(
                f"this vllm engine was built in process {self._pid} and called from process "
                f"{os.getpid()} (a forked worker?); build one engine per process instead"
            )
        encoded, truncated = encode_prompts(
            self.tokenizer, prompts, params, self.max_model_len, self.model_id
        )
        outputs = self.llm.generate(
            [{"prompt_token_ids": ids} for ids in encoded],
            [self._sampling_params(p, params) for p in prompts],
            use_tqdm=self.progress and len(prompts) > 1,
        )
        completions = []
        for ids, cut, out in zip(encoded, truncated, outputs):
            samples = sorted(out.outputs, key=lambda o: o.index)
            completions.append(
                Completion(
                    texts=[s.text for s in samples],
                    # vLLM reports "stop" for EOS and stop strings, "length" at max_tokens.
                    finish_reasons=[s.finish_reason or "length" for s in samples],
                    prompt_tokens=len(ids),
                    completion_tokens=sum(len(s.token_ids) for s in samples),
                    truncated=cut,
                )
            )
        return completions

    def close(self) -> None:
        """Free the model and its workers so another engine can load in this process."""
        if getattr(self, "llm", None) is None:
            return
        engine_core = getattr(self.llm.llm_engine, "engine_core", None)
        if engine_core is not None and hasattr(engine_core, "shutdown"):
            engine_core.shutdown()
        self.llm = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover - vLLM always brings torch
            pass
