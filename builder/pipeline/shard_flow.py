"""The shard stages as a flow: each shard moves on to its next stage as soon as its own upstream
shard is written, not when the whole upstream stage is. prepare feeds the flow shard by shard
(builder/pipeline/prepare_loop.py), so the server gets its first requests once the first shard is
prepared rather than after the whole corpus; between two prepared shards the driver hands
finished shards on. A killed build leaves prepare unmarked, and the rerun prepares that language
again, to the same shards (its dedup is deterministic), and keeps every later shard it finds.

With a barrier per stage, a remote server sits idle through each stage's tail (its last shards
waiting for their slowest replies) and while the driver ranks; here the model stages' shards
share one pool of lanes (the local executor's `open_lanes`), so refine's requests start while the
last generate shards still wait. What is written does not change: each stage writes the same
shard files under the same fingerprints (StageDir) and skips those a previous run wrote, and a
driver stage (rank) maps its shards in the driver in the barrier's order (language by language,
shard by shard), so the encoder sees the same texts in the same batches. A language whose shards
have all passed the last stage can hand on more model work (`after_language`: the rater's
controls), which joins the same lanes when the shards left are too few to fill the server alone:
then it fills their tails.

Used where the executor maps shards on lanes (the local executor on a remote engine); a local
engine and the distributed executors keep the stage-by-stage path (shard_stages.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from tqdm.auto import tqdm

from ..core.workdir import StageDir, read_shard_table, shard_alive_rows
from ..executors import ShardResult, ShardTask
from ..stages.base import apply_stage_to_table
from ..stages.plan import EXECUTOR, StageSpec

# How often held work checks the engine for room (seconds).
POLL_S = 0.05

# after_language(lang, its last stage's shards): the tasks (each with the rows it works on) that
# may start once every shard of `lang` has passed the last shard stage
AfterLanguage = Callable[[str, list[Path]], list[tuple[ShardTask, int]]]


class _Flow:
    def __init__(self, mapped, work, langs, fps, make, submit, spare, after_language, bars):
        self.mapped, self.langs, self.fps, self.make, self.submit = mapped, langs, fps, make, submit
        self.names = {s.name for s in mapped}
        self.after_language = after_language
        # What a language hands on is held while the engine has more requests to send than it
        # may have in flight (`spare`): the server is full without it then, and released when the
        # shards left cannot fill it, it fills their tails (the last language's own work can
        # only start after them). One task a time, checked every POLL_S.
        self.held: list[tuple[ShardTask, int]] = []
        self.spare = spare
        self.dirs = {
            (k, lang): StageDir(work, lang, s.name, fps[lang][s.name], s.output_features)
            for k, s in enumerate(mapped)
            for lang in langs
        }
        for stage in self.dirs.values():
            stage.sweep()  # before any lane writes this stage's shards
        # Prepared shards join as they are written (`add`), in the barrier's order: language by
        # language, shard by shard.
        self.shards: list[tuple[str, int]] = []
        self.prepared: dict[str, list[Path]] = {lang: [] for lang in langs}
        self.position: dict[tuple[str, int], int] = {}  # the next stage each shard needs
        self.cursor = {k: 0 for k, s in enumerate(mapped) if s.runs_on != EXECUTOR}
        self.left = dict.fromkeys(langs, 0)  # shards added and not yet through every stage
        self.fed: set[str] = set()  # languages whose last prepared shard has been added
        self.worked: set[str] = set()  # languages with a shard mapped in this run
        self.made: dict = {}  # a driver stage's object per language, made when first needed
        self.pending: dict[Future, tuple] = {}
        self.results: dict[str, list[ShardResult]] = {}
        self.spans: dict[str, list[float]] = {}  # a model stage's [first handed on, last done]
        self.seconds: dict[str, float] = {}  # a driver stage's time mapping its shards
        self.bars = bars  # by stage, opened when a shard first reaches it

    def source(self, k: int, lang: str, i: int) -> Path:
        return self.prepared[lang][i] if k == 0 else self.dirs[k - 1, lang].shard(i)

    def bar(self, stage: str) -> tqdm:
        """A model stage's bar (the stage-by-stage path's), its total growing as shards reach it."""
        if stage not in self.bars:
            desc, unit = (
                (stage, "row") if stage in self.names else (stage.replace("_", " "), "pair")
            )
            self.bars[stage] = tqdm(total=0, desc=desc, unit=unit, position=len(self.bars))
        return self.bars[stage]

    def _grow(self, bar: tqdm, rows: int, done: bool) -> None:
        bar.total += rows
        if done:
            bar.update(rows)
        bar.refresh()

    def _span(self, name: str, start: float, end: float) -> None:
        span = self.spans.setdefault(name, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)

    def advance(self, shard: tuple[str, int]) -> None:
        """Move `shard` past the stages whose shard is in the work dir; hand the first one that is
        not to the lanes (a model stage) or leave it to the driver's cursor (a driver stage)."""
        lang, i = shard
        while self.position[shard] < len(self.mapped):
            k = self.position[shard]
            spec = self.mapped[k]
            if spec.runs_on != EXECUTOR:
                if self.dirs[k, lang].has(i):
                    self.position[shard] += 1
                    continue
                return  # mapped by `drive`, in the barrier's order
            alive = shard_alive_rows(self.source(k, lang, i), spec.input_features)
            if self.dirs[k, lang].has(i):
                self._grow(self.bar(spec.name), alive, done=True)
                self.position[shard] += 1
                continue
            self._grow(self.bar(spec.name), alive, done=False)
            task = ShardTask(
                spec.name, lang, self.fps[lang][spec.name], i, str(self.source(k, lang, i))
            )
            self.pending[self.submit(task)] = (spec.name, shard, time.perf_counter())
            self.worked.add(lang)
            return
        self.left[lang] -= 1
        self._language_through(lang)

    def add(self, lang: str, path: Path) -> None:
        """A prepared shard of `lang`, the next in its order, joins the flow."""
        shard = (lang, len(self.prepared[lang]))
        self.prepared[lang].append(path)
        self.shards.append(shard)
        self.position[shard] = 0
        self.left[lang] += 1
        self.advance(shard)

    def all_added(self, lang: str) -> None:
        """`lang` has no more prepared shards."""
        self.fed.add(lang)
        self._language_through(lang)

    def _language_through(self, lang: str) -> None:
        """Hand on `lang`'s work after its shards (once: no shard joins after `all_added`)."""
        if lang in self.fed and not self.left[lang] and lang in self.worked:
            if self.after_language:
                last = len(self.mapped) - 1
                shards = [self.dirs[last, lang].shard(i) for i in range(len(self.prepared[lang]))]
                self.held.extend(self.after_language(lang, shards))

    def release(self) -> None:
        """Hand one held task on when its engine has room (or no shard is left to wait for)."""
        if not self.held:
            return
        task, rows = self.held[0]
        room = self.spare(task.stage)
        if room is None or room > 0 or not any(s for _, s, _ in self.pending.values()):
            self.held.pop(0)
            self._grow(self.bar(task.stage), rows, done=False)
            self.pending[self.submit(task)] = (task.stage, None, time.perf_counter())

    def drive(self) -> None:
        """Each driver stage maps, in order, the shards that have reached it."""
        for k, at in self.cursor.items():
            spec = self.mapped[k]
            while at < len(self.shards):
                shard = self.shards[at]
                if self.position[shard] < k:
                    break  # this shard is not there yet: the ones after it wait, in order
                if self.position[shard] == k:
                    lang, i = shard
                    start = time.perf_counter()
                    if (k, lang) not in self.made:
                        self.made[k, lang] = self.make(spec, lang)
                    table = read_shard_table(self.source(k, lang, i), spec.input_features)
                    self.dirs[k, lang].write(i, apply_stage_to_table(table, self.made[k, lang]))
                    seconds = time.perf_counter() - start
                    self.seconds[spec.name] = self.seconds.get(spec.name, 0.0) + seconds
                    self.worked.add(lang)
                    self.position[shard] += 1
                    self.advance(shard)
                at += 1
            self.cursor[k] = at

    def run(self, feed: Iterator[tuple[str, Path | None]]) -> float:
        """Map every shard `feed` yields, (lang, path) for each prepared shard in order and
        (lang, None) after a language's last, and all the work after them. Returns the seconds
        spent drawing on `feed` (prepare's time): between two prepared shards the driver hands
        finished shards on, so the lanes keep the server busy while prepare runs."""
        preparing = 0.0
        feeding = True
        while feeding or self.pending or self.held:
            timeout = POLL_S if self.held else None  # held work waits for room, not a shard
            if feeding:
                start = time.perf_counter()
                item = next(feed, None)
                preparing += time.perf_counter() - start
                if item is None:
                    feeding = False
                elif item[1] is None:
                    self.all_added(item[0])
                else:
                    self.add(*item)
                timeout = 0.0  # take what is done, then prepare the next shard
            self.drive()
            self.release()
            if not self.pending:  # (release hands held work on when nothing else is pending)
                continue
            done, _ = wait(list(self.pending), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: self.pending[f][2]):
                stage, shard, start = self.pending.pop(future)
                result = future.result()  # a failed shard stops the flow here
                self._span(stage, start, time.perf_counter())
                self.results.setdefault(stage, []).append(result)
                self.bars[stage].update(result.alive)
                if shard is not None:
                    self.position[shard] += 1
                    self.advance(shard)
            self.drive()
            self.release()
        return preparing


