"""`--executor ray`: the model stages as Ray Data `map_batches` over an actor pool of engines.

Each pending shard of a stage is one row of a Ray Dataset; an actor pool (one actor per GPU,
each holding one engine, vLLM where the workers have it) maps one shard per batch and writes
its output shard into the work directory. Ray Data schedules the actors across the cluster,
restarts an actor that dies and retries its batch. A retried batch rewrites the same output
file, so the stage ends with no duplicate and no missing shard.

On more than one node the work directory must be on a file system every node mounts (NFS, a
cluster volume); the request cache is per node (see `shards.worker_cache_path`).

A node that leaves mid-stage (a preempted instance, a node taken back) takes its actors with it.
With a shard in flight there, Ray Data gives up on the whole dataset (ActorUnavailableError in
Ray 2.60): the executor then maps the shards that have no result yet again, on a pool sized to
the nodes left, or stops with one line when no node left can hold an actor (finished shards stay
in the work dir, so the same command resumes). Each actor notes every shard it starts under
`ray-attempts/` in the work dir, so at the end of a stage the driver can say which node was lost
and how many of the shards it had started ran elsewhere.
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
import warnings
from pathlib import Path

from ..config import BuildConfig
from .shards import ShardResult, ShardTask, StageWorker

logger = logging.getLogger(__name__)

# An actor that dies (out of memory, a lost node) is restarted and its batch retried this many
# times; a shard that kills its actor every time then fails the build instead of looping.
MAX_RESTARTS = 4
# After an actor is lost, how long to wait for Ray to mark its node dead (the GCS does so some
# seconds after a raylet goes), so the nodes counted to map the rest are the ones still there.
NODE_LOSS_SETTLE_S = 30


class RayStageWorker:
    """A Ray Data actor: one engine, called with batches of shard tasks."""

    def __init__(self, config: BuildConfig, stage: str, driver_host: str):
        from ..logsetup import install_redaction

        # An actor's process starts with plain logging, and Ray forwards what it logs to the
        # driver's terminal as text, past the driver's masking: mask it here, as a rank does.
        began = time.perf_counter()
        install_redaction()
        self.worker = StageWorker(config, stage, driver_host=driver_host)
        # the engine load: reported with this actor's first shard
        self.start_s = time.perf_counter() - began

    def __call__(self, batch: dict) -> dict:
        columns = {name: list(values) for name, values in batch.items()}
        rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
        results = []
        for row in rows:
            began = time.perf_counter()
            result = self.run(ShardTask.from_row(_plain(row))).to_dict()
            # where the time goes (build_info.json's ray.overhead), beside the result's own model time
            result.update(
                shard_s=time.perf_counter() - began, start_s=self.start_s, returned_at=time.time()
            )
            self.start_s = 0.0
            results.append(result)
        keys = results[0] if results else ShardResult.__dataclass_fields__
        return {key: [r[key] for r in results] for key in keys}

    def run(self, task: ShardTask) -> ShardResult:
        import ray

        node = ray.get_runtime_context().get_node_id()
        attempt = (
            attempts_dir(self.worker.config.work_dir, task.stage)
            / f"{task.lang}-{task.index:05d}.{node}"
        )
        attempt.parent.mkdir(parents=True, exist_ok=True)
        attempt.touch()  # before the work: a node lost mid-shard leaves this behind
        result = self.worker.run(task)
        result.node = node  # build_info counts shards per node
        return result


def attempts_dir(work_dir: str | Path, stage: str) -> Path:
    return Path(work_dir) / "ray-attempts" / stage


def alive_nodes() -> set[str]:
    import ray

    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def retried_elsewhere(folder: Path, results: list[ShardResult], lost: set[str]) -> int:
    """Shards a lost node had started whose result came from another node."""
    done_on = {(r.lang, r.index): r.node for r in results}
    retried = set()
    for attempt in folder.glob("*.*") if folder.is_dir() else ():
        shard, node = attempt.name.split(".", 1)
        lang, index = shard.rsplit("-", 1)
        if node in lost and done_on.get((lang, int(index)), node) != node:
            retried.add(shard)
    return len(retried)


def stage_overhead(wall_s: float, timings: list[dict]) -> dict:
    """Where a stage's wall time went on Ray, from what each actor measured:
    - actor_start_s: engine loads (the longest one is on the stage's path, actors start together);
    - model_s: the model's own time; cache_and_write_s: the rest of each shard's work in its actor
      (the node's request cache, prompts, writing the shard);
    - return_s: results from actor to driver (Ray's object store);
    - scheduling_s: the stage's wall time beyond its busiest actor's start and work: Ray Data's
      planning, handing shards to actors, waiting for actors to be placed."""
    per_actor: dict[str, float] = {}
    for t in timings:
        per_actor[t["worker"]] = per_actor.get(t["worker"], 0.0) + t["start_s"] + t["shard_s"]
    work = sum(t["shard_s"] for t in timings)
    model = sum(t["model_s"] for t in timings)
    return {
        key: round(value, 3)
        for key, value in {
            "wall_s": wall_s,
            "actors_started": sum(1 for t in timings if t["start_s"]),
            "actor_start_s": max((t["start_s"] for t in timings), default=0.0),
            "model_s": model,
            "cache_and_write_s": max(0.0, work - model),
            "return_s": sum(t["return_s"] for t in timings),
            "scheduling_s": max(0.0, wall_s - max(per_actor.values(), default=0.0)),
        }.items()
    }


def _plain(row: dict) -> dict:
    """numpy scalars (how Ray Data hands batches over) to Python values."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}


class RayExecutor:
    name = "ray"

    def __init__(self, config: BuildConfig, worker_cls: type = RayStageWorker):
        try:
            import ray
            import ray.data
        except ImportError as error:
            raise ImportError(
                "--executor ray needs Ray Data: pip install 'x-instruction[ray]' "
                "(on every node of the cluster)"
            ) from error

        self.config = config
        self.worker_cls = worker_cls
        self.started_ray = False
        if not ray.is_initialized():
            start = time.perf_counter()
            # address None: RAY_ADDRESS if set, else a new local cluster on this machine
            ray.init(address=config.ray_address, log_to_driver=False)
            self.started_ray = True
            logger.info("ray: connected in %.1f s", time.perf_counter() - start)
        context = ray.data.DataContext.get_current()
        # the stage's own bar counts rows; Ray's would log every 10 s
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self.gpus_per_actor = (
            config.gpus_per_actor if config.gpus_per_actor is not None else (1 if gpus else 0)
        )
        if config.ray_actors:
            self.actors = config.ray_actors
        elif self.gpus_per_actor:
            self.actors = max(1, int(gpus // self.gpus_per_actor))
        else:
            self.actors = 1  # on CPUs one engine uses every core it is given
        if self.gpus_per_actor and gpus < self.gpus_per_actor * self.actors:
            raise ValueError(
                f"{self.actors} Ray actors with {self.gpus_per_actor} GPU each need "
                f"{self.gpus_per_actor * self.actors} GPUs; the cluster has {gpus}. "
                "Lower --ray-actors or --gpus-per-actor"
            )
        cpus = resources.get("CPU", 1)
        # Each CPU actor takes an equal share of the cores (Ray sets its threads to match).
        self.cpus_per_actor = 1 if self.gpus_per_actor else max(1, int(cpus // self.actors))
        self.nodes = alive_nodes()
        self.losses: dict = {}  # build_info's record of nodes lost: {"lost_nodes": [...], "shards_retried": n}
        self.overhead: dict[str, dict] = {}  # per stage, where its time went (see _time_stage)
        # each stage's results so far: a node may be declared dead only after its stage ended
        self.done: dict[str, list[ShardResult]] = {}

    def run(self, stage: str, tasks: list[ShardTask], bar) -> list[ShardResult]:
        import ray

        if not tasks:
            return []
        attempts = attempts_dir(self.config.work_dir, stage)
        # a previous run's attempts say nothing about this one
        shutil.rmtree(attempts, ignore_errors=True)
        results: list[ShardResult] = []
        self.done[stage] = results
        began, timings = time.perf_counter(), []
        room = self._room()  # after a node was lost, fewer actors than asked for may fit
        if not room:
            lost = ", ".join(sorted(self.nodes - alive_nodes())) or "none"
            raise self._no_room(stage, f"nodes lost: {lost}", len(tasks), len(tasks))
        pending, pool = tasks, ray.data.ActorPoolStrategy(size=min(self.actors, len(tasks), room))
        for round_ in range(MAX_RESTARTS + 1):
            try:
                for result in self._map(stage, pending, pool, timings):
                    results.append(result)
                    bar.set_postfix_str(result.lang)
                    bar.update(result.alive)
                break
            except (
                ray.exceptions.RayActorError,
                ray.exceptions.NodeDiedError,
                ray.exceptions.ObjectLostError,
                ray.exceptions.WorkerCrashedError,
            ) as error:
                # A node (or an actor past its restarts) is gone with a shard in flight, and Ray
                # Data gave up on the whole dataset: map again what has no result yet, on the
                # nodes left (a shard written but not reported reruns from the request cache).
                finished = {(r.lang, r.index) for r in results}
                pending = [t for t in tasks if (t.lang, t.index) not in finished]
                self._settle()
                room = self._room()
                if not room or round_ == MAX_RESTARTS:
                    lost = ", ".join(sorted(self.nodes - alive_nodes())) or "none yet"
                    raise self._no_room(
                        stage,
                        f"{type(error).__name__}; nodes lost: {lost}",
                        len(pending),
                        len(tasks),
                        kept_losing=bool(room),
                    ) from error
                logger.info(
                    "ray: %s in %s; mapping its %d unfinished shard(s) again on the nodes left",
                    type(error).__name__,
                    stage,
                    len(pending),
                )
                # The nodes left may hold fewer actors: start with one and grow to what fits.
                pool = ray.data.ActorPoolStrategy(
                    min_size=1, max_size=max(1, min(room, self.actors, len(pending)))
                )
        self._note_losses()
        self.overhead[stage] = stage_overhead(time.perf_counter() - began, timings)
        return results

    @property
    def report(self) -> dict:
        """build_info.json's `ray` record besides shards per node: nodes lost, and each stage's time."""
        return {**self.losses, "overhead": self.overhead}

    def _map(self, stage: str, tasks: list[ShardTask], pool, timings: list[dict]):
        import ray

        dataset = ray.data.from_items([t.to_row() for t in tasks], override_num_blocks=len(tasks))
        with warnings.catch_warnings():
            # Ray 2.60 deprecates passing max_restarts/max_task_retries this way but offers no
            # named parameter for them yet; its default (-1) would retry a shard that kills its
            # actor forever. The `ray` extra stays below 2.64, which removes this path.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            mapped = dataset.map_batches(
                self.worker_cls,
                batch_size=1,  # one shard per call: the unit of retry and of resume
                compute=pool,
                fn_constructor_kwargs={
                    "config": self.config,
                    "stage": stage,
                    "driver_host": socket.gethostname(),
                },
                num_gpus=self.gpus_per_actor or None,
                num_cpus=self.cpus_per_actor,
                max_restarts=MAX_RESTARTS,
                max_task_retries=MAX_RESTARTS,
            )
        for row in mapped.iter_rows():
            row = _plain(row)
            timing = {key: row.pop(key, 0.0) for key in ("shard_s", "start_s", "returned_at")}
            # both clocks are wall clocks; across hosts their skew adds to this figure
            timing["return_s"] = (
                max(0.0, time.time() - timing.pop("returned_at")) if timing["returned_at"] else 0.0
            )
            timings.append(
                {**timing, "worker": row.get("worker", ""), "model_s": row.get("wall_s", 0.0)}
            )
            yield ShardResult(**row)

    def _no_room(self, stage: str, why: str, pending: int, total: int, kept_losing: bool = False):
        from ..engines.base import EngineError

        return EngineError(
            f"the Ray cluster lost the nodes that ran {stage} ({why}) and "
            f"{'kept losing them' if kept_losing else 'has no node left that can run an engine actor'}: "
            f"finished work is kept ({total - pending} of its {total} shards); add a node "
            "(ray start --address HEAD:PORT) and run the same command again"
        )

    def _settle(self) -> None:
        deadline = time.monotonic() + NODE_LOSS_SETTLE_S
        while self.nodes <= alive_nodes() and time.monotonic() < deadline:
            time.sleep(1)

    def _room(self) -> int:
        """How many engine actors the nodes alive now can hold."""
        import ray

        room = 0
        for node in ray.nodes():
            if node["Alive"]:
                have = node.get("Resources", {})
                room += (
                    int(have.get("GPU", 0) // self.gpus_per_actor)
                    if self.gpus_per_actor
                    else int(have.get("CPU", 0) // self.cpus_per_actor)
                )
        return room

    def _note_losses(self) -> None:
        alive = alive_nodes()
        lost, self.nodes = self.nodes - alive, alive
        if lost:
            retried = sum(
                retried_elsewhere(attempts_dir(self.config.work_dir, stage), results, lost)
                for stage, results in self.done.items()
            )
            logger.warning(
                "ray: lost node %s; %d shard(s) it had started ran again on the nodes left",
                ", ".join(sorted(lost)),
                retried,
            )
            self.losses = {
                "lost_nodes": sorted({*self.losses.get("lost_nodes", []), *lost}),
                "shards_retried": self.losses.get("shards_retried", 0) + retried,
            }

    def close(self) -> None:
        import ray

        shutil.rmtree(Path(self.config.work_dir) / "ray-attempts", ignore_errors=True)
        if self.started_ray:
            ray.shutdown()
