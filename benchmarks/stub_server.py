"""A model that costs nothing, behind the OpenAI-compatible HTTP interface: a benchmark tool.

It answers `/v1/chat/completions`, `/v1/completions` and vLLM's `POST /tokenize` at once (or
after `--latency` seconds), so a build run against it measures the pipeline's own work: prompt
rendering, the request cache, `Dataset.map`, Parquet, the engine's HTTP client. Its replies are
canned, not model output: never use it where a test claims something about model behaviour.

Replies pass the builder's parsers:
* a conversation (backward generation, rewrites) gets one English question per choice, made
  distinct per prompt and choice so candidates are not duplicates of each other;
* an evaluator prompt (it ends with the pre-filled "Score:") gets " N\\nReason: ...", N from
  1 to 5 chosen by a hash of the prompt, so some pairs are refined in a second round.

    python benchmarks/stub_server.py --port 8000 [--latency 0.05] [--die-after N] [--echo-headers STATUS]
    python benchmarks/stub_server.py --latency-median 0.4 --max-num-seqs 64 --inflight-csv inflight.csv

A real server's latency mode (benchmarks/bench_peers.py): `--latency-median S` draws each reply's
delay from a lognormal distribution with that median (`--latency-sigma`, default 0.9: about 1 reply
in 100 takes over 3 s), seeded (`--seed`), in the order requests get a slot, so every client sees
the same delays. `--max-num-seqs C` serves at most C requests at once, like vLLM's flag of that
name: the others wait in a queue and are not in flight. With either (or `--record-inflight`) the
server records requests in flight and queued at each change, served at `GET /inflight` and written
to `--inflight-csv` on shutdown. Without these flags it behaves as before: no cap, no recording.

`--die-after N` kills the server (SIGKILL, no goodbye) when completion request N+1 arrives:
a server lost in the middle of a build, at a point that is the same on every run.
`--echo-headers STATUS` answers the first completion request with that HTTP status and an error
message that quotes the request's headers, Authorization included, as some servers do (503: the
client retries and goes on; 400: it stops): for tests that no credential reaches the user's output.

From Python, `StubServer(latency=0.0)` runs it in a child process (`with StubServer() as s: s.url`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import hashlib
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time

import httpx
from fastapi import FastAPI, Request  # module level: FastAPI resolves the (string) annotations here
from fastapi.responses import JSONResponse

SCORE_PREFILL = "Score:"  # what builder/stages/refine.py pre-fills for the evaluator

_OPENERS = ("What", "How", "Why", "Which", "When")
_VERBS = (
    "are the main ideas behind",
    "do people usually think about",
    "should a student know about",
    "has history shaped",
    "is the best way to explain",
    "do communities decide on",
)
_TOPICS = (
    "freedom of movement",
    "fair trials",
    "mountain climbing",
    "public schools",
    "river trade",
    "family rights",
    "local farming",
    "city markets",
    "ocean fishing",
    "national holidays",
    "equal pay",
    "old temples",
    "rain seasons",
    "village councils",
    "spice routes",
    "free speech",
)
_REASONS = (
    "the response answers the question directly",
    "the response is on topic but reads like web text",
    "the response only loosely matches the question",
    "the response covers most of the question",
)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def question(prompt_text: str, choice: int) -> str:
    """An English question, distinct for each (prompt, choice)."""
    h = _digest(f"{choice}\0{prompt_text}")
    opener, verb = _OPENERS[h % len(_OPENERS)], _VERBS[(h >> 8) % len(_VERBS)]
    topic, other = _TOPICS[(h >> 16) % len(_TOPICS)], _TOPICS[(h >> 24) % len(_TOPICS)]
    return f"{opener} {verb} {topic} and {other}, case {h % 99991}?"


def judgement(prompt_text: str) -> str:
    h = _digest(prompt_text)
    return f" {1 + h % 5}\nReason: {_REASONS[(h >> 8) % len(_REASONS)]}."


def _is_evaluation(text: str) -> bool:
    return text.rstrip().endswith(SCORE_PREFILL)


def _reply_texts(prompt_text: str, n: int) -> list[str]:
    if _is_evaluation(prompt_text):
        return [judgement(prompt_text)] * n
    return [question(prompt_text, k) for k in range(n)]


def _usage(prompt_text: str, texts: list[str]) -> dict:
    # ~4 characters a token: cheap, and enough for throughput bookkeeping on the client.
    prompt_tokens, completion_tokens = (
        len(prompt_text) // 4 + 1,
        sum(len(t) // 4 + 1 for t in texts),
    )
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class Delays:
    """Seconds before each completion reply: `fixed`, or with `median` set a seeded lognormal draw
    per request (a long tail, as a real server's latency has: queueing, long prompts, preemption)."""

    def __init__(
        self, fixed: float = 0.0, median: float | None = None, sigma: float = 0.9, seed: int = 0
    ):
        if median is not None and (median <= 0 or sigma < 0):
            raise ValueError("the latency median must be > 0 and its sigma >= 0")
        self.fixed, self.median, self.sigma = fixed, median, sigma
        self.rng = random.Random(seed)

    def draw(self) -> float:
        if self.median is None:
            return self.fixed
        return self.rng.lognormvariate(math.log(self.median), self.sigma)


class Slots:
    """At most `cap` requests served at once (vLLM's --max-num-seqs; None: no cap). A request
    beyond the cap waits in a queue and is not in flight. With `record`, every change of (in
    flight, queued) is kept with its time since the first request arrived: the server's own view
    of how full a client keeps it."""

    def __init__(self, cap: int | None = None, record: bool = False):
        if cap is not None and cap < 1:
            raise ValueError("--max-num-seqs must be >= 1")
        self.cap, self.record = cap, record
        self.semaphore = asyncio.Semaphore(cap) if cap else None
        self.in_flight = self.queued = 0
        self.start: float | None = None
        self.events: list[tuple[float, int, int]] = []

    def _mark(self) -> None:
        if self.record:
            now = time.monotonic()
            if self.start is None:
                self.start = now
            self.events.append((round(now - self.start, 6), self.in_flight, self.queued))

    @contextlib.asynccontextmanager
    async def slot(self):
        self.queued += 1
        self._mark()
        try:
            if self.semaphore is not None:
                await self.semaphore.acquire()
        finally:  # a client that hangs up while queued leaves the queue
            self.queued -= 1
        self.in_flight += 1
        self._mark()
        try:
            yield
        finally:
            self.in_flight -= 1
            self._mark()
            if self.semaphore is not None:
                self.semaphore.release()

    def write_csv(self, path: str) -> None:
        with open(path, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["seconds", "in_flight", "queued"])
            writer.writerows(self.events)


def create_app(
    latency: float = 0.0,
    die_after: int | None = None,
    echo_status: int | None = None,
    delays: Delays | None = None,
    slots: Slots | None = None,
):
    """The FastAPI app; `latency` seconds (or a draw from `delays`) are awaited before each
    completion reply, inside one of `slots` (no cap by default)."""
    app = FastAPI()
    stats = {"completions": 0, "tokenize": 0, "echoed": 0}
    arrived = [0]
    delays = delays or Delays(fixed=latency)
    slots = slots or Slots()
    app.state.slots = slots

    def echo(request: Request) -> JSONResponse | None:
        """The first completion request's error reply that quotes its headers (`echo_status`)."""
        if echo_status is None or stats["echoed"]:
            return None
        stats["echoed"] += 1
        return JSONResponse(
            {
                "error": {
                    "message": f"cannot serve this now; request headers: {dict(request.headers)}"
                }
            },
            status_code=echo_status,
        )

    async def wait():
        arrived[0] += 1
        if die_after is not None and arrived[0] > die_after:
            os.kill(os.getpid(), signal.SIGKILL)
        async with slots.slot():
            # drawn in the order requests get a slot: the same for every client
            delay = delays.draw()
            if delay > 0:
                await asyncio.sleep(delay)

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        if (refused := echo(request)) is not None:
            return refused
        messages = body.get("messages") or []
        text = "\n".join(str(m.get("content", "")) for m in messages)
        texts = _reply_texts(text, int(body.get("n") or 1))
        await wait()
        stats["completions"] += 1
        choices = [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(texts)
        ]
        return JSONResponse(
            {
                "id": "stub",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": choices,
                "usage": _usage(text, texts),
            }
        )

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await request.json()
        if (refused := echo(request)) is not None:
            return refused
        text = str(body.get("prompt", ""))
        texts = _reply_texts(text, int(body.get("n") or 1))
        await wait()
        stats["completions"] += 1
        choices = [{"index": i, "text": t, "finish_reason": "stop"} for i, t in enumerate(texts)]
        return JSONResponse(
            {
                "id": "stub",
                "object": "text_completion",
                "model": body.get("model"),
                "choices": choices,
                "usage": _usage(text, texts),
            }
        )

    @app.post("/tokenize")
    async def tokenize(request: Request):
        body = await request.json()
        text = body.get("prompt")
        if text is None:  # vLLM also takes chat messages
            text = "\n".join(str(m.get("content", "")) for m in body.get("messages") or [])
        # One token per 4 bytes of UTF-8: a stand-in count, not a real tokenizer's.
        tokens = list(range(max(1, len(str(text).encode("utf-8")) // 4)))
        stats["tokenize"] += 1
        return JSONResponse({"tokens": tokens, "count": len(tokens), "max_model_len": 8192})

    @app.get("/stats")
    async def get_stats():
        return stats

    @app.get("/inflight")
    async def inflight():
        return {"cap": slots.cap, "events": slots.events}

    @app.get("/health")
    async def health():
        return {"ok": True}

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StubServer:
    """The stub in a child process (its CPU time is then apart from the caller's)."""

    def __init__(
        self,
        latency: float = 0.0,
        port: int | None = None,
        die_after: int | None = None,
        echo_status: int | None = None,
        latency_median: float | None = None,
        latency_sigma: float = 0.9,
        seed: int = 0,
        max_num_seqs: int | None = None,
        record: bool = False,
    ):
        self.latency = latency
        # the latency mode (see the module's docstring): passed on only when asked for
        self.real_latency = (
            []
            if latency_median is None
            else [
                "--latency-median",
                str(latency_median),
                "--latency-sigma",
                str(latency_sigma),
                "--seed",
                str(seed),
            ]
        )
        self.real_latency += [] if max_num_seqs is None else ["--max-num-seqs", str(max_num_seqs)]
        self.real_latency += ["--record-inflight"] if record else []
        self.die_after = die_after
        self.echo_status = echo_status
        self.port = port or free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = self.root + "/v1"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> StubServer:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--port",
                str(self.port),
                "--latency",
                str(self.latency),
            ]
            + ([] if self.die_after is None else ["--die-after", str(self.die_after)])
            + ([] if self.echo_status is None else ["--echo-headers", str(self.echo_status)])
            + self.real_latency,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"stub server exited: {self.process.stderr.read().decode()[-2000:]}"
                )
            try:
                if httpx.get(self.root + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"stub server did not answer on {self.root} within 60 s")

    def stats(self) -> dict:
        return httpx.get(self.root + "/stats", timeout=5).json()

    def inflight(self) -> dict:
        """{"cap": C, "events": [[seconds, in_flight, queued], ...]} (recorded in the latency mode)."""
        return httpx.get(self.root + "/inflight", timeout=30).json()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used (Linux /proc)."""
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before each completion reply"
    )
    parser.add_argument(
        "--die-after", type=int, default=None, help="be killed when completion request N+1 arrives"
    )
    parser.add_argument(
        "--echo-headers",
        type=int,
        default=None,
        metavar="STATUS",
        help="answer the first completion request with STATUS and its headers quoted in the error",
    )
    parser.add_argument(
        "--latency-median",
        type=float,
        default=None,
        metavar="S",
        help="draw each reply's delay from a lognormal distribution with this median (seconds)",
    )
    parser.add_argument(
        "--latency-sigma", type=float, default=0.9, help="the lognormal's sigma (its tail)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the delays")
    parser.add_argument(
        "--max-num-seqs",
        type=int,
        default=None,
        metavar="C",
        help="serve at most C requests at once; the rest wait in a queue (as vLLM's flag)",
    )
    parser.add_argument(
        "--record-inflight", action="store_true", help="record requests in flight over time"
    )
    parser.add_argument(
        "--inflight-csv", default=None, metavar="PATH", help="write the record here on shutdown"
    )
    args = parser.parse_args()
    if args.latency_median is not None and args.latency:
        parser.error("--latency and --latency-median are two modes: pass one")
    delays = Delays(args.latency, args.latency_median, args.latency_sigma, args.seed)
    record = (
        args.record_inflight
        or args.inflight_csv is not None
        or args.latency_median is not None
        or args.max_num_seqs is not None
    )
    slots = Slots(args.max_num_seqs, record)
    uvicorn.run(
        create_app(args.latency, args.die_after, args.echo_headers, delays, slots),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )
    if args.inflight_csv:  # uvicorn returns after a graceful shutdown (SIGTERM, Ctrl-C)
        slots.write_csv(args.inflight_csv)


if __name__ == "__main__":
    main()
