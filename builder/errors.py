"""How every command of the project reports a failure (x-instruction build/push/eval, the training
scripts): an error a user can act on becomes one line naming the file, URL or option involved,
with exit code 2 for bad input or settings and 1 for a failure of the run's environment (disk,
network, a server). `-v` re-raises, so Python prints the traceback. An error of any other class is
a bug: its traceback is printed, followed by a line asking for a report. No credential reaches
stderr on any of these paths (builder/logsetup.py: `guard` installs the redaction for the command).

The mapping lives here, once; entry points call `guard(...)`.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import sqlite3
import sys
import zlib
from collections.abc import Callable

BAD_INPUT = 2
RUNTIME = 1
INTERRUPTED = 130

REPORT_HINT = (
    "This is a bug in x-instruction, not in your input. Please report it with the command you ran "
    "and the traceback above (run with -v for debug logs)."
)


class EngineError(RuntimeError):
    """A generation backend failed in a way the caller should report, not retry (defined here,
    below the engines, so that the exit-code policy knows it; builder.engines re-exports it)."""


@dataclasses.dataclass
class Failure:
    code: int
    message: str
    hint: str = ""


def one_line(text: str | BaseException, first_only: bool = False) -> str:
    """Library messages (transformers', datasets') span several lines; a report is one: the lines
    joined, or with `first_only` the first line alone, for a message that our own hint follows
    (transformers' later lines give advice of their own). An exception without a message reads
    as its class name."""
    line = str(text).strip()
    line = line.splitlines()[0] if first_only and line else " ".join(line.split())
    if not line and isinstance(text, BaseException):
        return type(text).__name__
    return line


def _loaded(module: str, name: str) -> type | None:
    """A class of a library only if that library is already imported: if it is not, the error
    cannot be one of its classes, and importing it here would cost seconds."""
    return getattr(sys.modules.get(module), name, None)


def _is(err: BaseException, *classes: type | None) -> bool:
    return any(c is not None and isinstance(err, c) for c in classes)


def _os_message(err: OSError) -> str:
    if err.filename is None:  # e.g. a write to an open file: the caller's message must name it
        return err.strerror or one_line(str(err))
    where = f"{err.filename}" + (f" -> {err.filename2}" if err.filename2 else "")
    return f"{err.strerror or one_line(str(err))}: {where}"


def _network(err: BaseException) -> Failure:
    request = getattr(err, "_request", None)  # httpx sets it; the property raises when unset
    url = f" ({request.method} {request.url})" if request is not None else ""
    hint = (
        "HF_HUB_OFFLINE is set, so nothing is fetched from the Hub: unset it, or use a local copy"
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        else "check the network connection and the address, then run the same command again"
    )
    return Failure(RUNTIME, f"network error{url}: {one_line(err)}", hint)


def _corrupt_archive(err: BaseException) -> bool:
    import gzip
    import lzma

    return isinstance(err, (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError))


def _os_error(err: OSError) -> Failure:
    if err.errno == errno.ENOSPC:
        return Failure(
            RUNTIME,
            _os_message(err),
            "free space on that disk (or choose another folder), "
            "then run the same command again: finished work is kept",
        )
    if err.errno == errno.EIO:  # e.g. SQLite's "disk I/O error", which a full disk gives too
        return Failure(
            RUNTIME,
            _os_message(err),
            "check that disk (is it full?), free space if it is, then run "
            "the same command again: finished work is kept",
        )
    if err.errno == errno.EROFS:
        return Failure(RUNTIME, _os_message(err), "choose a folder on a writable file system")
    if isinstance(err, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return Failure(BAD_INPUT, _os_message(err))
    return Failure(RUNTIME, _os_message(err))


def failure_for(err: BaseException) -> Failure | None:
    """The report for a known error class, or None for an unexpected one (a bug)."""
    if isinstance(err, KeyboardInterrupt):
        return Failure(
            INTERRUPTED,
            "interrupted",
            "finished work is kept; run the same command again to resume",
        )
    if isinstance(err, KeyError):  # str(KeyError) is the repr of its key
        return Failure(BAD_INPUT, one_line(err.args[0] if err.args else "missing key"))
    if isinstance(err, ValueError):
        return Failure(BAD_INPUT, one_line(err))
    if _is(err, _loaded("yaml", "YAMLError")):
        return Failure(BAD_INPUT, f"not valid YAML: {one_line(str(err))}")
    if isinstance(err, ImportError):
        return _import_error(err)
    if isinstance(err, EngineError):
        return Failure(RUNTIME, one_line(str(err)))
    if _corrupt_archive(err):
        return Failure(
            BAD_INPUT,
            f"a compressed file is truncated or corrupt ({type(err).__name__}: "
            f"{one_line(str(err))})",
            "run with -v to see which file",
        )
    if isinstance(err, ConnectionError) or _is(
        err, _loaded("httpx", "HTTPError"), _loaded("httpx2", "HTTPError")
    ):
        return _network(err)
    if isinstance(err, OSError):
        return _os_error(err)
    if isinstance(err, sqlite3.Error):
        return Failure(RUNTIME, f"SQLite database error: {one_line(str(err))}")
    if isinstance(err, MemoryError) or _is(err, _loaded("torch", "OutOfMemoryError")):
        return Failure(
            RUNTIME,
            f"out of memory ({type(err).__name__})",
            "lower --batch-size, or use a smaller model",
        )
    return None


def _import_error(err: ImportError) -> Failure:
    message = one_line(str(err))
    if (
        isinstance(err, ModuleNotFoundError)
        and err.name
        and message == f"No module named '{err.name}'"
    ):
        package = err.name.split(".")[0]
        return Failure(
            BAD_INPUT,
            f"this needs the optional package {package!r}, which is not installed",
            f"install it (pip install {package}) and run the same command again",
        )
    return Failure(BAD_INPUT, message)


def report(prog: str, failure: Failure) -> None:
    from .redact import redact

    # An exception's text may quote a URL with its password or a server's echo of our headers.
    print(f"{prog}: error: {redact(failure.message)}", file=sys.stderr)
    if failure.hint:
        print(redact(failure.hint), file=sys.stderr)


def guard(
    prog: str,
    run: Callable[[], int | None],
    *,
    verbose: bool = False,
    hints: dict[type, str] | None = None,
) -> int:
    """Run a command's body and turn what it raises into an exit code and a report on stderr.
    `hints` adds a command's own advice to an error class (build: how to resume after EngineError).
    Every log line, warning and traceback of the command is masked from here on (logsetup.py)."""
    from .logsetup import format_exception, install_redaction

    install_redaction()
    try:
        return run() or 0
    except BrokenPipeError:
        # The reader of our output went away (`x-instruction languages --all | head`): nothing to
        # report; point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return RUNTIME
    except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001 - this is the top-level boundary
        if verbose:
            raise
        failure = failure_for(err)
        if failure is None:
            sys.stderr.write(format_exception(err))
            print(f"{prog}: internal error ({type(err).__name__}). {REPORT_HINT}", file=sys.stderr)
            return RUNTIME
        for cls, hint in (hints or {}).items():
            if isinstance(err, cls):
                failure.hint = hint
        report(prog, failure)
        return failure.code
