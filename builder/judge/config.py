"""Every setting of `x-instruction eval`, in one dataclass that the flags, YAML files and Python
callers share, as BuildConfig is for `build`: each field is one flag (builder/cli/options.py), its
`metadata["help"]` the flag's help, its annotation the type and range a value must have
(builder/config_checks.py). `harness_config()` turns the flat settings into the harness's run,
one EngineSpec per engine role."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from pydantic import Field

from ..config_checks import Options, check_values
from ..engines import ENGINES
from ..languages import parse_languages
from .aggregate import PARTIAL, RULES
from .harness import EngineSpec, HarnessConfig
from .prompts import FORMATS
from .questions import EMBEDDED

WHAT = "what to evaluate"
MODEL = "the model under test (system A)"
REFERENCE = "the reference (system B)"
JUDGE = "the judge"
OUTPUT = "output"

ENGINE_HELP = (
    "auto (default): openai when a base URL is given, else vllm with a GPU, else transformers"
)


def _option(default: Any, help: str, group: str, **extra: Any) -> Any:
    return dataclasses.field(default=default, metadata={"help": help, "group": group, **extra})


@dataclasses.dataclass
class EvalConfig(Options):
    # what to evaluate
    langs: str | list[str] = dataclasses.field(
        metadata={"help": "target languages: 'sw,bn' or 'all' (the paper's ten)", "group": WHAT}
    )
    settings: str | list[str] = _option(
        "en,native",
        "en: English question; native: target-language question (zero-shot). Default: both",
        WHAT,
    )
    questions: str = _option(
        EMBEDDED,
        "'embedded' (27 demo questions), a FastChat-style .jsonl, a dataset folder or a Hub dataset id",
        WHAT,
    )
    questions_split: str = _option("train", "split, for a dataset folder or Hub id", WHAT)
    questions_config: str | None = _option(None, "config name, for a Hub dataset", WHAT)
    native_questions: str | None = _option(
        None,
        "target-language questions file ({lang} is filled in); default: translate with an engine",
        WHAT,
    )
    limit: Annotated[int | None, Field(ge=1)] = _option(
        None, "only the first N questions (all their turns)", WHAT
    )
    # the model under test
    model: str = _option(
        "smollm2-135m", "embedded alias, Hub id, local folder, or served name", MODEL
    )
    engine: str = _option("auto", ENGINE_HELP, MODEL, choices=ENGINES)
    base_url: str | None = _option(None, "for --engine openai", MODEL)
    samples: Annotated[int, Field(ge=1)] = _option(
        1, "answers per question; each is judged (needs --temperature > 0)", MODEL
    )
    temperature: Annotated[float, Field(ge=0)] = _option(
        0.0, "sampling temperature of the answers (default: 0, greedy)", MODEL
    )
    answer_max_tokens: Annotated[int, Field(ge=1)] = _option(
        512, "tokens generated per answer (default: 512)", MODEL
    )
    # numpy takes no negative seed
    seed: Annotated[int, Field(ge=0)] = _option(0, "sampling and bootstrap seed", MODEL)
    batch_size: Annotated[int, Field(ge=1)] = _option(
        16, "prompts per batch for local engines", MODEL
    )
    concurrency: Annotated[int, Field(ge=1)] = _option(
        8, "requests in flight for openai engines", MODEL
    )
    # the reference
    reference_answers: str | None = _option(
        None,
        "answers file ({lang} and {setting} are filled in): question_id + answer/output/text, "
        "or FastChat choices (one answer per turn)",
        REFERENCE,
    )
    reference_model: str | None = _option(
        None, "generate reference answers with this model instead", REFERENCE
    )
    reference_engine: str = _option("auto", ENGINE_HELP, REFERENCE, choices=ENGINES)
    reference_base_url: str | None = _option(
        None, "OpenAI-compatible endpoint of the reference model", REFERENCE
    )
    translate_model: str | None = _option(
        None,
        "model that translates questions for the native setting (default: the reference model, else --model)",
        REFERENCE,
    )
    translate_engine: str = _option("auto", ENGINE_HELP, REFERENCE, choices=ENGINES)
    translate_base_url: str | None = _option(
        None, "OpenAI-compatible endpoint of the translate model", REFERENCE
    )
    # the judge
    judge_model: str | None = _option(
        None, "default: --model judges itself (a smoke test only)", JUDGE
    )
    judge_engine: str = _option("auto", ENGINE_HELP, JUDGE, choices=ENGINES)
    judge_base_url: str | None = _option(
        None, "e.g. http://127.0.0.1:8000/v1 for a local vLLM server", JUDGE
    )
    judge_format: str = _option(
        "scores",
        "scores: the paper's 0-10 <score1>/<score2>; verdict: [[1]]/[[2]]/[[tie]]",
        JUDGE,
        choices=FORMATS,
    )
    judge_prefill: bool | None = _option(
        None,
        "start the judge's reply with the format's opening tag (default: local engines only)",
        JUDGE,
    )
    judge_max_tokens: Annotated[int | None, Field(ge=1)] = _option(
        None, "default: 64 for scores, 384 otherwise", JUDGE
    )
    judge_batch_size: Annotated[int, Field(ge=1)] = _option(
        64, "judge prompts per call (1: one at a time)", JUDGE
    )
    tie_rule: str = _option(
        "sum",
        "sum: orders add up, disagreement is a tie; agree: both orders must agree",
        JUDGE,
        choices=RULES,
    )
    partial: str = _option(
        "exclude",
        "a pair with one invalid judgement: exclude it (default) or decide by the valid order",
        JUDGE,
        choices=PARTIAL,
    )
    bootstrap: Annotated[int, Field(ge=1)] = _option(
        1000, "bootstrap resamples for the intervals", JUDGE
    )
    confidence: Annotated[float, Field(gt=0, lt=1)] = _option(
        0.95, "level of the bootstrap intervals (default: 0.95)", JUDGE
    )
    # output
    output_dir: str = _option(
        "eval-report", "where report.json/.md, records.jsonl and plots go", OUTPUT
    )
    cache: str = _option("", "request cache file (default: <output-dir>/requests.sqlite)", OUTPUT)
    no_cache: bool = _option(False, "send every request again", OUTPUT)

    def __post_init__(self):
        # Types, ranges and choices come from the fields above (builder/config_checks.py).
        check_values(EvalConfig, self.__dict__)
        self.langs = [lang.code for lang in parse_languages(self.langs)]
        if isinstance(self.settings, str):
            self.settings = [s.strip() for s in self.settings.split(",") if s.strip()]
        self.harness_config()  # the checks that need the engine roles: one line each, before any model loads

    def _spec(self, engine: str, model: str | None, base_url: str | None) -> EngineSpec | None:
        return (
            EngineSpec(engine, model, base_url, self.batch_size, self.concurrency)
            if model
            else None
        )

    def harness_config(self) -> HarnessConfig:
        return HarnessConfig(
            langs=self.langs,
            output_dir=self.output_dir,
            model=self._spec(self.engine, self.model, self.base_url),
            judge=self._spec(self.judge_engine, self.judge_model, self.judge_base_url),
            reference=self._spec(
                self.reference_engine, self.reference_model, self.reference_base_url
            ),
            reference_answers=self.reference_answers,
            translate=self._spec(
                self.translate_engine, self.translate_model, self.translate_base_url
            ),
            settings=tuple(self.settings),
            questions=self.questions,
            questions_split=self.questions_split,
            questions_config=self.questions_config,
            native_questions=self.native_questions,
            limit=self.limit,
            samples=self.samples,
            answer_max_tokens=self.answer_max_tokens,
            answer_temperature=self.temperature,
            seed=self.seed,
            judge_format=self.judge_format,
            judge_prefill=self.judge_prefill,
            judge_max_tokens=self.judge_max_tokens,
            judge_batch_size=self.judge_batch_size,
            rule=self.tie_rule,
            partial=self.partial,
            n_boot=self.bootstrap,
            confidence=self.confidence,
            cache=None if self.no_cache else self.cache,
        )
