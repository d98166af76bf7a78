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

Multi-turn questions (MT-Bench) are answered turn by turn, each turn inside its own
conversation (builder.judge.turns), judged turn by turn with that context, and reported per
turn as well as pooled. In the native setting every turn is translated.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
from pathlib import Path

from .. import __version__
from ..engines import Engine, EngineError, SamplingParams, create_engine, pick_engine
from ..engines.base import EngineStats
from ..engines.cache import RequestCache, cached_generate
from ..engines.credentials import check_credentials
from ..engines.models import EMBEDDED_ALIASES
from ..engines.openai_engine import ServerUnreachable
from ..languages import parse_languages
from ..languages.lid import detect, matches
from ..prompts import ANSWER
from ..redact import register_url
from .aggregate import judge_pairs, pairwise_summary
from .bootstrap import check_confidence
from .fidelity import answer_language, language_fidelity
from .judging import judge_params, pair_prompts, run_judge
from .prompts import (
    JUDGE_SYSTEM,
    PREFILLS,
    TRANSLATE_QUESTION,
    check_format,
    judge_template,
    translate_messages,
)
from .questions import EMBEDDED, Question, load_answers, load_native_questions, load_questions
from .turns import answer_conversations

logger = logging.getLogger(__name__)

SETTINGS = {
    "en": "English question, answer in the target language",
    "native": "target-language question, answer in the target language (zero-shot)",
}
# The engine roles and the command-line flags that configure each: (model, engine, base URL).
ROLE_FLAGS = {
    "model": ("--model", "--engine", "--base-url"),
    "reference": ("--reference-model", "--reference-engine", "--reference-base-url"),
    "judge": ("--judge-model", "--judge-engine", "--judge-base-url"),
    "translate": ("--translate-model", "--translate-engine", "--translate-base-url"),
}


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
        # A base URL says where the model is served, so "auto" with one is the openai engine.
        engine = "openai" if self.engine == "auto" and self.base_url else pick_engine(self.engine)
        object.__setattr__(self, "engine", engine)
        register_url(self.base_url)  # its password is masked in every later line
        for name, flag in (("batch_size", "--batch-size"), ("concurrency", "--concurrency")):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)} ({flag})")

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

    def check_served_name(self, role: str) -> None:
        """An embedded alias or a local folder is not a name any server serves: sent to the
        openai engine it would only fail after the network did (DNS, retries). Say so now.
        A local folder with a base URL is allowed: `transformers serve` names models by folder."""
        if self.is_local:
            return
        model_flag, engine_flag, url_flag = ROLE_FLAGS[role]
        if self.model in EMBEDDED_ALIASES:
            fix = f"drop {url_flag} to run it here" if self.base_url else f"use {engine_flag} auto"
            raise ValueError(
                f"{model_flag} {self.model} is a local model; {engine_flag} openai sends names to a "
                f"server{f' ({url_flag} {self.base_url})' if self.base_url else ''}: {fix}"
            )
        local = os.path.isdir(self.model) or self.model.startswith(("./", "../", "/", "~"))
        if local and not (self.base_url or os.environ.get("OPENAI_BASE_URL")):
            raise ValueError(
                f"{model_flag} {self.model} is a local folder; {engine_flag} openai sends names to a "
                f"server: use {engine_flag} auto, or give {url_flag} of a server that serves that folder"
            )


# Numbers checked when the config is made, so a bad one fails before any model loads or any
# request is sent: (field, its flag, lowest allowed value). None values mean "the default".
LOWEST = (
    ("samples", "--samples", 1),
    ("limit", "--limit", 1),
    ("answer_max_tokens", "--answer-max-tokens", 1),
    ("answer_temperature", "--temperature", 0),
    ("judge_max_tokens", "--judge-max-tokens", 1),
    ("judge_batch_size", "--judge-batch-size", 1),
    ("chunk_size", None, 1),
    ("n_boot", "--bootstrap", 1),
)


def _check_lowest(config) -> None:
    for name, flag, lowest in LOWEST:
        value = getattr(config, name)
        if value is not None and value < lowest:
            raise ValueError(
                f"{name} must be >= {lowest}, got {value}" + (f" ({flag})" if flag else "")
            )


