"""One redaction for every text that came from a server or may carry credentials.

Error messages from the Hub, an OpenAI-compatible server or a URL the user typed are shown on
the terminal, logged and sometimes written to files; a server may echo the request (headers
and all) in its error. `redact` removes what would let a reader act as the user:

- the values of secret-looking environment variables (OPENAI_API_KEY, HF_TOKEN, ...) and any
  secret passed in, wherever they appear;
- HTTP credentials after their scheme (`Authorization: Bearer ...`, `Basic ...`, `token ...`);
- `user:password@` in URLs, and the password of a URL the user gave (`register_url`) wherever
  it appears on its own.

Commands apply it to every log record, printed warning and error line (builder/logsetup.py).

    >>> redact("bad header Authorization: Bearer sk-123456789", ["sk-123456789"])
    'bad header Authorization: Bearer ***'
    >>> redact("http://me:s3cret@host:8000/v1")
    'http://***@host:8000/v1'
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
from collections.abc import Iterable

MASK = "***"
# Environment variables whose values are credentials (names as the libraries read them).
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD)", re.IGNORECASE)
# Shorter values are too likely to occur in ordinary text ("1", "true") to be replaced.
_MIN_SECRET_LEN = 8
# An HTTP credential after its scheme: `Bearer`/`Basic` as HTTP clients write them, any value; in
# other spellings ("token", "basic") only a value with a digit or a symbol inside it, as every
# credential has: every log line goes through here, and "basic tokenization" or "token counts."
# are words, not credentials.
_BEARER = re.compile(r"(\b(?:Bearer|Basic)\s+)[^\s'\",;}]+")
_BEARER_ANY_CASE = re.compile(
    r"(\b(?:bearer|basic|token)\s+)(?=[^\s'\",;}]*(?:[0-9_~+/=-]|\.[^\s'\",;}]))[^\s'\",;}]+",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]+@")
# A password the user gave is masked at any length a password can sensibly have: unlike an
# environment value, it is known to be a secret. Below this even a masked word would garble logs.
_MIN_REGISTERED_LEN = 4
# Secrets known to this process besides the environment's: passwords of --base-url and the like.
_REGISTERED: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask `value` in every later `redact` of this process."""
    if value and len(value) >= _MIN_REGISTERED_LEN:
        _REGISTERED.add(value)


def register_url(url: str | None) -> None:
    """Mask the password of `url`'s `user:password@` from now on, as typed, decoded, and in the
    Basic-auth form (base64 of user:password) an HTTP client sends and a server may echo."""
    if not url:
        return
    try:
        parts = urllib.parse.urlsplit(url.strip())
        user, password = parts.username, parts.password
    except ValueError:  # not a URL (the config check says so); nothing to take from it
        return
    if not password:
        return
    plain_user, plain_password = urllib.parse.unquote(user or ""), urllib.parse.unquote(password)
    for value in {password, plain_password}:
        register_secret(value)
    # aiohttp encodes Basic credentials as latin-1, httpx as utf-8
    for encoding in ("utf-8", "latin-1"):
        try:
            register_secret(
                base64.b64encode(f"{plain_user}:{plain_password}".encode(encoding)).decode("ascii")
            )
        except UnicodeEncodeError:
            continue


def known_secrets(extra: Iterable[str | None] = ()) -> list[str]:
    """`extra`, the environment's secrets and the registered ones, longest first (so a secret that
    contains another is masked whole)."""
    values = (
        {s for s in extra if s and len(s) >= _MIN_SECRET_LEN} | set(env_secrets()) | _REGISTERED
    )
    return sorted(values, key=len, reverse=True)


def env_secrets() -> list[str]:
    """Values of the environment's secret-looking variables, longest first."""
    values = {
        v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without credentials: `secrets`, the environment's secrets, registered passwords,
    bearer tokens, URL passwords."""
    if not text:
        return text
    for secret in known_secrets(secrets):
        text = text.replace(secret, MASK)
    for pattern in (_BEARER, _BEARER_ANY_CASE):
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return _URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)


def redact_url(url: str | None) -> str | None:
    """A URL fit to record (build_info.json): without `user:password@`."""
    return _URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", url) if url else url
