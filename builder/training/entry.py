"""The entry point of the training scripts: parse (TRL's parser: flags and `--config` YAML), run,
and report bad input in one line, as `x-instruction` does (builder/cli/__init__.py main)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from ..errors import guard

VERBOSE_FLAGS = ("-v", "--verbose")


def run_script(
    prog: str, main: Callable, make_parser: Callable, argv: list[str] | None = None
) -> int:
    """`main(*parsed dataclasses)`; an error becomes `<script>: error: <message>` with exit code 2
    for bad data, names or options and 1 for a failure of the environment (builder/errors.py).
    `-v`/`--verbose` logs debug messages and shows the traceback instead."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(arg in VERBOSE_FLAGS for arg in argv)
    argv = [arg for arg in argv if arg not in VERBOSE_FLAGS]  # not a flag TRL's parser knows
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Our own info lines (skipped languages, the resolved model folder) are worth seeing by default.
    logging.getLogger("builder").setLevel(logging.DEBUG if verbose else logging.INFO)

    def body() -> int:
        finished = False
        try:
            # its trainer is for Python callers, not an exit code
            main(*make_parser().parse_args_and_config(args=argv))
            finished = True
        finally:
            _end_process_group(wait_for_peers=finished)
        return 0

    return guard(prog, body, verbose=verbose)


def _end_process_group(wait_for_peers: bool) -> None:
    """Under `accelerate launch`/`torchrun`, leave the process group before the interpreter exits,
    as torch.distributed asks: a gloo group torn down at exit instead can abort a rank
    ("terminate called without an active exception") after training finished. After a run that
    finished, every rank first waits for the others: a rank that destroys its group while a peer
    is still inside its last collective closes that peer's connections under it, which aborted
    the peer the same way. After an error there is no barrier (the peers may never reach it)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if wait_for_peers:
            dist.barrier()
        dist.destroy_process_group()
