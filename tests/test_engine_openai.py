"""The openai engine: against a real `transformers serve` on 127.0.0.1, and against a small
scripted HTTP server for what a healthy server never does (429, 5xx, silence, bad JSON)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from _engine_helpers import (
    PROMPTS,
    Reply,
    ScriptedServer,
    build_tiny_llama,
    completion_body,
    free_port,
    transformers_server,
)

from builder.engines import EngineError, PromptTooLongError, SamplingParams, create_engine
from builder.engines.openai_engine import OpenAIEngine, ServerUnreachable, normalize_base_url

GREEDY = SamplingParams(max_new_tokens=12)
CHAT = [{"role": "user", "content": "hi"}]


def fast_engine(url: str, **options) -> OpenAIEngine:
    """Short backoff so retry tests take milliseconds, not the production seconds."""
    options = {"backoff": 0.01, "max_backoff": 0.05, "progress": False, **options}
    return OpenAIEngine("test-model", base_url=url, **options)


# ----- a real server: transformers serve -----


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedded_model_dir):
    """`transformers serve` with the tiny Llama preloaded; yields (model folder, base URL)."""
    pytest.importorskip(
        "fastapi", reason="transformers serve needs `pip install 'transformers[serving]'`"
    )
    model_dir = build_tiny_llama(
        tmp_path_factory.mktemp("served-llama"), embedded_model_dir, sample_by_default=True
    )
    with transformers_server(model_dir, tmp_path_factory.mktemp("serve-log") / "serve.log") as url:
        yield model_dir, url


@pytest.fixture(scope="module")
def local_twin(served):
    from builder.engines.transformers_engine import TransformersEngine

    return TransformersEngine("local", model_path=str(served[0]), progress=False)


@pytest.mark.slow  # starts a transformers serve process (~10-30 s)
def test_real_server_greedy_matches_the_local_engine(served, local_twin):
    """Same weights, same prompts (raw text to /completions, chat to /chat/completions):
    the server's greedy text and token counts equal the transformers engine's."""
    model_dir, url = served
    engine = OpenAIEngine(str(model_dir), base_url=url, progress=False)
    remote = engine.generate(PROMPTS, GREEDY)
    local = [local_twin.generate([p], GREEDY)[0] for p in PROMPTS]
    assert [c.text for c in remote] == [c.text for c in local]
    assert [c.prompt_tokens for c in remote] == [c.prompt_tokens for c in local]  # from `usage`
    assert [c.completion_tokens for c in remote] == [c.completion_tokens for c in local]
    assert engine.stats.calls == len(PROMPTS)
    assert engine.stats.completion_tokens == sum(c.completion_tokens for c in remote)


@pytest.mark.slow  # starts a transformers serve process (~10-30 s)
def test_real_server_that_ignores_n_still_gives_n_seeded_samples(served, caplog):
    model_dir, url = served
    # concurrency=1: transformers serve seeds torch's global RNG per request, so two
    # requests generating at once would draw from each other's stream.
    engine = OpenAIEngine(str(model_dir), base_url=url, concurrency=1, progress=False)
    params = SamplingParams(max_new_tokens=8, temperature=1.0, n=3, seed=4)
    with caplog.at_level(logging.WARNING):
        first = engine.generate(PROMPTS[:2], params)
    assert "ignores n=3" in caplog.text
    for c in first:
        assert len(c.texts) == 3 and len(set(c.texts)) == 3, c.texts
        assert c.completion_tokens == 3 * 8
    assert [c.texts for c in engine.generate(PROMPTS[:2], params)] == [c.texts for c in first]


@pytest.mark.slow  # starts a transformers serve process (~10-30 s)
def test_real_server_stop_string_is_cut(served, local_twin):
    model_dir, url = served
    full = local_twin.generate([PROMPTS[1]], GREEDY)[0].text
    stop = full.split()[len(full.split()) // 2]
    engine = OpenAIEngine(str(model_dir), base_url=url, progress=False)
    done = engine.generate([PROMPTS[1]], SamplingParams(max_new_tokens=12, stop=[stop]))[0]
    assert done.text == full[: full.find(stop)]
    assert done.finish_reasons == ["stop"]


@pytest.mark.slow  # starts a transformers serve process (~10-30 s)
def test_real_server_with_a_tokenizer_checks_and_truncates_prompts(served):
    model_dir, url = served
    engine = OpenAIEngine(
        str(model_dir), base_url=url, tokenizer=str(model_dir), max_model_len=256, progress=False
    )
    assert engine.count_tokens("hello world") == 2
    long_prompt = "word " * 400 + "the end"
    with pytest.raises(PromptTooLongError, match="truncate_prompt='left'"):
        engine.generate([long_prompt], GREEDY)
    short, cut = engine.generate(
        ["short", long_prompt], SamplingParams(max_new_tokens=12, truncate_prompt="left")
    )
    assert cut.truncated and not short.truncated
    assert cut.prompt_tokens <= 256 - 12  # the server counted what we sent


@pytest.mark.slow  # starts a transformers serve process (~10-30 s)
def test_real_server_rejects_another_model_clearly(served):
    _, url = served
    engine = OpenAIEngine("not/served", base_url=url, max_retries=0, progress=False)
    with pytest.raises(EngineError, match="HTTP 400"):
        engine.generate(["hi"], GREEDY)


# ----- a scripted server: failures -----


def test_retries_429_and_5xx_then_succeeds():
    replies = [
        Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"}),
        Reply(503, "upstream busy"),
        Reply(500, {"detail": "oops"}),
        Reply(200, completion_body(["ok"])),
    ]
    with ScriptedServer(replies) as server:
        result = fast_engine(server.url).generate([CHAT], GREEDY)
    assert result[0].texts == ["ok"]
    assert len(server.requests) == 4
    assert all(r["path"] == "/v1/chat/completions" for r in server.requests)


def test_gives_up_after_max_retries_with_the_last_error():
    with ScriptedServer([Reply(503, {"error": {"message": "model is loading"}})]) as server:
        with pytest.raises(EngineError, match=r"after 3 attempts.*503.*model is loading"):
            fast_engine(server.url, max_retries=2).generate(["hi"], GREEDY)
    assert len(server.requests) == 3


def test_a_silent_server_times_out_instead_of_hanging():
    with ScriptedServer([Reply(200, completion_body(["late"]), delay=30)]) as server:
        start = time.monotonic()
        with pytest.raises(EngineError, match=r"after 2 attempts.*timeout=0.5"):
            fast_engine(server.url, timeout=0.5, max_retries=1).generate(["hi"], GREEDY)
        elapsed = time.monotonic() - start
    assert len(server.requests) == 2
    assert elapsed < 10  # two 0.5 s attempts, not the server's 30 s


def test_malformed_json_is_an_error_not_a_retry():
    with ScriptedServer([Reply(200, "<html>gateway</html>")]) as server:
        with pytest.raises(EngineError, match="not JSON.*gateway"):
            fast_engine(server.url).generate(["hi"], GREEDY)
    assert len(server.requests) == 1
    with ScriptedServer([Reply(200, {"id": "x", "object": "chat.completion"})]) as server:
        with pytest.raises(EngineError, match="without a 'choices' list"):
            fast_engine(server.url).generate([CHAT], GREEDY)


def test_unreachable_server_fails_at_once_without_retries():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    # production backoff: 1 s, 2 s, ...
    engine = OpenAIEngine("test-model", base_url=url, progress=False)
    start = time.monotonic()
    with pytest.raises(
        ServerUnreachable, match=rf"cannot reach {url}/completions: connection refused"
    ):
        engine.generate(["hi", "there"], GREEDY)
    assert time.monotonic() - start < 2  # no retry was waited for
    with pytest.raises(ServerUnreachable, match="host name does not resolve"):
        fast_engine("http://no-such-host.invalid/v1").generate(["hi"], GREEDY)


def test_a_refusal_after_the_server_answered_is_retried():
    # once a server has answered, a refused connection may be a restart: retried, then reported
    with ScriptedServer([Reply(200, completion_body(["ok"], chat=False))]) as server:
        engine = fast_engine(server.url, max_retries=2)
        assert engine.generate(["hi"], GREEDY)[0].texts == ["ok"]
    with pytest.raises(EngineError, match=r"after 3 attempts.*Is the server running") as raised:
        engine.generate(["again"], GREEDY)
    assert not isinstance(raised.value, ServerUnreachable)


def test_prompt_too_long_from_the_server():
    message = (
        "This model's maximum context length is 2048 tokens. However, you requested 4000 tokens."
    )
    with ScriptedServer([Reply(400, {"error": {"message": message}})]) as server:
        with pytest.raises(PromptTooLongError, match="maximum context length is 2048"):
            fast_engine(server.url).generate(["hi"], GREEDY)
    assert len(server.requests) == 1


def test_api_key_comes_from_the_environment_and_is_never_shown(monkeypatch, caplog):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("XI_TEST_KEY", secret)
    replies = [Reply(500, "flaky"), Reply(401, {"error": {"message": "invalid api key"}})]
    with ScriptedServer(replies) as server:
        engine = fast_engine(server.url, api_key_env="XI_TEST_KEY")
        with (
            caplog.at_level(logging.DEBUG),
            pytest.raises(EngineError, match=r"\$XI_TEST_KEY") as error,
        ):
            engine.generate(["hi"], GREEDY)
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {secret}"
    assert secret not in str(error.value) and secret not in caplog.text
    assert secret not in repr(engine) and secret not in str(vars(engine))


def test_no_key_sends_no_authorization_header(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ScriptedServer([Reply(200, completion_body(["ok"], chat=False))]) as server:
        fast_engine(server.url).generate(["hi"], GREEDY)
    assert "Authorization" not in server.requests[0]["headers"]


def test_request_body_carries_every_sampling_setting():
    params = SamplingParams(max_new_tokens=5, temperature=0.7, top_p=0.9, seed=3, stop=["\n\n"])
    with ScriptedServer([Reply(200, completion_body(["a"], chat=False))]) as server:
        fast_engine(server.url, extra_body={"top_k": 20}).generate(["raw text"], params)
    body = server.requests[0]["body"]
    assert server.requests[0]["path"] == "/v1/completions"
    assert body["model"] == "test-model" and body["prompt"] == "raw text"
    assert (
        body["max_tokens"],
        body["temperature"],
        body["top_p"],
        body["stop"],
        body["top_k"],
    ) == (5, 0.7, 0.9, ["\n\n"], 20)
    assert isinstance(body["seed"], int) and "n" not in body


def test_n_fallback_when_the_server_ignores_n(caplog):
    params = SamplingParams(max_new_tokens=4, temperature=1.0, n=3, seed=9)
    with ScriptedServer([Reply(200, completion_body(["s"], chat=False, usage=(5, 4)))]) as server:
        engine = fast_engine(server.url, concurrency=1)
        first, second = engine.generate(["one", "two"], params)
    assert first.texts == ["s"] * 3 and first.completion_tokens == 12 and first.prompt_tokens == 5
    bodies = [r["body"] for r in server.requests]
    # "one": asked n=3, got 1, then 2 single requests; "two": straight to 3 single requests.
    assert [b.get("n", 1) for b in bodies] == [3, 1, 1, 1, 1, 1]
    assert len({b["seed"] for b in bodies[:3]}) == 3 and len({b["seed"] for b in bodies[3:]}) == 3
    assert "ignores n=3" in caplog.text


def test_server_that_honours_n_gets_one_request():
    params = SamplingParams(max_new_tokens=4, temperature=1.0, n=3, seed=9)
    with ScriptedServer([Reply(200, completion_body(["a", "b", "c"], usage=(5, 9)))]) as server:
        result = fast_engine(server.url).generate([CHAT], params)[0]
    assert result.texts == ["a", "b", "c"] and result.completion_tokens == 9
    assert len(server.requests) == 1 and server.requests[0]["body"]["n"] == 3


def test_concurrency_is_bounded():
    with ScriptedServer([Reply(200, completion_body(["ok"]), delay=0.2)]) as server:
        fast_engine(server.url, concurrency=3).generate([CHAT] * 10, GREEDY)
    assert len(server.requests) == 10
    assert server.max_in_flight == 3


def test_token_counts_without_usage(embedded_model_dir):
    reply = Reply(200, completion_body(["two words"], usage=None))
    with ScriptedServer([reply]) as server:
        bare = fast_engine(server.url).generate(["hello world"], GREEDY)[0]
        counted = fast_engine(server.url, tokenizer=str(embedded_model_dir)).generate(
            ["hello world"], GREEDY
        )[0]
    assert (bare.prompt_tokens, bare.completion_tokens) == (0, 0)
    assert (counted.prompt_tokens, counted.completion_tokens) == (2, 2)


def test_works_from_inside_a_running_event_loop():
    """As in a Jupyter cell: generate() from a thread whose loop is running, and agenerate()."""
    with ScriptedServer([Reply(200, completion_body(["ok"]))]) as server:
        engine = fast_engine(server.url)

        async def notebook_cell():
            return engine.generate([CHAT], GREEDY), await engine.agenerate([CHAT], GREEDY)

        blocking, awaited = asyncio.run(notebook_cell())
    assert blocking[0].texts == awaited[0].texts == ["ok"]
    assert engine.stats.calls == 2 and engine.stats.completion_tokens == 6


class PortCountingServer:
    """An HTTP/1.1 keep-alive server (aiohttp's) that answers every completion with "ok" and
    records the client port of each request: one port per connection the client opened."""

    def __init__(self):
        import threading

        self.ports: list[int] = []
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _reply(self, request):
        from aiohttp import web

        self.ports.append(request.transport.get_extra_info("peername")[1])
        await asyncio.sleep(0.05)  # so the requests of one call overlap
        return web.json_response(completion_body(["ok"]))

    def _serve(self):
        from aiohttp import web

        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._reply)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/v1"
        self._ready.set()
        self.loop.run_forever()

    def __enter__(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def test_connections_are_kept_from_one_call_to_the_next():
    """The pipeline calls generate() once per chunk: the connections of one call serve the next
    (a client per call would open `concurrency` new ones every time)."""
    with PortCountingServer() as server:
        engine = fast_engine(server.url, concurrency=2)
        for _ in range(3):
            assert [c.text for c in engine.generate([CHAT] * 4, GREEDY)] == ["ok"] * 4
        engine.close()
    assert len(server.ports) == 12 and len(set(server.ports)) == 2


def test_a_forked_child_leaves_the_parents_kept_connections_working():
    """The child inherits the parent's session and pooled keep-alive sockets; after the child has
    used the engine and exited, the parent answers at once on the connections it kept (no retry
    allowed). The engine never frees in the child what it inherited: closing those sockets there
    would unregister them from the epoll set parent and child share."""
    import os

    with PortCountingServer() as server:
        engine = fast_engine(server.url, concurrency=2, max_retries=0, timeout=5)
        # 2 connections kept
        assert [c.text for c in engine.generate([CHAT] * 4, GREEDY)] == ["ok"] * 4
        pid = os.fork()
        # the child: its own session, then exit with everything it inherited still alive
        if pid == 0:
            code = 1
            try:
                code = 0 if engine.generate([CHAT] * 2, GREEDY)[0].text == "ok" else 1
                import gc

                gc.collect()  # what would free the inherited session, were it not kept
            finally:
                os._exit(code)
        assert os.waitpid(pid, 0)[1] == 0
        start = time.monotonic()
        assert [c.text for c in engine.generate([CHAT] * 4, GREEDY)] == ["ok"] * 4
        assert time.monotonic() - start < 2
        engine.close()
    parent_ports = server.ports[:4] + server.ports[6:]
    assert len(set(parent_ports)) == 2  # the parent still uses the connections it kept


def test_an_engine_works_after_close_fork_and_pickle():
    """close() ends the engine's loop thread and a later call starts another; a forked child (a
    worker process) and an unpickled copy open their own connections instead of the parent's."""
    import os
    import pickle

    with ScriptedServer([Reply(200, completion_body(["ok"]))]) as server:
        engine = fast_engine(server.url)
        assert engine.generate([CHAT], GREEDY)[0].text == "ok"
        thread = engine._loop.thread
        engine.close()
        assert not thread.is_alive()
        assert engine.generate([CHAT], GREEDY)[0].text == "ok"
        pid = os.fork()
        if pid == 0:  # the child: exit code 0 only if its own call succeeds
            code = 1
            try:
                code = 0 if engine.generate([CHAT] * 3, GREEDY)[0].text == "ok" else 1
            finally:
                os._exit(code)
        assert os.waitpid(pid, 0)[1] == 0
        copy = pickle.loads(pickle.dumps(engine))
        assert (
            copy.generate([CHAT], GREEDY)[0].text == engine.generate([CHAT], GREEDY)[0].text == "ok"
        )
    assert len(server.requests) == 7


