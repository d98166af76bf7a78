"""The one interface every text-generation backend implements.

Batch in, batch out: a list of prompts (raw text or chat messages) and one `SamplingParams`
in, one `Completion` per prompt out. Engines also keep running totals (`EngineStats`) so the
pipeline can report tokens, calls and time spent inside the model.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import threading
import time
from typing import Any

from ..errors import EngineError

# Guards `Engine.stats` of every engine: one engine may serve callers on several threads.
_STATS_LOCK = threading.Lock()

# A prompt is either raw text (sent as is) or a chat conversation
# ([{"role": "user", "content": "..."}]) that the engine renders with the model's chat template.
# A conversation whose last message has role "assistant" is continued rather than answered
# (the reply is pre-filled), which every engine supports (transformers' and vLLM's
# `continue_final_message`).
Prompt = str | list[dict[str, str]]


class PromptTooLongError(EngineError, ValueError):
    """A prompt does not fit the model's context together with `max_new_tokens`."""


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    """Sampling settings shared by every engine.

    temperature 0 means greedy decoding (and then `n` must be 1, since greedy samples are
    identical). `seed` makes sampled output repeatable on the same engine and hardware.
    `truncate_prompt="left"` keeps the end of an over-long prompt and flags the result instead
    of raising `PromptTooLongError` (the default, so nothing is silently cut).
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    truncate_prompt: str = "error"

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.temperature == 0 and self.n > 1:
            raise ValueError(
                f"n={self.n} with temperature=0 would return {self.n} identical greedy samples; "
                "set temperature > 0 to sample several candidates"
            )
        if self.truncate_prompt not in ("error", "left"):
            raise ValueError(
                f"truncate_prompt must be 'error' or 'left', got {self.truncate_prompt!r}"
            )
        # Accept a list for convenience but store a tuple so the params stay hashable.
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Completion:
    """The result for one prompt: `n` texts with their finish reasons and token counts."""

    texts: list[str]
    finish_reasons: list[str]  # "stop" (EOS or a stop string) or "length"
    prompt_tokens: int
    completion_tokens: int  # summed over the n texts
    truncated: bool = False  # the prompt was cut from the left to fit the context

    @property
    def text(self) -> str:
        return self.texts[0]

    def to_dict(self) -> dict[str, Any]:
        # What dataclasses.asdict gives, without its recursive deep copy (one per cached request).
        return {
            "texts": list(self.texts),
            "finish_reasons": list(self.finish_reasons),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "truncated": self.truncated,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        return cls(**data)


@dataclasses.dataclass
class EngineStats:
    calls: int = 0  # prompts sent to the model (cache hits are not calls)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0  # time spent inside generate()

    def add(self, completions: list[Completion], seconds: float) -> None:
        self.calls += len(completions)
        self.prompt_tokens += sum(c.prompt_tokens for c in completions)
        self.completion_tokens += sum(c.completion_tokens for c in completions)
        self.wall_s += seconds

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __add__(self, other: EngineStats) -> EngineStats:
        return EngineStats(
            *(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self))
        )

    def __radd__(self, other: EngineStats | int) -> EngineStats:
        # sum() starts from 0
        return self if other == 0 else self + other

    def __sub__(self, other: EngineStats) -> EngineStats:
        """The work done between two snapshots: `engine.stats - before`."""
        return EngineStats(
            *(getattr(self, f.name) - getattr(other, f.name) for f in dataclasses.fields(self))
        )


def prompt_key(prompt: Prompt) -> str:
    """A stable string for a prompt, used in cache keys."""
    return (
        prompt
        if isinstance(prompt, str)
        else json.dumps(prompt, ensure_ascii=False, sort_keys=True)
    )


class Engine(abc.ABC):
    """Base class: subclasses implement `_generate`; validation and stats live here."""

    name: str = "base"

    def __init__(self, model_id: str, revision: str | None = None):
        self.model_id = model_id
        self.revision = revision
        self.stats = EngineStats()
        # The label of each thread's latest call: one engine serves callers on several threads
        # (a judge harness, the data-parallel executor), and each bar shows its own caller's.
        self._progress_descs: dict[int, str] = {}
        # Threads whose latest call asked for no bar: shards mapped several at once on one
        # engine would each draw their own, below the stage's.
        self._barless: set[int] = set()

    @property
    def progress_desc(self) -> str:
        """What this thread's latest `generate()` call asked its progress bar to say."""
        return self._progress_descs.get(threading.get_ident(), f"generate ({self.name})")

    @property
    def progress_shown(self) -> bool:
        """Whether this thread's latest `generate()` call wants the engine's progress bar."""
        return threading.get_ident() not in self._barless

    def identity(self) -> dict[str, Any]:
        """What makes two engines produce the same output for the same request (cache keys, `meta`)."""
        return {"engine": self.name, "model": self.model_id, "revision": self.revision}

    def generate(
        self,
        prompts: list[Prompt],
        params: SamplingParams,
        *,
        desc: str | None = None,
        progress: bool = True,
    ) -> list[Completion]:
        """`desc` labels the engine's progress bar (the stage or role asking); "generate (engine)"
        by default. `progress=False`: no bar for this call (the caller shows its own)."""
        if not isinstance(prompts, list):
            raise TypeError(f"generate() takes a list of prompts, got {type(prompts).__name__}")
        if not prompts:
            return []
        for i, prompt in enumerate(prompts):
            if isinstance(prompt, str):
                if not prompt:
                    raise ValueError(f"prompt {i} is an empty string")
            elif not (
                isinstance(prompt, list)
                and prompt
                and all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt)
            ):
                raise ValueError(
                    f"prompt {i} must be a non-empty string or a non-empty list of "
                    "{'role': ..., 'content': ...} messages"
                )
        # the bars' label
        thread = threading.get_ident()
        self._progress_descs[thread] = desc or f"generate ({self.name})"
        (self._barless.discard if progress else self._barless.add)(thread)
        start = time.perf_counter()
        completions = self._generate(prompts, params)
        with _STATS_LOCK:  # threads sharing one engine must not lose each other's counts
            self.stats.add(completions, time.perf_counter() - start)
        return completions

    @abc.abstractmethod
    def _generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]: ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in this model's tokenizer (length bounds are measured in tokens)."""
        raise NotImplementedError(f"the {self.name} engine cannot count tokens")

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        """`count_tokens` of each text; an engine with a local tokenizer counts them in one batch."""
        return [self.count_tokens(text) for text in texts]

    def prepare_token_counts(self, tokenizer: str | None = None) -> str | None:
        """Make `count_tokens` ready before a build sends its first request. A local engine
        counts with its model's own tokenizer: nothing to choose (None). An engine whose model
        runs elsewhere chooses here and returns how it counts (for logs and fingerprints)."""
        if tokenizer is not None:
            raise ValueError(
                f"--tokenizer is for --engine openai; the {self.name} engine counts with its model's own tokenizer"
            )
        return None

    def close(self) -> None:  # noqa: B027 (optional hook: an engine with nothing to release keeps it)
        """Release the model (GPU memory, HTTP connections)."""
