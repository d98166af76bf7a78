"""The stub server's latency mode (benchmarks/stub_server.py), which benchmarks/bench_peers.py
uses as a real server: its cap on requests in flight holds, queued requests are not counted as in
flight, and its seeded delays have the median that was asked for and a long tail."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from stub_server import Delays, StubServer  # noqa: E402 (after the path is set)


def test_seeded_lognormal_delays_have_the_median_asked_for_and_a_long_tail():
    first = Delays(median=0.4, sigma=0.9, seed=7).draw()
    delays = Delays(median=0.4, sigma=0.9, seed=7)
    sample = [delays.draw() for _ in range(20000)]
    assert sample[0] == first  # seeded: the same sequence on every server start
    assert abs(statistics.median(sample) - 0.4) < 0.02
    slow = sum(d > 3.0 for d in sample) / len(sample)
    assert 0.003 < slow < 0.03  # some replies take several seconds (~1 in 100 at sigma 0.9)
    assert max(sample) > 5.0
    assert Delays(fixed=0.25).draw() == 0.25  # the old fixed mode is unchanged


def test_the_cap_holds_and_queued_requests_are_not_in_flight():
    cap, requests, latency = 4, 16, 0.2

    async def send(url: str) -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            body = {
                "model": "m",
                "messages": [{"role": "user", "content": "hello"}],
                "max_tokens": 8,
            }
            replies = await asyncio.gather(
                *(client.post(url + "/chat/completions", json=body) for _ in range(requests))
            )
        return [r.status_code for r in replies]

    with StubServer(latency=latency, max_num_seqs=cap, record=True) as stub:
        start = time.monotonic()
        assert asyncio.run(send(stub.url)) == [200] * requests
        took = time.monotonic() - start
        record = stub.inflight()
        assert stub.stats()["completions"] == requests
    assert record["cap"] == cap
    in_flight = [e[1] for e in record["events"]]
    queued = [e[2] for e in record["events"]]
    assert max(in_flight) == cap  # full, and never over the cap
    assert max(queued) >= requests - cap - 1  # the rest waited (nearly all arrive at once)
    assert in_flight[-1] == 0 and queued[-1] == 0
    assert took >= latency * requests / cap * 0.95  # four waves of 0.2 s: the cap was enforced


def test_the_default_server_records_nothing():
    with StubServer() as stub:
        httpx.post(
            stub.url + "/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
        )
        assert stub.inflight() == {"cap": None, "events": []}
