"""Run `x-instruction build` in this process and record every deprecation our own calls cause.

    python tests/_warned_build.py REPORT.json [--scripted] -- BUILD ARGS...

A fresh process on purpose: transformers logs some deprecations once per process
(`logger.warning_once`), so a test process that met one earlier would hide it here.

A deprecation counts as ours when it is raised with our file as its location, or when the
nearest frame outside the installed libraries is in `builder/` at the moment it is raised (a
`warnings.warn`, or a log record that says "deprecated"): our code made the call that the
library warns about, directly or through another library (`Dataset.sort` handing pyarrow a
deprecated option, for instance). REPORT.json gets the build's exit code and the list of
{kind, category, message, origin, caller}.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import sysconfig
import traceback
import warnings
from pathlib import Path

BUILDER = Path(__file__).resolve().parents[1] / "builder"
LIBRARIES = tuple(
    {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)
CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
# The root logger, and the libraries whose loggers do not pass records up to it.
LOGGERS = ("", "transformers")


def _caller() -> str | None:
    """`file:line` of the nearest frame outside the libraries and this file."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        name = frame.filename
        if not (name.startswith(LIBRARIES) or name.startswith("<") or name == __file__):
            return f"{name}:{frame.lineno}"
    return None


class Recorder(logging.Handler):
    """Collects the deprecations whose origin or caller lies under `ours`."""

    def __init__(self, ours: Path):
        super().__init__(logging.WARNING)
        self.ours = ours
        self.found: list[dict] = []
        # The same record reaches this handler twice when the "transformers" logger still passes
        # records up to the root (transformers turns that off only once it configures itself).
        self._seen: list[logging.LogRecord] = []

    def _is_ours(self, location: str | None) -> bool:
        return location is not None and Path(location.rsplit(":", 1)[0]).resolve().is_relative_to(
            self.ours
        )

    def showwarning(self, message, category, filename, lineno, file=None, line=None):
        caller, origin = _caller(), f"{filename}:{lineno}"
        if issubclass(category, CATEGORIES) and (self._is_ours(caller) or self._is_ours(origin)):
            self.found.append(
                {
                    "kind": "warning",
                    "category": category.__name__,
                    "message": str(message),
                    "origin": origin,
                    "caller": caller,
                }
            )

    def emit(self, record):
        if any(record is seen for seen in self._seen):
            return
        self._seen.append(record)
        caller = _caller()
        if "deprecat" in record.getMessage().lower() and self._is_ours(caller):
            self.found.append(
                {
                    "kind": "log",
                    "category": record.name,
                    "message": record.getMessage(),
                    "origin": f"{record.pathname}:{record.lineno}",
                    "caller": caller,
                }
            )


@contextlib.contextmanager
def recording(ours: Path = BUILDER):
    """Every warning shown (none filtered out) and deprecation log records, kept if they are ours."""
    recorder = Recorder(ours)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    for logger in loggers:
        logger.addHandler(recorder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = recorder.showwarning
            yield recorder
    finally:
        for logger in loggers:
            logger.removeHandler(recorder)


def _scripted_engines():
    """Every model replaced by the tests' scripted writer and judge (as tests/_cli_build.py does)."""
    from _scripted_engine import ScriptedEngine
    from helpers.pipeline import writer_and_judge

    import builder.pipeline.runner

    builder.pipeline.loaded_models.create_engine = lambda *a, **kw: ScriptedEngine(writer_and_judge)


def main(argv: list[str]) -> int:
    split = argv.index("--")
    report, options, build_args = Path(argv[0]), argv[1:split], argv[split + 1 :]
    with recording() as recorder:
        import builder
        from builder.cli import main as cli

        if Path(builder.__file__).resolve().parent != BUILDER:  # else nothing could count as ours
            raise SystemExit(
                f"imported {builder.__file__}, not the checkout's {BUILDER}: set PYTHONPATH"
            )
        if "--scripted" in options:
            _scripted_engines()
        code = cli(build_args)
    report.write_text(
        json.dumps({"code": code, "found": recorder.found}, indent=1), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