@dataclasses.dataclass
class HarnessConfig:
    """One evaluation run as the harness needs it: an EngineSpec per role. The command line and
    YAML files give the flat settings of builder/judge/config.py's EvalConfig, which builds this."""

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
    # prompts per engine call for answers and translations (each chunk is cached)
    chunk_size: int = 64
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
            raise ValueError(
                "give reference answers (--reference-answers FILE) or a reference model (--reference-model)"
            )
        _check_lowest(self)
        check_confidence(self.confidence)
        if self.samples > 1 and self.answer_temperature == 0:
            raise ValueError(
                f"samples={self.samples} needs a temperature > 0 (greedy samples are identical)"
            )
        for role in ROLE_FLAGS:
            spec = getattr(self, role)
            if spec is not None:
                spec.check_served_name(role)
                if not spec.is_local:  # before any model loads (see engines/credentials.py)
                    check_credentials(spec.base_url, ROLE_FLAGS[role][2])

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
    # the question's turns as the model sees them (English or target language)
    turns: tuple[str, ...]


def _stats_delta(engine: Engine, before: EngineStats, requests: int) -> dict:
    done = engine.stats - before
    return {
        # reused: answered from the cache, or the same prompt as another request of this run
        "requests": requests,
        "calls": done.calls,
        "reused": max(requests - done.calls, 0),
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "wall_s": round(done.wall_s, 3),
        "engine": engine.identity(),
    }


