"""Every setting of a build, in one dataclass that the CLI, YAML files and the builder share."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from .engines import ENGINES
from .languages import PAPER_LANGUAGES, parse_languages

logger = logging.getLogger(__name__)

# The embedded demo corpus is read only this far unless --max-docs says otherwise: the
# embedded model on two CPU cores does about this many texts per language in the README's
# five-minute budget. Real corpora are read in full by default.
EMBEDDED_DEMO_DOCS = 2

EXECUTORS = ("local", "ray")


@dataclasses.dataclass
class BuildConfig:
    # what to read
    langs: list[str] = dataclasses.field(default_factory=lambda: list(PAPER_LANGUAGES))
    corpus: str = "embedded"  # embedded | a local file or folder (or crawl/{lang}.jsonl) | hub:ID[:CONFIG] | fineweb2 | culturax
    text_column: str | None = None
    lang_column: str | None = None  # a column naming each row's language, for a mixed-language corpus
    split: str = "train"
    max_docs: int | None = None  # per language, read before cleaning; see EMBEDDED_DEMO_DOCS
    seeds: str | None = None  # seed pairs for few-shot generation; None = the embedded ones
    # models
    model: str = "smollm2-135m"
    engine: str = "auto"
    generator: str | None = None  # a fine-tuned backward model; replaces few-shot generation
    evaluator: str | None = None  # the rater; None = `model`
    embedder: str = "all-MiniLM-L6-v2"
    base_url: str | None = None  # for --engine openai; with --engine auto it means openai
    tokenizer: str | None = None  # --engine openai: counts the served model's tokens (default: found, see engines/served_tokens.py)
    batch_size: int = 16
    # method
    candidates: int = 4
    temperature: float = 0.7
    top_p: float = 0.95
    few_shot: int = 2
    max_instruction_tokens: int = 48
    rounds: int = 2
    accept_score: int = 4
    refine_response: bool = False
    target_size: int = 32000
    min_tokens: int = 24
    max_tokens: int = 2048  # Bengali, Tamil, Thai: ~0.55 characters per SmolLM2 token
    seed: int = 0
    heldout: int = 0  # rows per language moved to a `test` split
    # where
    work_dir: str = "x-instruction-work"
    output_dir: str = "x-instruction-data"
    shard_size: int = 64
    push_to_hub: str | None = None
    private: bool = False
    dry_run: bool = False
    pilot_docs: int = 3
    # how the model stages run (builder/executors); none of these changes a row
    executor: str = "local"  # local | ray
    data_parallel: int = 1  # engine processes on this machine, one per GPU
    ray_address: str | None = None  # an existing cluster ("auto", "ray://host:10001"); None = RAY_ADDRESS or a new local one
    ray_actors: int | None = None  # engine actors; None = one per GPU of the cluster (1 on CPUs)
    gpus_per_actor: float | None = None  # None = 1 on a cluster with GPUs, 0 without

    def __post_init__(self):
        if isinstance(self.langs, str):
            self.langs = [lang.code for lang in parse_languages(self.langs)]
        else:
            self.langs = [lang.code for lang in parse_languages(list(self.langs))]
        for name in ("candidates", "rounds", "batch_size", "shard_size", "target_size", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_tokens >= self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be below max_tokens ({self.max_tokens})")
        self._check_engine()
        self._check_executor()
        if self.corpus == "embedded" and self.max_docs is None:
            self.max_docs = EMBEDDED_DEMO_DOCS
        if self.max_docs is not None and self.max_docs < 1:
            raise ValueError(f"max_docs must be >= 1, got {self.max_docs}")

    def _check_engine(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose one of: {', '.join(ENGINES)}")
        # A server URL names the engine: `auto` would otherwise load a local model and ignore it.
        if self.base_url and self.engine == "auto":
            logger.info("--base-url given: using --engine openai")
            self.engine = "openai"
        if self.engine == "openai":
            return
        if self.base_url:
            raise ValueError(f"--base-url is for --engine openai (a model on a server); --engine {self.engine} "
                             "loads the model here: drop --base-url or pass --engine openai")
        if self.tokenizer:
            raise ValueError(f"--tokenizer is for --engine openai; --engine {self.engine} counts with the model's "
                             "own tokenizer: drop --tokenizer")

    def _check_executor(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"unknown executor {self.executor!r}; choose one of: {', '.join(EXECUTORS)}")
        if self.data_parallel < 1:
            raise ValueError(f"data_parallel must be >= 1, got {self.data_parallel}")
        if self.executor == "ray" and self.data_parallel > 1:
            raise ValueError("--data-parallel is for one machine without Ray; with --executor ray, "
                             "Ray places one actor per GPU (--ray-actors sets how many)")
        if (self.executor == "ray" or self.data_parallel > 1) and self.engine == "openai":
            raise ValueError("--executor ray and --data-parallel run local engines (transformers, vllm) in "
                             "worker processes; with --engine openai the server batches and scales, so "
                             "use the local executor and raise the server's concurrency instead")
        if self.ray_actors is not None and self.ray_actors < 1:
            raise ValueError(f"ray_actors must be >= 1, got {self.ray_actors}")
        if self.gpus_per_actor is not None and self.gpus_per_actor < 0:
            raise ValueError(f"gpus_per_actor must be >= 0, got {self.gpus_per_actor}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> "BuildConfig":
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of option: value, got {type(data).__name__}")
        data = {k.replace("-", "_"): v for k, v in data.items()}
        unknown = sorted(set(data) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(cls.field_names())}")
        data.update(overrides)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
