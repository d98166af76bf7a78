"""One build per work dir: a lock file, `{work_dir}/.x-instruction.lock`, held for the whole build.

Two builds on one work dir would both pay for every model request and race on its shards and
request cache. So `build()` takes the lock right after its preflight checks and keeps it until
the export is written; a second build stops at once with one line naming the holder (PID and
host) and what to do.

How it is held: the driver opens the file and takes an exclusive `flock` on it for as long as
the build runs, and writes who holds it (PID, host, start time) into it. The kernel drops a
`flock` when its process dies, however it dies, so a build killed with SIGKILL leaves a lock
that the next build takes over (with a warning naming the dead holder); a PID reused since
cannot make a dead lock look alive. On a file system where `flock` does not reach other
machines (some NFS set-ups), the recorded host stops a build on another machine from taking a
lock whose holder it cannot check: it is told to delete the file if that build is gone. On
release the file is emptied, not deleted: deleting it would let a process that opened the old
file and one that creates a new one both hold "the" lock.

Only the driver takes the lock. Data-parallel ranks (builder/executors/data_parallel.py) and Ray
actors run shard tasks for the driver's build and never call `build()`, so they are not
"another build". `--dry-run` runs its pilot in a temporary folder of its own and takes no lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from ..core.workdir import pid_alive

try:
    import fcntl
except ImportError:  # not on Windows: there the recorded PID alone decides
    fcntl = None

logger = logging.getLogger(__name__)

LOCK_FILE = ".x-instruction.lock"


class WorkDirBusyError(BlockingIOError):
    """Another build holds the work dir. An OSError of the environment (exit 1, builder/errors.py):
    the command is right, and the same command succeeds once the other build ends."""

    def __init__(self, message: str):
        super().__init__(errno.EAGAIN, message)


@dataclasses.dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started: str = "?"

    def describe(self) -> str:
        return f"PID {self.pid} on host {self.host}, since {self.started}"


def _me() -> Holder:
    return Holder(
        os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat(timespec="seconds")
    )


def _read(fd: int) -> Holder | None:
    """Who the file says holds it; None when it is empty (free) or not ours to parse."""
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
        return Holder(int(data["pid"]), str(data["host"]), str(data.get("started", "?")))
    except (ValueError, KeyError, TypeError):
        return None


def _busy(
    path: Path, holder: Holder | None, work_dir: Path, unsure: bool = False
) -> WorkDirBusyError:
    """`unsure`: the holder cannot be checked from here (another host, or no flock), so the user
    may have to clear a dead one by hand; otherwise it is known to run."""
    who = holder.describe() if holder else "a process that has not written its PID yet"
    clear = f" (if that build is no longer running, delete {path})" if unsure else ""
    return WorkDirBusyError(
        f"--work-dir {work_dir} is in use by another build ({who}); wait for it to finish and run the same "
        f"command again, or pass another --work-dir{clear}"
    )


LOCKED, BUSY, NO_FLOCK = "locked", "busy", "no flock"


def _try_flock(fd: int) -> str:
    if fcntl is None:
        return NO_FLOCK
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return BUSY
    except OSError as err:  # a file system without flock: the recorded PID decides instead
        if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            return NO_FLOCK
        raise
    return LOCKED


def _open_locked(path: Path) -> tuple[int, str]:
    """Open the lock file and try to flock it; retried if the file was replaced meanwhile."""
    for _ in range(5):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        state = _try_flock(fd)
        # The path must still name the file we locked (someone may have deleted it by hand).
        with contextlib.suppress(FileNotFoundError):
            if state == BUSY or os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd, state
        os.close(fd)
        time.sleep(0.05)
    raise WorkDirBusyError(
        f"{path}: the lock file keeps being replaced; is another build starting on the same "
        "--work-dir? Wait for it or pass another --work-dir"
    )


def acquire(work_dir: str | Path) -> int:
    """Take the work dir's lock; return the open file that holds it (pass it to `release`)."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / LOCK_FILE
    fd, state = _open_locked(path)
    try:
        holder = _read(fd)
        if state == BUSY:
            # A live process holds it (the kernel frees the flocks of dead ones). Its PID is in
            # the file, unless it has only just opened it.
            if holder is None:
                time.sleep(0.2)
                holder = _read(fd)
            raise _busy(path, holder, work_dir)
        me = _me()
        if holder is not None:
            if holder.host != me.host:
                # A flock taken on another machine may not be visible here: whether that build runs is unknown.
                raise _busy(path, holder, work_dir, unsure=True)
            # With flock the kernel has answered (free = its holder is dead, even if its PID was reused);
            # without it, the recorded PID decides.
            if state == NO_FLOCK and (holder.pid == me.pid or pid_alive(holder.pid)):
                raise _busy(path, holder, work_dir, unsure=True)
            logger.warning(
                "%s: taking over the lock of a build that is no longer running (%s)",
                path,
                holder.describe(),
            )
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(dataclasses.asdict(me)) + "\n").encode())
        os.fsync(fd)
        return fd
    except BaseException:
        os.close(fd)  # drops the flock, if taken
        raise


def release(fd: int) -> None:
    """Empty the lock file (a free lock) and close it, which drops the flock."""
    # a vanished or read-only work dir must not hide the build's result
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)


@contextlib.contextmanager
def hold_work_dir(work_dir: str | Path):
    """`with hold_work_dir(config.work_dir):` the build; see the module docstring. A work dir this
    call created is removed again when the build left nothing in it but the lock (it failed at
    start, e.g. on a corpus with no file for a language): a refused command leaves no trace."""
    work_dir = Path(work_dir)
    created = not work_dir.exists()
    fd = acquire(work_dir)
    try:
        yield
    finally:
        if created:
            _remove_if_only_the_lock(work_dir)  # still holding the flock: no other build is inside
        release(fd)


def _remove_if_only_the_lock(work_dir: Path) -> None:
    with contextlib.suppress(OSError):
        if [p.name for p in work_dir.iterdir()] == [LOCK_FILE]:
            (work_dir / LOCK_FILE).unlink()
            work_dir.rmdir()
