"""A Ray engine actor that dies once, the way an out-of-memory kill or a lost node ends one."""

from __future__ import annotations

import os
from pathlib import Path

from builder.executors.ray_data import RayStageWorker

CRASH_MARKER = "crashed-once"


class CrashOnceWorker(RayStageWorker):
    """Exits its process (no exception, no cleanup) the first time it is given shard 1 of the
    generate stage; the marker file in the work dir makes the retry run normally."""

    def run(self, task):
        marker = Path(self.worker.config.work_dir) / CRASH_MARKER
        if task.stage == "generate" and task.index == 1 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return super().run(task)
