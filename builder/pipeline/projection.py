"""The arithmetic of `--dry-run`: scale what a pilot measured to a full run, and print it.

A pilot (builder/pipeline/dry_run.py) reads a few documents per language and measures everything the
run cost. Almost all of it grows with the documents read: the model's requests and tokens
(every candidate and refinement round included, since the pilot runs the user's settings), the
time, the work dir's shards. Two parts do not, and are scaled apart:

* loading the models, once per run;
* the rater's negative controls (builder/quality/rater.py): at most CONTROL_PAIRS requests per
  language, however large the corpus.
"""

from __future__ import annotations

import dataclasses
import math

from ..quality.rater import CONTROL_PAIRS


@dataclasses.dataclass
class Cost:
    """Model requests, tokens and wall time of some part of a run."""

    requests: float = 0
    prompt_tokens: float = 0
    completion_tokens: float = 0
    seconds: float = 0.0

    @classmethod
    def between(cls, before: dict, after: dict, seconds: float) -> Cost:
        """The model's work between two snapshots of a build's engine stats."""
        return cls(
            after["calls"] - before["calls"],
            after["prompt_tokens"] - before["prompt_tokens"],
            after["completion_tokens"] - before["completion_tokens"],
            seconds,
        )

    def _zip(self, other: Cost, op) -> Cost:
        return Cost(
            *(op(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))
        )

    def __add__(self, other: Cost) -> Cost:
        return self._zip(other, lambda a, b: a + b)

    def __sub__(self, other: Cost) -> Cost:
        return self._zip(other, lambda a, b: a - b)

    def times(self, k: float) -> Cost:
        return Cost(*(getattr(self, f.name) * k for f in dataclasses.fields(self)))

    @property
    def tokens(self) -> float:
        return self.prompt_tokens + self.completion_tokens


@dataclasses.dataclass
class Pilot:
    """What a pilot read, kept and cost (builder/pipeline/dry_run.py measures it)."""

    langs: int
    docs: int  # documents read, all languages together
    judged: int  # pairs the rater accepted (the controls draw from these)
    pool: int  # pairs kept before clustering (after select)
    total: Cost  # the model's work, and the run's wall time after loading
    controls: Cost  # the part of `total` spent on the rater's controls
    startup_s: float  # loading the models and encoders
    shard_bytes: int  # work-dir shards, all stages
    cache_bytes: int  # request cache, beyond an empty one
    embedding_bytes: int  # the relevance encoder's store
    export_pair_bytes: float  # the export, per published pair
    export_doc_bytes: float  # the export's `candidates` audit config, per document read

    @property
    def keep_rate(self) -> float:
        return self.pool / self.docs

    def per_document(self) -> Cost:
        return (self.total - self.controls).times(1 / self.docs)

    def per_control(self) -> Cost:
        """One control request; a pilot too small to have any gets an average request's cost."""
        if self.controls.requests:
            return self.controls.times(1 / self.controls.requests)
        return self.total.times(1 / self.total.requests) if self.total.requests else Cost()

    def docs_for_pool(self, pairs_per_lang: int) -> int:
        """Documents per language that yield `pairs_per_lang` pairs before clustering."""
        return math.ceil(pairs_per_lang * self.docs / self.pool)


@dataclasses.dataclass
class Size:
    """One requested size of the full run."""

    title: str
    docs_per_lang: dict[str, int]


@dataclasses.dataclass
class Limits:
    target_size: int  # pairs per language after clustering
    # the serving fleet's prompt + generated tokens/s (the user's assumption)
    tokens_per_s: float | None
    requests_per_s: float  # the pipeline's own ceiling
    requests_note: str  # where that ceiling comes from


@dataclasses.dataclass
class Projection:
    docs: int
    langs: int
    cost: Cost  # seconds: on this machine with this engine, after loading
    pool: float
    published: float
    work_dir: dict[str, float]  # bytes by part
    export_bytes: float


