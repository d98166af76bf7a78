"""Token counts for a model that runs behind an OpenAI-compatible server.

prepare bounds texts in tokens of the generation model, before any generation request. With
the model on a server, its tokenizer is found in this order:

1. the tokenizer the user named (`--tokenizer`: a Hub id, a local folder or the embedded alias);
2. the server's own `POST /tokenize` (vLLM's server has it at its root, beside `/v1`);
3. the served model name, when it is itself a tokenizer this machine can load (the embedded
   alias, a local folder such as `transformers serve` uses, a Hub id in the local HF cache).

If none works, the build stops before its first request and says to pass `--tokenizer`.
Every way counts content tokens only (no BOS/EOS), as the local engines do.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable

import httpx

from ..errors import one_line
from ..redact import redact, redact_url
from .base import EngineError

logger = logging.getLogger(__name__)

TOKENIZER_HINT = (
    "pass --tokenizer NAME_OR_PATH (the served model's Hub id, a local folder, or smollm2-135m)"
)


def load_tokenizer(name: str):
    """A Hugging Face tokenizer from the embedded alias, a local folder or a Hub id."""
    from transformers import AutoTokenizer

    from .models import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(name))


def load_named_tokenizer(name: str):
    """`load_tokenizer` for a name the user gave: any failure is one line naming it."""
    try:
        return load_tokenizer(name)
    except Exception as exc:  # OSError, ValueError, offline-mode and Hub errors alike
        # The first line only: transformers' later lines give advice that TOKENIZER_HINT replaces.
        reason = one_line(exc, first_only=True)
        raise ValueError(
            f"tokenizer {name!r} could not be loaded ({reason}); {TOKENIZER_HINT}"
        ) from None


def tokenize_url(base_url: str) -> str:
    """vLLM serves `/tokenize` at the server root, not under the API path (`/v1`)."""
    parts = urllib.parse.urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path + "/tokenize", "", ""))


class ServerTokenCounter:
    """Counts tokens with the server's `/tokenize`, one request per text (prepare reads each
    text once; repeats within a build come from the small cache)."""

    def __init__(self, url: str, model: str, headers: Callable[[], dict[str, str]], timeout: float):
        self.url = url
        self.shown_url = redact_url(url)  # for messages: without the base URL's user:password@
        self.model = model
        self._headers = headers  # read per request, like the engine's, so no API key is kept here
        self._client = httpx.Client(timeout=timeout)
        self._cache: dict[str, int] = {}

    def probe(self) -> str | None:
        """None when the endpoint counts for this model, else why not (one phrase).
        Raises EngineError when nothing answers at all: the build could not run anyway. A server
        that is down is a failure of the run, not of the input (exit code 1, as for every
        command: errors.guard), though the message still names --base-url in case it is a typo."""
        try:
            self._count("hello")
        except httpx.TransportError as exc:
            raise EngineError(
                f"cannot reach {self.shown_url} to count tokens "
                f"({type(exc).__name__}: {one_line(exc, first_only=True)}); "
                "start the server there or fix --base-url"
            ) from None
        except _NoTokenize as exc:
            return str(exc)
        return None

    def __call__(self, text: str) -> int:
        if text not in self._cache:
            if len(self._cache) > 4096:
                self._cache.clear()
            try:
                self._cache[text] = self._count(text)
            except (
                httpx.TransportError,
                _NoTokenize,
            ) as exc:  # it answered the probe: the run failed
                raise EngineError(
                    f"{self.shown_url} stopped counting tokens: {one_line(exc, first_only=True)}"
                ) from None
        return self._cache[text]

    def _count(self, text: str) -> int:
        body = {"model": self.model, "prompt": text, "add_special_tokens": False}
        response = self._client.post(self.url, json=body, headers=self._headers())
        if response.status_code != 200:
            said = redact(
                " ".join(response.text[:120].split()), [self._headers().get("Authorization")]
            )
            raise _NoTokenize(f"{self.shown_url} answered HTTP {response.status_code}: {said}")
        try:
            data = response.json()
        except ValueError:
            raise _NoTokenize(f"{self.shown_url} answered with a body that is not JSON") from None
        if isinstance(data, dict) and isinstance(data.get("count"), int):
            return data["count"]
        if isinstance(data, dict) and isinstance(data.get("tokens"), list):
            return len(data["tokens"])
        raise _NoTokenize(f"{self.shown_url} answered JSON without 'count' or 'tokens'")

    def close(self) -> None:
        self._client.close()


class _NoTokenize(Exception):
    """The server answered, but not as a tokenize endpoint for this model."""


def choose_token_counter(engine, tokenizer: str | None) -> tuple[str, object]:
    """How `engine` (an OpenAIEngine) counts tokens: (a description for logs and fingerprints,
    a local tokenizer or a `ServerTokenCounter`). Raises ValueError, in one line, when there is
    no way (EngineError when the server does not answer); nothing is sent to the completion
    endpoints before this returns."""
    if tokenizer is not None:
        loaded = load_named_tokenizer(tokenizer)
        logger.info("Counting tokens with the tokenizer %s (--tokenizer)", tokenizer)
        return f"tokenizer:{tokenizer}", loaded
    server = ServerTokenCounter(
        tokenize_url(engine.base_url), engine.model_id, engine._headers, min(engine.timeout, 30)
    )
    try:
        refusal = server.probe()
    except EngineError:
        server.close()
        raise
    if refusal is None:
        logger.warning(
            "Counting tokens with the server's %s (pass --tokenizer to count locally)",
            server.shown_url,
        )
        # The model is already in prepare's fingerprint; the URL is not, so a server that moves
        # to another port does not redo prepare.
        return "server /tokenize", server
    server.close()
    try:
        loaded = load_tokenizer(engine.model_id)
    except (
        Exception
    ) as exc:  # not a local folder, alias or cached Hub id: fall through to the error
        logger.debug("served model name %r is no local tokenizer: %s", engine.model_id, exc)
    else:
        logger.warning(
            "Counting tokens with the tokenizer of the served model name %s (%s has no /tokenize)",
            engine.model_id,
            redact_url(engine.base_url),
        )
        return f"tokenizer:{engine.model_id}", loaded
    raise ValueError(
        f"cannot count tokens for served model {engine.model_id!r}: the server has no usable /tokenize "
        f"({refusal}) and the model name is not a tokenizer on this machine; {TOKENIZER_HINT}"
    )