def flow_shard_stages(
    source: str,
    prepare: Callable[[str], Iterable[Path]],
    mapped: list[StageSpec],
    work: Path,
    langs: list[str],
    fps: dict,
    executor,
    models,
    make: Callable[[StageSpec, str], object],
    lanes: int,
    after_language: AfterLanguage | None = None,
    spent: Callable[[str, float], None] | None = None,
    prepared_all: Callable[[], None] | None = None,
) -> dict[str, dict[str, list[Path]]]:
    """Every stage of `mapped` over every shard `prepare(lang)` yields (the source stage, named
    `source`), each shard as soon as its upstream one is written (`make(spec, lang)`: a driver
    stage's object). Returns each stage's output shards by stage name and language, the source's
    included, as the stage-by-stage path does; `spent(name, seconds)` gets each stage's time (a
    model stage's: from its first shard handed on to its last done); `prepared_all()` is called
    once the last language is prepared (prepare's worker processes can stop then)."""

    def feed() -> Iterator[tuple[str, Path | None]]:
        for lang in langs:
            for path in prepare(lang):
                yield lang, path
            yield lang, None
        if prepared_all:
            prepared_all()

    bars: dict[str, tqdm] = {}
    try:
        with executor.open_lanes(lanes) as submit:
            flow = _Flow(
                mapped, work, langs, fps, make, submit, executor.spare, after_language, bars
            )
            preparing = flow.run(feed())
    finally:
        # after the lanes are shut down (their shards' own bars closed), as the stage-by-stage
        # path does: a failure's one-line error then starts a clean line
        for bar in bars.values():
            bar.close()
    order = {lang: n for n, lang in enumerate(langs)}
    for results in flow.results.values():
        models.record(sorted(results, key=lambda r: (order[r.lang], r.index)))
    if spent:  # every shard stage in the plan's order (0 where no shard needed it), as the
        # stage-by-stage path times them, then the work handed on after a language (the controls)
        spent(source, preparing)
        for name in [s.name for s in mapped] + [n for n in flow.spans if n not in flow.names]:
            start, end = flow.spans.get(name, (0.0, flow.seconds.get(name, 0.0)))
            spent(name, end - start)
    prepared = flow.prepared
    outputs = {source: prepared} | {
        s.name: {
            lang: [flow.dirs[k, lang].shard(i) for i in range(len(prepared[lang]))]
            for lang in langs
        }
        for k, s in enumerate(mapped)
    }
    missing = [
        str(p) for stage in outputs.values() for ps in stage.values() for p in ps if not p.is_file()
    ]
    if missing:  # a flow that ends without every shard written is a bug, not a resume point
        raise RuntimeError(f"the shard stages finished without writing {missing[:3]}")
    return outputs
