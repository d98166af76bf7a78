"""The engines a build loads, and what they cost."""

from __future__ import annotations

from ..config import BuildConfig
from ..engines import create_engine
from ..engines.base import Engine, EngineStats
from ..engines.cache import CachedModel, RequestCache
from ..executors import ShardResult, distributed
from ..executors.shards import engine_options
from ..stages.plan import stage_model


class Models:
    """The engines a build needs, each loaded once and shared by every language, and what they
    cost: the executor's `ShardResult`s plus the driver's own calls through these engines.

    With a distributed executor the workers load the models, and the driver's engines are
    stand-ins with the same identity and tokenizer (`load_weights=False`)."""

    def __init__(
        self, config: BuildConfig, cache: RequestCache, engines: dict[str, Engine] | None = None
    ):
        """`engines` maps a model name to an engine that is already loaded (reused instead of
        loading that model again, e.g. across several builds in one process)."""
        options = engine_options(config)
        load_weights = not distributed(config)
        engines = dict(engines or {})

        def load(name: str) -> Engine:
            if name not in engines:
                engines[name] = create_engine(
                    config.engine, name, load_weights=load_weights, **options
                )
            return engines[name]

        self.engines = engines
        self.cache = cache
        chunk = config.batch_size * 4
        # The driver's own calls (a preloaded engine may have served earlier builds: counting
        # through these, not the engines' totals, reports only this build's work).
        self.generator = CachedModel(load(stage_model(config, "generate")), cache, chunk_size=chunk)
        self.evaluator = CachedModel(load(stage_model(config, "refine")), cache, chunk_size=chunk)
        # Before any request: prepare bounds texts in the generator's tokens, and an engine on a
        # server must first find a way to count them (None: the engine holds its tokenizer).
        self.token_counts = self.generator.engine.prepare_token_counts(config.tokenizer)
        self.shard_stats = EngineStats()  # what the executor's shards cost, wherever they ran
        self.shard_hits = 0
        self.shard_nodes: dict[str, int] = {}  # Ray node id -> shards it mapped (empty outside Ray)

    def engine(self, stage: str) -> Engine:
        """The driver's engine of a model stage (the local executor runs the stage on it)."""
        return self.model(stage).engine

    def model(self, stage: str) -> CachedModel:
        """The driver's cached model of a model stage."""
        return self.generator if stage == "generate" else self.evaluator

    def count_tokens(self, text: str) -> int:
        return self.generator.engine.count_tokens(text)

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        return self.generator.engine.count_tokens_many(texts)

    def record(self, results: list[ShardResult]) -> None:
        self.shard_stats += sum((r.stats for r in results), EngineStats())
        self.shard_hits += sum(r.cache_hits for r in results)
        for r in results:
            if r.node:
                self.shard_nodes[r.node] = self.shard_nodes.get(r.node, 0) + 1

    def stats(self) -> dict:
        total = self.generator.stats + self.evaluator.stats + self.shard_stats
        return {
            **total.to_dict(),
            "cache_hits": self.generator.hits + self.evaluator.hits + self.shard_hits,
        }