def test_empty_prompt_list_sends_nothing():
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert fast_engine(url, max_retries=0).generate([], GREEDY) == []


def test_configuration_errors(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9")
    assert OpenAIEngine("m").base_url == "http://127.0.0.1:9/v1"
    assert normalize_base_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1"
    with pytest.raises(ValueError, match="http"):
        OpenAIEngine("m", base_url="127.0.0.1:8000")
    with pytest.raises(ValueError, match="tokenizer"):
        OpenAIEngine("m").generate(["hi"], SamplingParams(truncate_prompt="left"))
    with pytest.raises(NotImplementedError, match="tokenizer="):
        OpenAIEngine("m").count_tokens("hi")
    assert isinstance(
        create_engine("openai", "served-name", base_url="http://127.0.0.1:9"), OpenAIEngine
    )


def test_the_default_concurrency_keeps_a_whole_build_chunk_in_flight(tmp_path):
    """A build passes the engine no concurrency and sends a stage's prompts `--batch-size` x 4 at
    a time: the default must put that whole chunk in flight at once, or a server with real latency
    serves a fraction of what it could (benchmarks/bench_peers.py: 8 in flight, cap 64)."""
    import sys
    from pathlib import Path

    from builder.config import BuildConfig

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from stub_server import StubServer

    chunk = BuildConfig(langs=["sw"]).batch_size * 4
    # Each reply held 3 s: every request of the chunk must be sent before the first one returns,
    # also on a loaded machine (1 s was too short there once).
    with StubServer(latency=3.0, record=True) as stub:
        engine = fast_engine(stub.url)
        engine.generate([[{"role": "user", "content": f"text {i}"}] for i in range(chunk)], GREEDY)
        engine.close()
        in_flight = [event[1] for event in stub.inflight()["events"]]
    assert max(in_flight) == chunk
