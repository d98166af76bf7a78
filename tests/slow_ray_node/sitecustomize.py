"""Put first on one Ray node's PYTHONPATH (tests/test_ray_cluster.py): every Python process of
that node runs this at start. It makes the node's engine actor hold each shard's result for
X_INSTRUCTION_TEST_HOLD_S seconds after the shard's work, before returning it.

Why: the lost-node test kills the node once its actor has started a shard, and checks that the
shard ran again elsewhere. A shard of two texts can finish within the few milliseconds between
the start being noted and the kill; the hold makes sure the node dies with the shard still
unreturned, on a loaded machine too. Only this test's node runs it; the builder has no such
switch."""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import time

TARGET = "builder.executors.ray_data"
HOLD_S = float(os.environ.get("X_INSTRUCTION_TEST_HOLD_S", "0"))


def _hold(module) -> None:
    actor = module.RayStageWorker
    run = actor.run

    def held_run(self, task):
        result = run(self, task)
        time.sleep(HOLD_S)
        return result

    actor.run = held_run


class _Finder(importlib.abc.MetaPathFinder):
    """Lets the module load as usual, then wraps its actor once it has run."""

    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_hold(module):
            exec_module(module)
            _hold(module)

        loader.exec_module = exec_and_hold
        return spec


if HOLD_S > 0:
    sys.meta_path.insert(0, _Finder())
