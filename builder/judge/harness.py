"""The judge harness: answer a question set, get reference answers, judge both orders, report.

Two settings per language (the paper's evaluation):
* ``en``: the English question, then "Answer in {Language}." (the cross-lingual setting the
  data trains);
* ``native``: the question in the target language, then the same request (the paper's
  zero-shot claim: the model was never trained on target-language instructions).

Phases run over every language and setting at once, so each engine sees large batches:
translate (native setting) -> answers of the model (system A) -> reference answers (system B,
from a file or a reference model) -> judge both orders -> language ID -> summaries. Every model
call goes through the request cache, so rerunning the same command resumes: finished requests
are read back, not sent again.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
from pathlib import Path

from .. import __version__
from ..cache import RequestCache, cached_generate
from ..engines import Engine, SamplingParams, create_engine, pick_engine
from ..engines.base import EngineStats
from ..languages import parse_languages
from ..lid import detect, matches
from ..prompts import ANSWER, answer_prompt
from .aggregate import judge_pairs, pairwise_summary
from .fidelity import answer_language, language_fidelity
from .judging import judge_params, pair_prompts, run_judge
from .prompts import JUDGE_SYSTEM, PREFILLS, TRANSLATE_QUESTION, check_format, judge_template, translate_messages
from .questions import EMBEDDED, Question, load_answers, load_native_questions, load_questions

logger = logging.getLogger(__name__)

SETTINGS = {
    "en": "English question, answer in the target language",
    "native": "target-language question, answer in the target language (zero-shot)",
}
ROLES = ("model", "reference", "judge", "translate")


@dataclasses.dataclass(frozen=True)
class EngineSpec:
    """How to build one engine; equal specs share one engine object (one model in memory)."""

    engine: str = "auto"
    model: str = "smollm2-135m"
    base_url: str | None = None
    batch_size: int | None = None  # local engines: prompts per forward batch
    concurrency: int | None = None  # openai engine: requests in flight at once

    def __post_init__(self):
        # Resolve "auto" now, so that "auto" and "transformers" for one model share an engine.
        object.__setattr__(self, "engine", pick_engine(self.engine))

    def build(self) -> Engine:
        kind = self.engine
        options = {}
        if kind == "openai" and self.base_url:
            options["base_url"] = self.base_url
        if kind == "openai" and self.concurrency:
            options["concurrency"] = self.concurrency
        if kind == "transformers" and self.batch_size:
            options["batch_size"] = self.batch_size
        return create_engine(kind, self.model, **options)

    @property
    def is_local(self) -> bool:
        return self.engine != "openai"


@dataclasses.dataclass
class EvalConfig:
    langs: list[str]
    output_dir: str
    model: EngineSpec = dataclasses.field(default_factory=EngineSpec)
    judge: EngineSpec | None = None  # None: the model judges itself (a smoke test, not a result)
    reference: EngineSpec | None = None  # None: reference answers come from `reference_answers`
    reference_answers: str | None = None  # path, may hold {lang} and {setting}
    translate: EngineSpec | None = None  # None: the reference engine, else the model
    settings: tuple[str, ...] = ("en", "native")
    questions: str = EMBEDDED
    questions_split: str = "train"
    questions_config: str | None = None
    native_questions: str | None = None  # path, may hold {lang}
    limit: int | None = None
    samples: int = 1
    answer_max_tokens: int = 512
    answer_temperature: float = 0.0
    seed: int = 0
    judge_format: str = "scores"
    judge_prefill: bool | None = None  # None: pre-fill local judges only (see judge/prompts.py)
    judge_max_tokens: int | None = None
    judge_batch_size: int = 64  # prompts per judge call; 1 sends them one at a time
    chunk_size: int = 64  # prompts per engine call for answers and translations (each chunk is cached)
    rule: str = "sum"
    partial: str = "exclude"
    n_boot: int = 1000
    confidence: float = 0.95
    cache: str | None = ""  # "" -> <output_dir>/requests.sqlite; None -> no cache

    def __post_init__(self):
        self.langs = [lang.code for lang in parse_languages(self.langs)]
        unknown = [s for s in self.settings if s not in SETTINGS]
        if unknown or not self.settings:
            raise ValueError(f"unknown settings {unknown}; choose from: {', '.join(SETTINGS)}")
        check_format(self.judge_format)
        if self.reference is None and self.reference_answers is None:
            raise ValueError("give reference answers (--reference-answers FILE) or a reference model (--reference-model)")
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.samples > 1 and self.answer_temperature == 0:
            raise ValueError(f"samples={self.samples} needs a temperature > 0 (greedy samples are identical)")

    def prefill(self) -> bool:
        if PREFILLS[self.judge_format] is None:
            return False
        if self.judge_prefill is not None:
            return self.judge_prefill
        return (self.judge or self.model).is_local


@dataclasses.dataclass
class Task:
    lang: str
    setting: str
    question: Question
    text: str  # the question as the model sees it (English or target language)


def _stats_delta(engine: Engine, before: EngineStats, requests: int) -> dict:
    after = engine.stats
    calls = after.calls - before.calls
    return {
        # reused: answered from the cache, or the same prompt as another request of this run
        "requests": requests, "calls": calls, "reused": max(requests - calls, 0),
        "prompt_tokens": after.prompt_tokens - before.prompt_tokens,
        "completion_tokens": after.completion_tokens - before.completion_tokens,
        "wall_s": round(after.wall_s - before.wall_s, 3),
        "engine": engine.identity(),
    }


class Harness:
    def __init__(self, config: EvalConfig, engines: dict[str, Engine] | None = None):
        """`engines` may hold ready engines by role (model, reference, judge, translate)."""
        self.config = config
        self.out = Path(config.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        path = config.cache if config.cache else self.out / "requests.sqlite"
        self.cache = RequestCache(path) if config.cache is not None else None
        self._engines: dict[str, Engine] = dict(engines or {})
        self._built: dict[EngineSpec, Engine] = {}
        self.cost: dict[str, dict] = {}
        self.notes: list[str] = []

    def engine(self, role: str) -> Engine:
        if role in self._engines:
            return self._engines[role]
        spec = self._spec(role)
        if spec not in self._built:
            self._built[spec] = spec.build()
        self._engines[role] = self._built[spec]
        return self._engines[role]

    def _spec(self, role: str) -> EngineSpec:
        c = self.config
        specs = {"model": c.model, "judge": c.judge or c.model, "reference": c.reference,
                 "translate": c.translate or c.reference or c.model}
        if specs[role] is None:
            raise ValueError(f"no engine configured for the {role} role")
        return specs[role]

    def _generate(self, role: str, prompts, params: SamplingParams, template_hash: str, desc: str):
        engine = self.engine(role)
        before = dataclasses.replace(engine.stats)
        completions = cached_generate(engine, prompts, params, self.cache, template_hash,
                                      chunk_size=self.config.chunk_size, desc=desc)
        self._add_cost(role, _stats_delta(engine, before, len(prompts)))
        return completions

    def _add_cost(self, role: str, delta: dict) -> None:
        if role not in self.cost:
            self.cost[role] = delta
            return
        for key in ("requests", "calls", "reused", "prompt_tokens", "completion_tokens", "wall_s"):
            self.cost[role][key] = round(self.cost[role][key] + delta[key], 3)

    # --- phases -----------------------------------------------------------------------------

    def tasks(self, questions: list[Question]) -> list[Task]:
        c = self.config
        tasks = []
        for lang in c.langs:
            native = self.native_questions(lang, questions) if "native" in c.settings else {}
            for setting in c.settings:
                for q in questions:
                    if setting == "en":
                        tasks.append(Task(lang, setting, q, q.text))
                    elif q.question_id in native:
                        tasks.append(Task(lang, setting, q, native[q.question_id]))
        return tasks

    def native_questions(self, lang: str, questions: list[Question]) -> dict[str, str]:
        c = self.config
        if c.native_questions:
            native = load_native_questions(c.native_questions, lang, questions)
            source = c.native_questions
        else:
            native = self.translate_questions(lang, questions)
            source = f"translated by {self.engine('translate').model_id}"
        in_lang = [matches(detect(t), lang) for t in native.values()]
        decided = [f for f in in_lang if f is not None]
        self.notes.append(
            f"{lang}: {len(native)}/{len(questions)} target-language questions ({source}); "
            f"language ID: {sum(decided)} of the {len(decided)} long enough to tell are {lang}"
        )
        with open(self.out / f"questions.{lang}.jsonl", "w", encoding="utf-8") as f:
            for q in questions:
                if q.question_id in native:
                    f.write(_json({"question_id": q.question_id, "category": q.category, "lang": lang,
                                   "text": native[q.question_id], "english": q.text, "source": source}) + "\n")
        return native

    def translate_questions(self, lang: str, questions: list[Question]) -> dict[str, str]:
        prompts = [translate_messages(q.text, lang) for q in questions]
        # A question's translation is shorter than an answer, so the answer budget bounds it.
        params = SamplingParams(max_new_tokens=self.config.answer_max_tokens, temperature=0.0)
        done = self._generate("translate", prompts, params, TRANSLATE_QUESTION.hash, f"translate ({lang})")
        native = {}
        for q, completion in zip(questions, done):
            text = completion.text.strip().strip('"').strip()
            if text:
                native[q.question_id] = text
            else:
                logger.warning("empty translation of question %s into %s: left out of the native setting", q.question_id, lang)
        return native

    def answers(self, tasks: list[Task]) -> list[list[str]]:
        c = self.config
        prompts = [[{"role": "user", "content": answer_prompt(t.text, t.lang)}] for t in tasks]
        params = SamplingParams(max_new_tokens=c.answer_max_tokens, temperature=c.answer_temperature,
                                n=c.samples, seed=c.seed)
        return [comp.texts for comp in self._generate("model", prompts, params, ANSWER.hash, "answers (model)")]

    def references(self, tasks: list[Task]) -> list[str]:
        c = self.config
        if c.reference_answers:
            found: dict[tuple[str, str], dict[str, str]] = {}
            for lang, setting in dict.fromkeys((t.lang, t.setting) for t in tasks):
                ids = [t.question.question_id for t in tasks if (t.lang, t.setting) == (lang, setting)]
                found[(lang, setting)] = load_answers(c.reference_answers, lang, setting, ids)
            return [found[(t.lang, t.setting)][t.question.question_id] for t in tasks]
        prompts = [[{"role": "user", "content": answer_prompt(t.text, t.lang)}] for t in tasks]
        params = SamplingParams(max_new_tokens=c.answer_max_tokens, temperature=0.0, seed=c.seed)
        return [comp.text for comp in self._generate("reference", prompts, params, ANSWER.hash, "answers (reference)")]

    def judge(self, pairs: list[dict]) -> None:
        """Judge every pair in both orders; writes the raw replies into the pair records."""
        c = self.config
        prefill = c.prefill()
        ab, ba = pair_prompts([p["question"] for p in pairs], [p["answer_a"] for p in pairs],
                              [p["answer_b"] for p in pairs], [p["lang"] for p in pairs], c.judge_format, prefill)
        engine = self.engine("judge")
        before = dataclasses.replace(engine.stats)
        outputs = run_judge(engine, ab + ba, c.judge_format, prefill, judge_params(c.judge_format, c.judge_max_tokens),
                            self.cache, c.judge_batch_size)
        self._add_cost("judge", _stats_delta(engine, before, len(ab) + len(ba)))
        for i, pair in enumerate(pairs):
            first, second = outputs[i], outputs[len(pairs) + i]
            pair.update(judgement_ab=first.text, finish_ab=first.finish_reason,
                        judgement_ba=second.text, finish_ba=second.finish_reason)

    def parse(self, pairs: list[dict]) -> None:
        """Write each pair's parsed judgements and outcome into its record, for auditing."""
        c = self.config
        ab, ba, results = judge_pairs(
            [p["judgement_ab"] for p in pairs], [p["judgement_ba"] for p in pairs], c.judge_format, c.rule,
            c.partial, [p["finish_ab"] for p in pairs], [p["finish_ba"] for p in pairs])
        for pair, first, second, result in zip(pairs, ab, ba, results):
            pair.update(parsed_ab=first.to_dict(), parsed_ba=second.to_dict(), outcome=result.outcome)

    # --- the whole run -------------------------------------------------------------------------

    def run(self) -> dict:
        from .report import write_report

        c = self.config
        started = datetime.datetime.now(datetime.timezone.utc)
        questions = load_questions(c.questions, c.questions_split, c.questions_config, c.limit)
        tasks = self.tasks(questions)
        answers = self.answers(tasks)
        references = self.references(tasks)
        pairs = []
        for task, samples, reference in zip(tasks, answers, references):
            for k, answer in enumerate(samples):
                pairs.append({"lang": task.lang, "setting": task.setting, "question_id": task.question.question_id,
                              "category": task.question.category, "sample": k, "question": task.text,
                              "answer_a": answer, "answer_b": reference})
        self.judge(pairs)
        self.parse(pairs)
        for pair in pairs:
            pair["lid_a"] = answer_language(pair["answer_a"], pair["lang"])
            pair["lid_b"] = answer_language(pair["answer_b"], pair["lang"])
            pair["chars_a"], pair["chars_b"] = len(pair["answer_a"]), len(pair["answer_b"])
        report = {
            "meta": self.meta(started, len(questions)),
            "results": self.summaries(pairs),
            "cost": self.cost,
            "notes": self.notes,
        }
        write_report(report, pairs, self.out)
        return report

    def summaries(self, pairs: list[dict]) -> dict:
        c = self.config
        results: dict[str, dict] = {}
        for lang in c.langs:
            for setting in c.settings:
                group = [p for p in pairs if p["lang"] == lang and p["setting"] == setting]
                results.setdefault(lang, {})[setting] = summarize_pairs(group, c)
        return results

    def meta(self, started: datetime.datetime, n_questions: int) -> dict:
        c = self.config
        roles = {"model": self.engine("model").identity(), "judge": self.engine("judge").identity()}
        if c.reference is not None:
            roles["reference"] = self.engine("reference").identity()
        if "translate" in self._engines:
            roles["translate"] = self.engine("translate").identity()
        if c.judge is None:
            self.notes.append("the model judged its own answers (no --judge-model): a smoke test, not a result")
        templates = [ANSWER, judge_template(c.judge_format), JUDGE_SYSTEM, TRANSLATE_QUESTION]
        return {
            "builder_version": __version__,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "questions": c.questions, "question_count": n_questions, "langs": c.langs, "settings": list(c.settings),
            "engines": roles,
            "reference_answers": c.reference_answers,
            "judge": {"format": c.judge_format, "prefill": c.prefill(), "max_tokens": judge_params(
                c.judge_format, c.judge_max_tokens).max_new_tokens, "batch_size": c.judge_batch_size},
            "answers": {"samples": c.samples, "max_tokens": c.answer_max_tokens,
                        "temperature": c.answer_temperature, "seed": c.seed},
            "aggregation": {"rule": c.rule, "partial": c.partial, "bootstrap_samples": c.n_boot,
                            "confidence": c.confidence},
            "templates": {t.name: {"version": t.version, "hash": t.hash} for t in templates},
        }


