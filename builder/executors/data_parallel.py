"""`--data-parallel N`: one engine process per GPU of this machine, each over contiguous shards.

vLLM's offline `LLM(data_parallel_size>1)` refuses to run in one process, and one process per
device is the plain way to use a multi-GPU node without a cluster. Rank r sees only GPU r
(`CUDA_VISIBLE_DEVICES`), loads its own engine once for the build, and maps a contiguous run
of each stage's pending shards; the ranks share the work directory and the request cache. On
a CPU the ranks split the cores between them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue as queue_module
import traceback

from ..config import BuildConfig
from ..engines.base import EngineError
from .shards import ShardResult, ShardTask, StageWorker, engine_options

logger = logging.getLogger(__name__)


def contiguous_chunks(tasks: list[ShardTask], n: int) -> list[list[ShardTask]]:
    """Split `tasks` into at most n runs of consecutive tasks, sizes differing by at most one."""
    size, extra = divmod(len(tasks), n)
    chunks, start = [], 0
    for rank in range(n):
        end = start + size + (1 if rank < extra else 0)
        if end > start:
            chunks.append(tasks[start:end])
        start = end
    return chunks


def _rank_main(rank: int, config: BuildConfig, threads: int | None, inbox, results) -> None:
    """A rank's process. It lives for the whole build: each message is one stage's shards for
    this rank, and the engine stays loaded from one stage to the next when both use the same
    model (the default), so the model is loaded once per rank, not once per stage."""
    from ..engines import create_engine
    from ..logsetup import install_redaction
    from ..stages.plan import stage_model

    install_redaction()  # a spawned process starts with plain logging: mask its lines as the driver's are
    engines = {}
    try:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        while (message := inbox.get()) is not None:
            stage, tasks = message
            model = stage_model(config, stage)
            if model not in engines:
                for engine in engines.values():  # one model in memory at a time
                    engine.close()
                engines = {model: create_engine(config.engine, model, **engine_options(config))}
            worker = StageWorker(config, stage, engine=engines[model])
            for task in tasks:
                results.put(("done", rank, worker.run(task).to_dict()))
            worker.close()
            results.put(("finished", rank, None))
    except BaseException:  # the driver re-raises it with the rank's traceback
        results.put(("error", rank, traceback.format_exc()))


@contextlib.contextmanager
def _environ(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def rank_device(rank: int, visible: str | None) -> str:
    """The CUDA_VISIBLE_DEVICES of a rank: the rank-th device the driver may use (all of the
    machine's, or those the user listed, e.g. "4,5,6,7" gives rank 1 device 5)."""
    if not visible:
        return str(rank)
    devices = [d.strip() for d in visible.split(",") if d.strip()]
    return devices[rank]


def cpu_threads_per_worker(workers: int) -> int:
    """On a CPU, N engine processes share the cores: give each its part, not all of them."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _visible_gpus() -> int:
    # Counted without initialising CUDA in the driver (the ranks are spawned, not forked).
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # no torch CUDA build: CPU ranks
        return 0


class DataParallelExecutor:
    name = "data-parallel"

    def __init__(self, config: BuildConfig):
        self.config = config
        self.ranks = config.data_parallel
        self.gpus = _visible_gpus()
        if 0 < self.gpus < self.ranks:
            raise ValueError(
                f"--data-parallel {self.ranks} needs {self.ranks} GPUs, but {self.gpus} are visible; "
                f"pass --data-parallel {self.gpus} (or set CUDA_VISIBLE_DEVICES)"
            )
        self.procs: list = []
        self.inboxes: list = []
        self.results = None

    def _start(self) -> None:
        """Spawn the ranks on first use (a resumed build with nothing left to do spawns none)."""
        import multiprocessing

        if self.procs:
            return
        # a forked child would inherit the driver's torch state
        ctx = multiprocessing.get_context("spawn")
        self.results = ctx.Queue()
        threads = None if self.gpus else cpu_threads_per_worker(self.ranks)
        for rank in range(self.ranks):
            inbox = ctx.Queue()
            env = (
                {"CUDA_VISIBLE_DEVICES": rank_device(rank, os.environ.get("CUDA_VISIBLE_DEVICES"))}
                if self.gpus
                else {}
            )
            with _environ(**env):
                proc = ctx.Process(
                    target=_rank_main,
                    args=(rank, self.config, threads, inbox, self.results),
                    name=f"x-instruction-rank{rank}",
                    daemon=True,
                )
                proc.start()
            self.procs.append(proc)
            self.inboxes.append(inbox)

    def run(self, stage: str, tasks: list[ShardTask], bar) -> list[ShardResult]:
        chunks = contiguous_chunks(tasks, self.ranks)
        if not chunks:
            return []
        self._start()
        for rank, chunk in enumerate(chunks):
            self.inboxes[rank].put((stage, chunk))
        return self._collect(stage, list(range(len(chunks))), bar)

    def _collect(self, stage: str, active: list[int], bar) -> list[ShardResult]:
        """Results as they come; a failed rank does not stop the others, whose shards are kept
        for the rerun, and its error is raised once every active rank has ended the stage."""
        done, ended, errors = [], set(), []
        while len(ended) < len(active):
            try:
                kind, rank, payload = self.results.get(timeout=1.0)
            except queue_module.Empty:
                for rank in active:  # killed (out of memory, a signal) before it could report
                    if rank not in ended and self.procs[rank].exitcode is not None:
                        ended.add(rank)
                        errors.append(
                            f"rank {rank} died with exit code {self.procs[rank].exitcode}"
                        )
                continue
            if kind == "done":
                result = ShardResult(**payload)
                done.append(result)
                bar.set_postfix_str(result.lang)
                bar.update(result.alive)
            else:
                ended.add(rank)
                if kind == "error":
                    errors.append(f"rank {rank} failed:\n{payload}")
        if errors:
            raise EngineError(
                f"{stage}: a data-parallel rank failed; the shards finished so far are kept, "
                "rerun the same command to resume. " + "\n".join(errors)
            )
        return done

    def close(self) -> None:
        for inbox, proc in zip(self.inboxes, self.procs):
            if proc.is_alive():
                inbox.put(None)
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for q in [*self.inboxes, self.results]:
            if q is not None:
                q.close()
                q.join_thread()
        self.procs, self.inboxes, self.results = [], [], None
