"""`--executor ray`: the model stages as Ray Data `map_batches` over an actor pool of engines.

Each pending shard of a stage is one row of a Ray Dataset; an actor pool (one actor per GPU,
each holding one engine, vLLM where the workers have it) maps one shard per batch and writes
its output shard into the work directory. Ray Data schedules the actors across the cluster,
restarts an actor that dies and retries its batch. A retried batch rewrites the same output
file, so the stage ends with no duplicate and no missing shard.

On more than one node the work directory must be on a file system every node mounts (NFS, a
cluster volume); the request cache is per node (see `shards.worker_cache_path`).
"""

from __future__ import annotations

import logging
import socket
import time
import warnings

from ..config import BuildConfig
from .shards import ShardResult, ShardTask, StageWorker

logger = logging.getLogger(__name__)

# An actor that dies (out of memory, a lost node) is restarted and its batch retried this many
# times; a shard that kills its actor every time then fails the build instead of looping.
MAX_RESTARTS = 4


class RayStageWorker:
    """A Ray Data actor: one engine, called with batches of shard tasks."""

    def __init__(self, config: BuildConfig, stage: str, driver_host: str):
        self.worker = StageWorker(config, stage, driver_host=driver_host)

    def __call__(self, batch: dict) -> dict:
        columns = {name: list(values) for name, values in batch.items()}
        rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
        results = [self.run(ShardTask.from_row(_plain(row))).to_dict() for row in rows]
        return {key: [r[key] for r in results] for key in ShardResult.__dataclass_fields__}

    def run(self, task: ShardTask) -> ShardResult:
        import ray

        result = self.worker.run(task)
        result.node = ray.get_runtime_context().get_node_id()  # build_info counts shards per node
        return result


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
            raise ImportError("--executor ray needs Ray Data: pip install 'x-instruction[ray]' "
                              "(on every node of the cluster)") from error

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
        context.enable_progress_bars = False  # the stage's own bar counts rows; Ray's would log every 10 s
        context.print_on_execution_start = False
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self.gpus_per_actor = config.gpus_per_actor if config.gpus_per_actor is not None else (1 if gpus else 0)
        if config.ray_actors:
            self.actors = config.ray_actors
        elif self.gpus_per_actor:
            self.actors = max(1, int(gpus // self.gpus_per_actor))
        else:
            self.actors = 1  # on CPUs one engine uses every core it is given
        if self.gpus_per_actor and gpus < self.gpus_per_actor * self.actors:
            raise ValueError(f"{self.actors} Ray actors with {self.gpus_per_actor} GPU each need "
                             f"{self.gpus_per_actor * self.actors} GPUs; the cluster has {gpus}. "
                             "Lower --ray-actors or --gpus-per-actor")
        cpus = resources.get("CPU", 1)
        # Each CPU actor takes an equal share of the cores (Ray sets its threads to match).
        self.cpus_per_actor = 1 if self.gpus_per_actor else max(1, int(cpus // self.actors))

    def run(self, stage: str, tasks: list[ShardTask], bar) -> list[ShardResult]:
        import ray

        if not tasks:
            return []
        dataset = ray.data.from_items([t.to_row() for t in tasks], override_num_blocks=len(tasks))
        with warnings.catch_warnings():
            # Ray 2.60 deprecates passing max_restarts/max_task_retries this way but offers no
            # named parameter for them yet; its default (-1) would retry a shard that kills its
            # actor forever. The `ray` extra stays below 2.64, which removes this path.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            mapped = dataset.map_batches(
                self.worker_cls,
                batch_size=1,  # one shard per call: the unit of retry and of resume
                compute=ray.data.ActorPoolStrategy(size=min(self.actors, len(tasks))),
                fn_constructor_kwargs={"config": self.config, "stage": stage, "driver_host": socket.gethostname()},
                num_gpus=self.gpus_per_actor or None,
                num_cpus=self.cpus_per_actor,
                max_restarts=MAX_RESTARTS,
                max_task_retries=MAX_RESTARTS,
            )
        results = []
        for row in mapped.iter_rows():
            result = ShardResult(**_plain(row))
            results.append(result)
            bar.set_postfix_str(result.lang)
            bar.update(result.alive)
        return results

    def close(self) -> None:
        import ray

        if self.started_ray:
            ray.shutdown()
