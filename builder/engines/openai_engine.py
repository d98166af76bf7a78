"""Any OpenAI-compatible server: vLLM's server, TGI, `transformers serve`, the OpenAI API.

Chat prompts go to `/chat/completions`, raw text to `/completions`. Requests run concurrently
(at most `concurrency` in flight) through one aiohttp session that lives, with its event loop,
in a background thread for the engine's whole life (builder/engines/loop_thread.py), so
connections are kept from one `generate()` call to the next; from code that is already async,
`await engine.agenerate(...)` instead. aiohttp, not httpx: against benchmarks/stub_server.py,
httpx's client cost ~1.8 ms of CPU per request and this engine's aiohttp session ~0.25 ms.
A forked or unpickled engine opens its own session on first use.

Failures a server recovers from (429, 5xx, timeouts, dropped connections) are retried with
exponential backoff and jitter, honouring `Retry-After`; everything else (a bad request, an
unknown model, a missing key, a reply that is not the JSON the API promises) raises
`EngineError` at once with the server's own message. Every attempt has a hard deadline, so a
silent server costs at most `timeout` seconds per attempt, never a hang. A server never reached
(its host name does not resolve, or nothing listens on its port) raises `ServerUnreachable`
on the first attempt: retrying cannot make it appear.

The API key is read from the environment variable `api_key_env` when a call starts and only
ever placed in the Authorization header; it is not stored on the engine, logged or repr'd. A base
URL with `user:password@` and the key together are refused at construction, and a credential
about to go over plain http:// to another machine is warned about once (credentials.py).

Servers differ; the engine evens out what the pipeline relies on:
* `n` samples: a server that ignores `n` (transformers serve) answers with one choice; the
  missing samples are asked for one by one with distinct seeds.
* stop strings: some servers keep the stop string in the text; it is cut off here.
* pre-filled replies: some servers cannot continue an assistant turn; with a tokenizer the
  engine renders such a conversation itself and sends the text to /completions.
* seeds: each request's seed is derived from (seed, prompt), as in the local engines.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
import weakref
from typing import Any

import aiohttp
from tqdm.auto import tqdm

from ..redact import redact, redact_url
from .base import Completion, Engine, EngineError, Prompt, PromptTooLongError, SamplingParams
from .credentials import check_credentials, plain_http_host, url_credentials, warn_plain_http
from .loop_thread import LoopThread
from .prompt_tokens import (
    continues_reply,
    count_text_tokens,
    count_text_tokens_many,
    cut_at_stop,
    encode_prompts,
    render_prompt,
    request_seed,
)

logger = logging.getLogger(__name__)

# Loop threads and sessions a forked child inherited: kept referenced so the child never frees
# them (see OpenAIEngine._connection).
_FORK_ORPHANS: list = []

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Requests in flight by default. A build passes none and sends a stage's prompts 64 at a time
# (--batch-size 16 x 4), so this lets a whole chunk be in flight: with 8, a server with real
# latency and room for 64 sequences served 8 at a time (benchmarks/bench_peers.py). A rate-limited
# API answers the excess with 429, which is retried with its Retry-After.
DEFAULT_CONCURRENCY = 64
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
# Phrases servers use when a prompt does not fit (vLLM, OpenAI, TGI, llama.cpp).
_TOO_LONG_HINTS = (
    "context length",
    "maximum model length",
    "too long",
    "max_model_len",
    "context_length_exceeded",
)


class ServerUnreachable(EngineError):
    """The server was never reached and retrying cannot help: its host name does not resolve,
    or nothing listens on its port. Raised on the first attempt, without retries."""

    def __init__(self, url: str, reason: str):
        super().__init__(
            f"cannot reach {redact_url(url)}: {reason}. Start the server there, or point base_url= "
            "(or $OPENAI_BASE_URL) at the one that serves the model"
        )
        self.url = url
        self.reason = reason


def _unhealable(exc: BaseException) -> str | None:
    """Why a connection failure cannot heal by retrying, or None if it might.

    Before a server has answered once, a refused connection means nothing listens there and a
    name that does not resolve means no such host (offline, or a typo); retrying only adds
    minutes of backoff. Refusals after a first answer may be a restart, so those are retried."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, socket.gaierror):
            return f"the host name does not resolve ({exc.strerror or exc})"
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused (nothing listens on that port)"
        # aiohttp keeps the socket's own error in `os_error`
        exc = getattr(exc, "os_error", None) or exc.__cause__ or exc.__context__
    return None


