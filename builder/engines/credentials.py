"""Where the openai engine's credentials go, checked before anything is sent.

A request carries at most one credential: the API key (`$OPENAI_API_KEY`, as `Authorization:
Bearer`) or the `user:password@` of the base URL (HTTP clients turn it into `Authorization:
Basic`). Both at once is refused when the settings are read, naming both, instead of failing at
the first completion request with the HTTP library's own words.

Either credential sent over plain `http://` to another machine can be read by anyone on the way:
that gets one warning per process, logged before the first request. Loopback (127.0.0.0/8, ::1,
localhost) is this machine, so a local server or an SSH tunnel gets none.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import urllib.parse

from ..redact import redact_url, register_url

logger = logging.getLogger(__name__)

_warned = False
_warn_lock = threading.Lock()


def url_credentials(url: str) -> bool:
    """Whether `url` carries `user:password@` (or just `user@`)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        return parts.username is not None or parts.password is not None
    except ValueError:
        return False


def check_credentials(url: str | None, url_flag: str, key_env: str = "OPENAI_API_KEY") -> None:
    """Register the URL's password for redaction; refuse a URL with credentials while the key is
    set too (ValueError, a bad setting: exit code 2)."""
    if not url:
        return
    register_url(url)
    if url_credentials(url) and os.environ.get(key_env):
        raise ValueError(
            f"{url_flag} {redact_url(url.strip())} carries a user:password and {key_env} is set too, but a request "
            f"sends only one credential: remove the user:password@ from {url_flag}, or unset {key_env}"
        )


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or localhost: a connection that never leaves this machine."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def plain_http_host(url: str) -> str | None:
    """The host of a plain `http://` URL that is not this machine, else None."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() != "http" or is_loopback(host):
        return None
    return host


def warn_plain_http(host: str, what: str) -> None:
    """Warn, once per process, that `what` (a credential) is about to go to `host` unencrypted."""
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    logger.warning(
        "%s is sent over plain http:// to %s, which is not this machine: anyone on the network path "
        "can read it. Use an https:// URL, or reach the server through 127.0.0.1 (e.g. an SSH tunnel)",
        what,
        host,
    )
