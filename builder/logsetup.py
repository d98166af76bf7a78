"""Credentials never reach a log line, a printed warning or a traceback: one redaction, installed
by every command at its error boundary (builder/errors.py `guard`), whatever module writes.

- Log records are cleaned when they are made (a record factory), not by a filter on our own
  handler: transformers logs through a handler of its own that does not propagate to the root
  logger, and a library may add one after we configured logging; a record made clean is clean
  for every handler, present or later, and for `logging.captureWarnings`.
- Warnings printed by `warnings.showwarning` are cleaned before they are printed.
- A traceback Python prints for an exception nobody caught (`-v` re-raises) is cleaned too.

What is masked is `builder.redact.redact`'s: the environment's secret-looking variables, the
password of --base-url (registered once the config is read), bearer tokens, `user:password@`.
Python code that uses the builder as a library keeps its own logging: nothing here runs on import.
"""

from __future__ import annotations

import logging
import sys
import traceback
import warnings

from .redact import redact

_installed = False


def install_redaction() -> None:
    """Clean every later log record, printed warning and uncaught traceback of this process
    (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def clean_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        clean(record)
        return record

    logging.setLogRecordFactory(clean_record)
    show = warnings.showwarning

    def show_clean(message, category, filename, lineno, file=None, line=None):
        show(redact(str(message)), category, filename, lineno, file, redact(line) if line else line)

    warnings.showwarning = show_clean
    sys.excepthook = _print_clean_traceback


def clean(record: logging.LogRecord) -> None:
    """Mask credentials in the record's message, exception and stack text, in place."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string: logging reports it, with its own text
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text when it is set, so the traceback is rendered once, masked.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def format_exception(err: BaseException) -> str:
    """The traceback Python would print for `err`, without credentials."""
    return redact("".join(traceback.format_exception(err)))


def _print_clean_traceback(kind, err, tb) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, err, tb))))