class Harness:
    def __init__(self, config: HarnessConfig, engines: dict[str, Engine] | None = None):
        """`engines` may hold ready engines by role (model, reference, judge, translate)."""
        self.config = config
        self.out = Path(config.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        path = config.cache if config.cache else self.out / "requests.sqlite"
        self.cache = RequestCache(path) if config.cache is not None else None
        self._engines: dict[str, Engine] = dict(engines or {})
        self._built: dict[EngineSpec, Engine] = {}
        self.cost: dict[str, dict] = {}
        self.cost_by_turn: dict[str, dict[str, dict]] = {}
        self.notes: list[str] = []

    def engine(self, role: str) -> Engine:
        if role in self._engines:
            return self._engines[role]
        spec = self._spec(role)
        if spec not in self._built:
            self._built[spec] = spec.build()
        self._engines[role] = self._built[spec]
        return self._engines[role]

    def _owner(self, role: str) -> str:
        """The role whose settings (and flags) `role` uses: the judge and the translator fall
        back to other roles when not configured."""
        c = self.config
        if role == "judge":
            return "judge" if c.judge else "model"
        if role == "translate":
            return "translate" if c.translate else "reference" if c.reference else "model"
        return role

    def _spec(self, role: str) -> EngineSpec:
        spec = getattr(self.config, self._owner(role))
        if spec is None:
            raise ValueError(f"no engine configured for the {role} role")
        return spec

    def _call(self, role: str, call):
        """Run one engine call; a server that cannot be reached becomes one line naming the
        role's flag to change."""
        try:
            return call()
        except ServerUnreachable as error:
            url_flag = ROLE_FLAGS[self._owner(role)][2]
            raise EngineError(
                f"the {role} engine cannot reach {error.url}: {error.reason}; start that server, "
                f"or point {url_flag} at the one that serves {self.engine(role).model_id!r}"
            ) from None

    def _generate(
        self,
        role: str,
        prompts,
        params: SamplingParams,
        template_hash: str,
        desc: str,
        turn: int | None = None,
    ):
        engine = self.engine(role)
        before = dataclasses.replace(engine.stats)
        completions = self._call(
            role,
            lambda: cached_generate(
                engine,
                prompts,
                params,
                self.cache,
                template_hash,
                chunk_size=self.config.chunk_size,
                desc=desc,
            ),
        )
        self._add_cost(role, _stats_delta(engine, before, len(prompts)), turn)
        return completions

    def _add_cost(self, role: str, delta: dict, turn: int | None = None) -> None:
        _add_delta(self.cost, role, delta)
        if turn is not None:
            _add_delta(self.cost_by_turn.setdefault(str(turn), {}), role, dict(delta))

    # --- phases -----------------------------------------------------------------------------

    def tasks(self, questions: list[Question]) -> list[Task]:
        c = self.config
        tasks = []
        for lang in c.langs:
            native = self.native_questions(lang, questions) if "native" in c.settings else {}
            for setting in c.settings:
                for q in questions:
                    if setting == "en":
                        tasks.append(Task(lang, setting, q, q.turns))
                    elif q.question_id in native:
                        tasks.append(Task(lang, setting, q, native[q.question_id]))
        return tasks

    def native_questions(self, lang: str, questions: list[Question]) -> dict[str, tuple[str, ...]]:
        """Every question's turns in `lang`, from --native-questions or translated turn by turn."""
        c = self.config
        if c.native_questions:
            native = load_native_questions(c.native_questions, lang, questions)
            source = c.native_questions
        else:
            native = self.translate_questions(lang, questions)
            source = f"translated by {self.engine('translate').model_id}"
        in_lang = [matches(detect(t), lang) for turns in native.values() for t in turns]
        decided = [f for f in in_lang if f is not None]
        turns = sum(len(q.turns) for q in questions if q.question_id in native)
        self.notes.append(
            f"{lang}: {len(native)}/{len(questions)} target-language questions ({source}); "
            f"language ID: {sum(decided)} of the {len(decided)} turns long enough to tell (of {turns}) are {lang}"
        )
        with open(self.out / f"questions.{lang}.jsonl", "w", encoding="utf-8") as f:
            for q in questions:
                if q.question_id in native:
                    row = {
                        "question_id": q.question_id,
                        "category": q.category,
                        "lang": lang,
                        "text": native[q.question_id][0],
                        "english": q.text,
                        "source": source,
                    }
                    if q.followups:
                        row.update(turns=list(native[q.question_id]), english_turns=list(q.turns))
                    f.write(_json(row) + "\n")
        return native

    def translate_questions(
        self, lang: str, questions: list[Question]
    ) -> dict[str, tuple[str, ...]]:
        """Each turn is translated on its own; a question with any empty translation is left out."""
        places = [(q, k) for q in questions for k in range(len(q.turns))]
        prompts = [translate_messages(q.turns[k], lang) for q, k in places]
        # A question's translation is shorter than an answer, so the answer budget bounds it.
        params = SamplingParams(max_new_tokens=self.config.answer_max_tokens, temperature=0.0)
        done = self._generate(
            "translate", prompts, params, TRANSLATE_QUESTION.hash, f"translate ({lang})"
        )
        texts: dict[str, list[str]] = {}
        for (q, _), completion in zip(places, done):
            texts.setdefault(q.question_id, []).append(completion.text.strip().strip('"').strip())
        native = {}
        for q in questions:
            empty = [k + 1 for k, text in enumerate(texts[q.question_id]) if not text]
            if empty:
                logger.warning(
                    "empty translation of question %s (turn %s) into %s: left out of the native setting",
                    q.question_id,
                    empty[0],
                    lang,
                )
            else:
                native[q.question_id] = tuple(texts[q.question_id])
        return native

    def _converse(
        self, role: str, tasks: list[Task], params: SamplingParams
    ) -> list[list[list[str]]]:
        """answers[task][sample][turn] of `role`, each turn asked inside its own conversation."""

        def generate(prompts, turn_params, turn):
            label = f"answers ({role}{f', turn {turn}' if turn > 1 else ''})"
            return self._generate(role, prompts, turn_params, ANSWER.hash, label, turn)

        return answer_conversations(
            generate, [t.turns for t in tasks], [t.lang for t in tasks], params
        )

    def answers(self, tasks: list[Task]) -> list[list[list[str]]]:
        c = self.config
        params = SamplingParams(
            max_new_tokens=c.answer_max_tokens,
            temperature=c.answer_temperature,
            n=c.samples,
            seed=c.seed,
        )
        return self._converse("model", tasks, params)

    def reference_file(
        self, questions: list[Question]
    ) -> dict[tuple[str, str], dict[str, tuple[str, ...]]] | None:
        """From --reference-answers: every question's answer turns, per (lang, setting). Read
        before any model runs, so a file that lacks answers is refused in seconds, not after
        every answer was generated. None when a reference model answers."""
        c = self.config
        if not c.reference_answers:
            return None
        ids = [q.question_id for q in questions]
        turns = {q.question_id: len(q.turns) for q in questions}
        return {
            (lang, setting): load_answers(c.reference_answers, lang, setting, ids, turns)
            for lang in c.langs
            for setting in c.settings
        }

    def references(self, tasks: list[Task], from_file: dict | None = None) -> list[list[str]]:
        """The reference's answer to every turn of every task: from `from_file` (reference_file's
        answers), else generated by the reference model."""
        if from_file is not None:
            return [list(from_file[(t.lang, t.setting)][t.question.question_id]) for t in tasks]
        c = self.config
        params = SamplingParams(max_new_tokens=c.answer_max_tokens, temperature=0.0, seed=c.seed)
        return [samples[0] for samples in self._converse("reference", tasks, params)]

    def judge(self, pairs: list[dict]) -> None:
        """Judge every pair in both orders, one turn at a time (later turns with their
        conversations); writes the raw replies into the pair records."""
        for turn in sorted({p["turn"] for p in pairs}):
            self._judge_turn([p for p in pairs if p["turn"] == turn], turn)

    def _judge_turn(self, pairs: list[dict], turn: int) -> None:
        c = self.config
        prefill = c.prefill()
        contexts = [(p.get("context_a"), p.get("context_b")) for p in pairs]
        ab, ba = pair_prompts(
            [p["question"] for p in pairs],
            [p["answer_a"] for p in pairs],
            [p["answer_b"] for p in pairs],
            [p["lang"] for p in pairs],
            c.judge_format,
            prefill,
            [a for a, _ in contexts],
            [b for _, b in contexts],
        )
        engine = self.engine("judge")
        before = dataclasses.replace(engine.stats)
        outputs = self._call(
            "judge",
            lambda: run_judge(
                engine,
                ab + ba,
                c.judge_format,
                prefill,
                judge_params(c.judge_format, c.judge_max_tokens),
                self.cache,
                c.judge_batch_size,
                multi_turn=turn > 1,
            ),
        )
        self._add_cost("judge", _stats_delta(engine, before, len(ab) + len(ba)), turn)
        for i, pair in enumerate(pairs):
            first, second = outputs[i], outputs[len(pairs) + i]
            pair.update(
                judgement_ab=first.text,
                finish_ab=first.finish_reason,
                judgement_ba=second.text,
                finish_ba=second.finish_reason,
            )

    def parse(self, pairs: list[dict]) -> None:
        """Write each pair's parsed judgements and outcome into its record, for auditing."""
        c = self.config
        ab, ba, results = judge_pairs(
            [p["judgement_ab"] for p in pairs],
            [p["judgement_ba"] for p in pairs],
            c.judge_format,
            c.rule,
            c.partial,
            [p["finish_ab"] for p in pairs],
            [p["finish_ba"] for p in pairs],
        )
        for pair, first, second, result in zip(pairs, ab, ba, results):
            pair.update(
                parsed_ab=first.to_dict(), parsed_ba=second.to_dict(), outcome=result.outcome
            )

    # --- the whole run -------------------------------------------------------------------------

    def run(self) -> dict:
        from .report import write_report

        c = self.config
        started = datetime.datetime.now(datetime.UTC)
        questions = load_questions(c.questions, c.questions_split, c.questions_config, c.limit)
        from_file = self.reference_file(questions)
        tasks = self.tasks(questions)
        pairs = make_pairs(tasks, self.answers(tasks), self.references(tasks, from_file))
        self.judge(pairs)
        self.parse(pairs)
        for pair in pairs:
            pair["lid_a"] = answer_language(pair["answer_a"], pair["lang"])
            pair["lid_b"] = answer_language(pair["answer_b"], pair["lang"])
            pair["chars_a"], pair["chars_b"] = len(pair["answer_a"]), len(pair["answer_b"])
        max_turns = max(len(q.turns) for q in questions)
        report = {
            "meta": self.meta(started, len(questions), max_turns),
            "results": self.summaries(pairs),
            "by_category": self.summaries(pairs, "category"),
            "cost": self.cost,
            "notes": self.notes,
        }
        if max_turns > 1:
            report["by_turn"] = self.summaries(pairs, "turn")
            report["cost_by_turn"] = self.cost_by_turn
        write_report(report, pairs, self.out)
        return report

    def summaries(self, pairs: list[dict], by: str | None = None) -> dict:
        """results[lang][setting] (pooled), or results[lang][setting][value of `by`]."""
        c = self.config
        results: dict[str, dict] = {}
        for lang in c.langs:
            for setting in c.settings:
                group = [p for p in pairs if p["lang"] == lang and p["setting"] == setting]
                if by is None:
                    results.setdefault(lang, {})[setting] = summarize_pairs(group, c)
                    continue
                parts = results.setdefault(lang, {}).setdefault(setting, {})
                for value in sorted({p[by] for p in group}):
                    parts[str(value)] = summarize_pairs([p for p in group if p[by] == value], c)
        return results

    def meta(self, started: datetime.datetime, n_questions: int, max_turns: int = 1) -> dict:
        c = self.config
        roles = {"model": self.engine("model").identity(), "judge": self.engine("judge").identity()}
        if c.reference is not None:
            roles["reference"] = self.engine("reference").identity()
        if "translate" in self._engines:
            roles["translate"] = self.engine("translate").identity()
        if c.judge is None:
            self.notes.append(
                "the model judged its own answers (no --judge-model): a smoke test, not a result"
            )
        templates = [ANSWER, judge_template(c.judge_format), JUDGE_SYSTEM, TRANSLATE_QUESTION]
        if max_turns > 1:
            templates.insert(2, judge_template(c.judge_format, multi_turn=True))
        return {
            "builder_version": __version__,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "questions": c.questions,
            "question_count": n_questions,
            "max_turns": max_turns,
            "langs": c.langs,
            "settings": list(c.settings),
            "engines": roles,
            "reference_answers": c.reference_answers,
            "judge": {
                "format": c.judge_format,
                "prefill": c.prefill(),
                "max_tokens": judge_params(c.judge_format, c.judge_max_tokens).max_new_tokens,
                "batch_size": c.judge_batch_size,
            },
            "answers": {
                "samples": c.samples,
                "max_tokens": c.answer_max_tokens,
                "temperature": c.answer_temperature,
                "seed": c.seed,
            },
            "aggregation": {
                "rule": c.rule,
                "partial": c.partial,
                "bootstrap_samples": c.n_boot,
                "confidence": c.confidence,
            },
            "templates": {t.name: {"version": t.version, "hash": t.hash} for t in templates},
        }


def make_pairs(
    tasks: list[Task], answers: list[list[list[str]]], references: list[list[str]]
) -> list[dict]:
    """One record per task, sample and turn; a later turn keeps the conversation each side's
    answer continues (context_a, context_b: [user turn, answer] pairs)."""
    pairs = []
    for task, samples, reference in zip(tasks, answers, references):
        for s, conversation in enumerate(samples):
            for k, answer in enumerate(conversation):
                pair = {
                    "lang": task.lang,
                    "setting": task.setting,
                    "question_id": task.question.question_id,
                    "category": task.question.category,
                    "sample": s,
                    "turn": k + 1,
                    "question": task.turns[k],
                    "answer_a": answer,
                    "answer_b": reference[k],
                }
                if k:
                    pair["context_a"] = [list(t) for t in zip(task.turns[:k], conversation[:k])]
                    pair["context_b"] = [list(t) for t in zip(task.turns[:k], reference[:k])]
                pairs.append(pair)
    return pairs


def summarize_pairs(pairs: list[dict], config: HarnessConfig) -> dict:
    """The pairwise summary plus language fidelity of both systems, for one group of pairs.

    Intervals resample questions, not pairs, when a question gives several pairs (samples, or
    turns of one conversation): those pairs are not independent."""
    c = config
    by_question = c.samples > 1 or len({p["turn"] for p in pairs}) > 1
    summary = pairwise_summary(
        [p["judgement_ab"] for p in pairs],
        [p["judgement_ba"] for p in pairs],
        c.judge_format,
        c.rule,
        c.partial,
        lengths_a=[p["chars_a"] for p in pairs],
        lengths_b=[p["chars_b"] for p in pairs],
        groups=[p["question_id"] for p in pairs] if by_question else None,
        n_boot=c.n_boot,
        seed=c.seed,
        confidence=c.confidence,
        finish_reasons=[p.get("finish_ab") for p in pairs],
        finish_reasons_swapped=[p.get("finish_ba") for p in pairs],
    )
    for side in ("a", "b"):
        fidelity = language_fidelity(
            [p[f"answer_{side}"] for p in pairs],
            [p["lang"] for p in pairs],
            c.n_boot,
            c.seed,
            c.confidence,
            details=[p[f"lid_{side}"] for p in pairs],
        )
        fidelity.pop("scores")  # per answer, they are in records.jsonl
        fidelity.pop("per_language")  # one language here
        summary[f"fidelity_{side}"] = fidelity
    return summary


def _add_delta(totals: dict[str, dict], role: str, delta: dict) -> None:
    if role not in totals:
        totals[role] = delta
        return
    for key in ("requests", "calls", "reused", "prompt_tokens", "completion_tokens", "wall_s"):
        totals[role][key] = round(totals[role][key] + delta[key], 3)


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)