def project(pilot: Pilot, size: Size, target_size: int) -> Projection:
    docs = sum(size.docs_per_lang.values())
    controls = sum(_control_requests(pilot, n) for n in size.docs_per_lang.values())
    cost = pilot.per_document().times(docs) + pilot.per_control().times(controls)
    pool = {lang: pilot.keep_rate * n for lang, n in size.docs_per_lang.items()}
    published = sum(min(target_size, p) for p in pool.values())
    work = {
        "shards": pilot.shard_bytes / pilot.docs * docs,
        "request cache": pilot.cache_bytes / pilot.total.requests * cost.requests
        if pilot.total.requests
        else 0,
        "embeddings": pilot.embedding_bytes / pilot.docs * docs,
    }
    export = pilot.export_pair_bytes * published + pilot.export_doc_bytes * docs
    return Projection(
        docs, len(size.docs_per_lang), cost, sum(pool.values()), published, work, export
    )


def _control_requests(pilot: Pilot, docs: int) -> int:
    """The rater's controls in one language of the full run: as builder/quality/rater.py picks them."""
    judged = math.floor(pilot.judged / pilot.docs * docs)
    return min(CONTROL_PAIRS, judged) if judged >= 2 else 0


def render(pilot: Pilot, size: Size, limits: Limits, where: str) -> list[str]:
    """The lines for one size; `where` names this machine's engine and model."""
    p = project(pilot, size, limits.target_size)
    c = p.cost
    per_lang = sorted(set(size.docs_per_lang.values()))
    docs = (
        f"{per_lang[0]:,} documents per language" if len(per_lang) == 1 else f"{p.docs:,} documents"
    )
    lines = [
        f"{size.title}: {docs} x {p.langs} language(s) = {p.docs:,} documents read",
        f"  model requests: {c.requests:,.0f}",
        f"  tokens:         {c.prompt_tokens:,.0f} prompt + {c.completion_tokens:,.0f} generated = {c.tokens:,.0f}",
        f"  pairs:          ~{p.pool:,.0f} kept before clustering, ~{p.published:,.0f} published "
        f"(--target-size {limits.target_size:,} per language)",
        f"  this machine:   {duration(pilot.startup_s + c.seconds)} with {where} (loading once, then the "
        f"pilot's {pilot.per_document().seconds:.2f} s per document read)",
    ]
    lines += _fleet_lines(c, limits)
    work = sum(p.work_dir.values())
    lines.append(
        f"  disk:           work dir {size_text(work)} ("
        + ", ".join(f"{k} {size_text(v)}" for k, v in p.work_dir.items())
        + f"); export {size_text(p.export_bytes)} plus the card"
    )
    return lines


def _fleet_lines(c: Cost, limits: Limits) -> list[str]:
    pipeline_s = c.requests / limits.requests_per_s
    pipeline = (
        f"  pipeline time:  {duration(pipeline_s)} at {limits.requests_per_s:,.0f} requests/s "
        f"(the pipeline's own ceiling, --pipeline-requests-per-s: {limits.requests_note})"
    )
    if limits.tokens_per_s is None:
        return [
            "  model time:     pass --project-tokens-per-s N (your serving fleet's prompt + generated "
            "tokens/s) to project it",
            pipeline,
        ]
    model_s = c.tokens / limits.tokens_per_s
    binding = "the model" if model_s >= pipeline_s else "the pipeline"
    return [
        f"  model time:     {duration(model_s)} at {limits.tokens_per_s:,.0f} prompt + generated tokens/s "
        "(--project-tokens-per-s: your assumption for the serving fleet, not a measurement)",
        pipeline,
        f"  binds:          {binding} ({duration(max(model_s, pipeline_s))} vs {duration(min(model_s, pipeline_s))}; "
        f"the run takes {duration(max(model_s, pipeline_s))} to {duration(model_s + pipeline_s)}, "
        "as far as the two overlap)",
    ]


def duration(seconds: float) -> str:
    for unit, span in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * span:
            return f"{seconds / span:,.1f} {unit}"
    return f"{seconds:.1f} s"


def size_text(n: float) -> str:
    for unit, span in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= span:
            return f"{n / span:,.1f} {unit}"
    return f"{n:,.0f} B"