def summarize_pairs(pairs: list[dict], config: EvalConfig) -> dict:
    """The pairwise summary plus language fidelity of both systems, for one language and setting."""
    c = config
    summary = pairwise_summary(
        [p["judgement_ab"] for p in pairs], [p["judgement_ba"] for p in pairs], c.judge_format, c.rule, c.partial,
        lengths_a=[p["chars_a"] for p in pairs], lengths_b=[p["chars_b"] for p in pairs],
        groups=[p["question_id"] for p in pairs] if c.samples > 1 else None,
        n_boot=c.n_boot, seed=c.seed, confidence=c.confidence,
        finish_reasons=[p.get("finish_ab") for p in pairs], finish_reasons_swapped=[p.get("finish_ba") for p in pairs],
    )
    for side in ("a", "b"):
        fidelity = language_fidelity([p[f"answer_{side}"] for p in pairs], [p["lang"] for p in pairs],
                                     c.n_boot, c.seed, c.confidence, details=[p[f"lid_{side}"] for p in pairs])
        fidelity.pop("scores")  # per answer, they are in records.jsonl
        fidelity.pop("per_language")  # one language here
        summary[f"fidelity_{side}"] = fidelity
    return summary


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def run_harness(config: EvalConfig, engines: dict[str, Engine] | None = None) -> dict:
    return Harness(config, engines).run()