class _Retryable(Exception):
    """One attempt failed in a way that a later attempt may not."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def normalize_base_url(url: str) -> str:
    """`http://host:port` means `http://host:port/v1`; a URL with a path is taken as given."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(
            f"base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, got {url!r}"
        )
    path = parsed.path.rstrip("/") or "/v1"
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))


class _Session:
    """The engine's aiohttp session, made on first use on the engine's loop thread (a session
    belongs to the loop it was made on). It holds nothing of the engine, so the engine can be
    garbage-collected (and its finalizer close this) while the loop thread still runs."""

    def __init__(self, base_url: str, concurrency: int):
        self.concurrency = concurrency
        # The environment's proxy for the server (HTTP(S)_PROXY, NO_PROXY), looked up once:
        # aiohttp's `trust_env` would look it up (and ~/.netrc) in a worker thread per request.
        self.proxy = _env_proxy(base_url)
        self.session: aiohttp.ClientSession | None = None
        # Requests in flight over all calls on this engine (made on the loop, like the session).
        # Taken before a request's deadline starts, so with the connector's pool of the same size
        # no request spends its timeout waiting for a connection another call holds.
        self.in_flight: asyncio.Semaphore | None = None

    def get(self) -> aiohttp.ClientSession:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=self.concurrency, ssl=_ssl_context())
            self.session = aiohttp.ClientSession(
                connector=connector,
                proxy=self.proxy,
                # No deadline of aiohttp's own: each attempt runs under `asyncio.timeout` (see
                # `_attempt`), which covers the connection, the request and the whole reply. A
                # second one here armed another timer on every request for nothing (~0.03 ms of
                # CPU a request on the instant stub).
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self.in_flight = asyncio.Semaphore(self.concurrency)
        return self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


class _Reply:
    """The parts of an HTTP reply the engine reads, kept after the connection is released."""

    def __init__(self, status: int, reason: str | None, headers, body: bytes):
        self.status_code = status
        self.reason_phrase = reason or ""
        self.headers = headers  # case-insensitive
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        revision: str | None = None,
        tokenizer=None,
        max_model_len: int | None = None,
        progress: bool = True,
        extra_body: dict[str, Any] | None = None,
    ):
        """`model` is the name the server serves. `base_url` defaults to $OPENAI_BASE_URL,
        then the OpenAI API. `tokenizer` (an HF tokenizer or a name/path to load one) with
        `max_model_len` lets the engine count tokens, check prompt lengths before sending
        and honour `truncate_prompt="left"`; without them the server's own limit applies.
        `extra_body` is merged into every request (server-specific options)."""
        super().__init__(model, revision)
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise ValueError("concurrency must be >= 1, max_retries >= 0 and timeout > 0")
        self.base_url = normalize_base_url(
            base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        )
        self.api_key_env = api_key_env
        check_credentials(self.base_url, "base_url (or $OPENAI_BASE_URL)", api_key_env)
        # Set when a credential sent there would cross the network unencrypted (see _headers).
        self._plain_http_host = plain_http_host(self.base_url)
        self._url_credentials = url_credentials(self.base_url)
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.progress = progress
        self.extra_body = dict(extra_body or {})
        if isinstance(tokenizer, str):
            from .served_tokens import load_named_tokenizer

            tokenizer = load_named_tokenizer(tokenizer)
        self.tokenizer = tokenizer
        self._count = None  # set by prepare_token_counts() when counting goes through the server
        self.max_model_len = max_model_len
        # Learned from the first reply with fewer choices than asked: later prompts skip the
        # multi-sample request and go straight to one request per sample.
        self._server_ignores_n = False
        # Set by the first HTTP reply of any status: from then on a refused connection may be
        # a restart and is retried; before it, it fails at once (see `_unhealable`).
        self._reached = False
        # Requests asked of this engine and not answered yet, over all callers (changed on its
        # loop thread only): below `concurrency`, the engine has room for more work.
        self.wanted = 0
        self._loop: LoopThread | None = None  # with its session, made on the first request
        self._session: _Session | None = None
        self._finalizer: weakref.finalize | None = None
        self._connecting = threading.Lock()

    def _connection(self) -> tuple[LoopThread, _Session]:
        """The loop thread and session, made on first use and again after a fork or `close()`.
        A lock: two threads calling a fresh engine at once must not each start a loop."""
        with self._connecting:
            if self._loop is None or not self._loop.alive():
                if self._loop is not None and self._loop.pid != os.getpid():
                    # Inherited through fork: never let the child free the parent's session. Its
                    # connector would close the pooled sockets, and that unregisters them from the
                    # epoll set parent and child share, so the parent's replies would stop arriving.
                    _FORK_ORPHANS.append((self._loop, self._session, self._finalizer))
                elif self._finalizer is not None:
                    self._finalizer()
                self._session = _Session(self.base_url, self.concurrency)
                self._loop = LoopThread("openai-engine", on_close=self._session.close)
                # Closes the session when the engine is garbage-collected or the interpreter exits.
                self._finalizer = weakref.finalize(self, self._loop.close)
            return self._loop, self._session

    def close(self) -> None:
        """Close the HTTP session and stop its loop thread; a later call opens new ones."""
        if self._finalizer is not None:
            self._finalizer()
        self._loop = self._session = self._finalizer = None

    def __getstate__(self) -> dict:
        # A pickled engine (sent to another process) opens its own connection there.
        return {
            **self.__dict__,
            "_loop": None,
            "_session": None,
            "_finalizer": None,
            "_connecting": None,
        }

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _connecting=threading.Lock())

    def __repr__(self) -> str:  # the key is never part of it: it is not even stored
        return (
            f"OpenAIEngine(model={self.model_id!r}, base_url={redact_url(self.base_url)!r}, "
            f"concurrency={self.concurrency})"
        )

    def count_tokens(self, text: str) -> int:
        if self._count is not None:
            return self._count(text)
        if self.tokenizer is None:
            raise NotImplementedError(
                "the openai engine counts tokens with a local tokenizer or the server's /tokenize: pass "
                "tokenizer='<the served model's Hub id or folder>' or call prepare_token_counts() first"
            )
        return count_text_tokens(self.tokenizer, text)

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        # the server's /tokenize: one text a request
        if self._count is not None or self.tokenizer is None:
            return [self.count_tokens(text) for text in texts]
        return count_text_tokens_many(self.tokenizer, texts)

    def prepare_token_counts(self, tokenizer: str | None = None) -> str:
        """Choose how `count_tokens` counts (builder/engines/served_tokens.py): `tokenizer`, else
        an explicit `tokenizer=` of the constructor, else the server's /tokenize, else the served
        model name. A tokenizer found here also counts replies that come without `usage`."""
        from .served_tokens import ServerTokenCounter, choose_token_counter

        if tokenizer is None and self.tokenizer is not None:
            self._count = None
            return f"tokenizer:{getattr(self.tokenizer, 'name_or_path', '') or type(self.tokenizer).__name__}"
        how, counter = choose_token_counter(self, tokenizer)
        if isinstance(counter, ServerTokenCounter):
            self._count = counter
        else:
            self.tokenizer, self._count = counter, None
        return how

    # ----- prompt checks -----

    def _fit_prompts(
        self, prompts: list[Prompt], params: SamplingParams
    ) -> tuple[list[Prompt], list[bool]]:
        """Check (and, with truncate_prompt='left', cut) prompts locally when a tokenizer allows."""
        if self.tokenizer is None or self.max_model_len is None:
            if params.truncate_prompt == "left":
                raise ValueError(
                    "truncate_prompt='left' with the openai engine needs the served model's tokenizer "
                    "and context length: pass tokenizer=... and max_model_len=..."
                )
            return [self._render_prefilled(p) for p in prompts], [False] * len(prompts)
        encoded, truncated = encode_prompts(
            self.tokenizer, prompts, params, self.max_model_len, self.model_id
        )
        fitted = []
        for prompt, ids, cut in zip(prompts, encoded, truncated):
            # A cut prompt is sent as the raw text of its kept tokens (chat template included),
            # so it goes to /completions and the server does not template it a second time.
            fitted.append(self.tokenizer.decode(ids) if cut else self._render_prefilled(prompt))
        return fitted, truncated

    def _render_prefilled(self, prompt: Prompt) -> Prompt:
        """A conversation that continues the assistant's turn ("Score:"), rendered here when the
        engine holds the tokenizer, and then sent as text to /completions: not every server can
        continue a turn (`transformers serve` answers 422 to `continue_final_message`), and the
        rendered text is what the local engines feed the model. Without a tokenizer it goes to
        /chat/completions with `continue_final_message` (vLLM's server honours it)."""
        if self.tokenizer is not None and continues_reply(prompt):
            return render_prompt(self.tokenizer, prompt, self.model_id)
        return prompt

    # ----- requests -----

    def _headers(self) -> dict[str, str]:
        """The headers of every request (the completions and /tokenize): the last step before one
        is sent, so the plain-http warning comes before the first."""
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if self._plain_http_host and (key or self._url_credentials):
            what = (
                f"the API key in ${self.api_key_env}"
                if key
                else "the user:password of the base URL"
            )
            warn_plain_http(self._plain_http_host, what)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _body(
        self, prompt: Prompt, params: SamplingParams, n: int, seed: int | None
    ) -> tuple[str, dict]:
        body: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if n > 1:
            body["n"] = n
        if seed is not None:
            body["seed"] = seed % (2**31)  # some servers reject seeds beyond int32
        if params.stop:
            body["stop"] = list(params.stop)
        body.update(self.extra_body)
        if isinstance(prompt, str):
            return "/completions", {**body, "prompt": prompt}
        if continues_reply(prompt):
            # Continue the pre-filled assistant turn instead of starting a new one (vLLM's and
            # transformers' chat endpoints read these; servers without them answer anew).
            body = {**body, "continue_final_message": True, "add_generation_prompt": False}
        return "/chat/completions", {**body, "messages": prompt}

    async def _post(self, session: aiohttp.ClientSession, path: str, body: dict) -> dict:
        """One request with retries; returns the parsed JSON reply."""
        url = self.base_url + path
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in range(self.max_retries + 1):
            try:
                return await self._attempt(session, url, payload)
            except _Retryable as exc:
                if attempt == self.max_retries:
                    raise EngineError(
                        f"{redact_url(url)} failed after {attempt + 1} attempts; last error: {exc}. Is the server "
                        "running and reachable? Set base_url= (or $OPENAI_BASE_URL) and check its logs"
                    ) from None
                delay = min(self.max_backoff, self.backoff * 2**attempt) * (
                    0.5 + random.random() / 2
                )
                if exc.retry_after is not None:
                    delay = min(self.max_backoff, max(delay, exc.retry_after))
                logger.warning(
                    "%s: %s; retry %d/%d in %.1f s",
                    redact_url(url),
                    exc,
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _attempt(self, session: aiohttp.ClientSession, url: str, payload: bytes) -> dict:
        try:
            # The overall deadline covers a server that trickles bytes, and the connection set-up.
            async with asyncio.timeout(self.timeout):
                # No redirects followed: a POST redirected is a misconfigured URL (as with httpx).
                async with session.post(
                    url, data=payload, headers=self._headers(), allow_redirects=False
                ) as reply:
                    response = _Reply(reply.status, reply.reason, reply.headers, await reply.read())
        except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
            raise _Retryable(f"no complete reply within timeout={self.timeout} s") from None
        except (aiohttp.ClientError, OSError) as exc:  # refused, reset, DNS, a reply cut short
            reason = None if self._reached else _unhealable(exc)
            if reason:
                raise ServerUnreachable(url, reason) from None
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        self._reached = True
        if response.status_code in RETRY_STATUS or response.status_code >= 500:
            raise _Retryable(
                f"HTTP {response.status_code}: {self._server_text(_error_message(response))}",
                _retry_after(response),
            )
        if response.status_code >= 400:
            raise self._client_error(url, response)
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise EngineError(
                f"{redact_url(url)} answered HTTP {response.status_code} with a body that is not JSON "
                f"({self._server_text(response.text[:200])!r}); is base_url an OpenAI-compatible API?"
            ) from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("choices"), list)
            or not data["choices"]
        ):
            raise EngineError(
                f"{redact_url(url)} answered JSON without a 'choices' list: "
                f"{self._server_text(str(data)[:200])}"
            )
        return data

    def _server_text(self, text: str) -> str:
        """A server's words without credentials: a server may echo the request, headers and all."""
        return redact(text, [os.environ.get(self.api_key_env)])

    def _client_error(self, url: str, response: _Reply) -> EngineError:
        message = self._server_text(_error_message(response))
        status = response.status_code
        if status in (401, 403):
            return EngineError(
                f"{redact_url(url)} refused the request (HTTP {status}: {message}); put the API key in "
                f"${self.api_key_env} (it is read from the environment only)"
            )
        if status == 404:
            return EngineError(
                f"{redact_url(url)} answered 404 ({message}): check that the server serves model "
                f"{self.model_id!r} and that base_url ends with the API root (e.g. /v1)"
            )
        if any(hint in message.lower() for hint in _TOO_LONG_HINTS):
            return PromptTooLongError(
                f"the server rejected a prompt as too long for {self.model_id!r}: {message}. Shorten "
                "it, or pass tokenizer= and max_model_len= with truncate_prompt='left'"
            )
        return EngineError(f"{redact_url(url)} rejected the request (HTTP {status}): {message}")

    # ----- one prompt, all its samples -----

    async def _complete(
        self,
        session: aiohttp.ClientSession,
        limit: asyncio.Semaphore,
        prompt: Prompt,
        params: SamplingParams,
    ) -> tuple[list[str], list[str], int, int]:
        seed = None if params.greedy else request_seed(params.seed, prompt)
        choices, prompt_tokens, completion_tokens = [], 0, 0
        while len(choices) < params.n:
            k = len(choices)
            async with limit:
                # Decided once a slot is free, so prompts that waited learn from earlier replies.
                # A sample asked for alone (k > 0) gets its own seed so the samples differ.
                want_n = 1 if k > 0 or self._server_ignores_n else params.n
                path, body = self._body(prompt, params, want_n, None if seed is None else seed + k)
                data = await self._post(session, path, body)
            got = data["choices"][: params.n - k]
            if want_n > 1 and len(data["choices"]) < want_n:
                if not self._server_ignores_n:
                    logger.warning(
                        "%s ignores n=%d; asking for each sample separately",
                        redact_url(self.base_url),
                        want_n,
                    )
                self._server_ignores_n = True
            choices.extend(got)
            usage = data.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or prompt_tokens)
            completion_tokens += int(usage.get("completion_tokens") or 0)
        texts, reasons = [], []
        for choice in choices:
            text = _choice_text(choice)
            text, stopped = cut_at_stop(text, params.stop)
            texts.append(text)
            reasons.append("stop" if stopped else (choice.get("finish_reason") or "stop"))
        return texts, reasons, prompt_tokens, completion_tokens

    async def agenerate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        """`generate` for code that already runs an event loop; updates `stats` the same way.
        (Prompt shapes are checked by the server here, not locally as `generate` does.)"""
        if not prompts:
            return []
        start = time.perf_counter()
        loop, session = self._connection()
        # Runs on the engine's loop (where its session lives); the caller's loop is not blocked.
        completions = await loop.arun(
            self._agenerate(session, prompts, params, f"generate ({self.name})")
        )
        self.stats.add(completions, time.perf_counter() - start)
        return completions

    async def _agenerate(
        self, session: _Session, prompts: list[Prompt], params: SamplingParams, desc: str | None
    ) -> list[Completion]:
        # `desc` is read on the caller's thread: this runs on the engine's loop thread. None: no bar.
        fitted, truncated = self._fit_prompts(prompts, params)
        bar = tqdm(
            total=len(prompts),
            desc=desc,
            unit="prompt",
            disable=desc is None or not self.progress or len(prompts) < 2,
            leave=False,
        )
        client = session.get()
        limit = session.in_flight

        async def one(prompt: Prompt):
            try:
                result = await self._complete(client, limit, prompt, params)
            finally:
                self.wanted -= 1
            bar.update(1)
            return result

        self.wanted += len(fitted)
        tasks = [asyncio.ensure_future(one(p)) for p in fitted]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            # One prompt failed for good (or the caller gave up): stop the others instead of
            # waiting on them.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            bar.close()
        completions = []
        for prompt, cut, (texts, reasons, prompt_tokens, completion_tokens) in zip(
            prompts, truncated, results
        ):
            if not prompt_tokens and not completion_tokens and self.tokenizer is not None:
                # The server sent no `usage`: count locally so throughput figures stay right.
                prompt_tokens = self.count_tokens(
                    render_prompt(self.tokenizer, prompt, self.model_id)
                )
                completion_tokens = sum(self.count_tokens(t) for t in texts)
            completions.append(
                Completion(texts, reasons, prompt_tokens, completion_tokens, truncated=cut)
            )
        return completions

    def _generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        loop, session = self._connection()
        desc = self.progress_desc if self.progress_shown else None
        return loop.run(self._agenerate(session, prompts, params, desc))


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """A TLS context with certifi's CA bundle (as httpx and requests verify), built once per
    process: loading the bundle costs ~20 ms, and every engine (a judge, a generator) needs it."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _env_proxy(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _choice_text(choice: dict) -> str:
    if "message" in choice:  # chat completions
        return (choice.get("message") or {}).get("content") or ""
    if "text" in choice:  # legacy completions
        return choice.get("text") or ""
    raise EngineError(f"a reply choice has neither 'message' nor 'text': {str(choice)[:200]}")


def _error_message(response: _Reply) -> str:
    """The server's own explanation, from OpenAI-style {"error": {"message": ...}} or FastAPI's {"detail": ...}."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:300] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if error:
            return str(error)
        if data.get("detail"):
            return str(data["detail"])
        if data.get("message"):
            return str(data["message"])
    return str(data)[:300]


def _retry_after(response: _Reply) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: rare from inference servers; fall back to backoff
        return None
