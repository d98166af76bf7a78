"""One redaction for every text that came from a server or may carry credentials.

Error messages from the Hub, an OpenAI-compatible server or a URL the user typed are shown on
the terminal, logged and sometimes written to files; a server may echo the request (headers
and all) in its error. `redact` removes what would let a reader act as the user:

- the values of secret-looking environment variables (OPENAI_API_KEY, HF_TOKEN, ...) and any
  secret passed in, wherever they appear;
- `Authorization: Bearer ...` / `Bearer ...` credentials, whatever their value;
- `user:password@` in URLs.

    >>> redact("bad header Authorization: Bearer sk-123456789", ["sk-123456789"])
    'bad header Authorization: Bearer ***'
    >>> redact("http://me:s3cret@host:8000/v1")
    'http://***@host:8000/v1'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

MASK = "***"
# Environment variables whose values are credentials (names as the libraries read them).
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD)", re.IGNORECASE)
# Shorter values are too likely to occur in ordinary text ("1", "true") to be replaced.
_MIN_SECRET_LEN = 8
_BEARER = re.compile(r"(\b(?:Bearer|Basic|Token)\s+)[^\s'\",;}]+", re.IGNORECASE)
_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]+@")


def env_secrets() -> list[str]:
    """Values of the environment's secret-looking variables, longest first."""
    values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without credentials: `secrets`, the environment's secrets, bearer tokens, URL passwords."""
    if not text:
        return text
    known = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LEN} | set(env_secrets()), key=len,
                   reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)


def redact_url(url: str | None) -> str | None:
    """A URL fit to record (build_info.json): without `user:password@`."""
    return _URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", url) if url else url
