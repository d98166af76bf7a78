"""The request cache: persistence, keys, concurrent writers, and resume through cached_generate."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from builder.engines.base import Completion, Engine, SamplingParams
from builder.engines.cache import RequestCache, cached_generate, request_key, request_keys

ROOT = Path(__file__).resolve().parents[1]
PARAMS = SamplingParams(max_new_tokens=4)


def test_get_put_and_persistence(tmp_path):
    path = tmp_path / "cache" / "requests.sqlite"
    cache = RequestCache(path)
    assert cache.get("k") is None and "k" not in cache
    cache.put("k", {"texts": ["ŝalom, habari"], "n": 1})
    cache.put_many({"a": [1, 2], "b": "text"})
    assert cache.get("k") == {"texts": ["ŝalom, habari"], "n": 1}
    cache.close()
    reopened = RequestCache(path)
    assert len(reopened) == 3
    assert reopened.get_many(["a", "b", "missing"]) == {"a": [1, 2], "b": "text"}
    reopened.put("a", [3])  # a later write replaces the value
    assert reopened.get("a") == [3]


def test_get_many_beyond_the_sqlite_parameter_limit(tmp_path):
    cache = RequestCache(tmp_path / "c.sqlite")
    cache.put_many({f"k{i}": i for i in range(1200)})
    found = cache.get_many([f"k{i}" for i in range(1200)] + ["nope"])
    assert len(found) == 1200 and found["k1199"] == 1199


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"
    writer = textwrap.dedent(f"""
        import sys
        from builder.engines.cache import RequestCache
        cache = RequestCache({str(path)!r})
        worker = int(sys.argv[1])
        for start in range(0, 300, 10):  # many small transactions, interleaved with the others
            cache.put_many({{f"w{{worker}}-{{i}}": i for i in range(start, start + 10)}})
            cache.get(f"w{{worker}}-{{start}}")
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", writer, str(w)], cwd=ROOT, stderr=subprocess.PIPE)
        for w in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    cache = RequestCache(path)
    assert len(cache) == 1200
    assert cache.get("w3-299") == 299


def test_keys_change_with_engine_params_template_and_prompt(tiny_engine):
    base = request_key(tiny_engine, "t1", PARAMS, "hello")
    assert base == request_key(tiny_engine, "t1", SamplingParams(max_new_tokens=4), "hello")
    assert base != request_key(tiny_engine, "t2", PARAMS, "hello")
    assert base != request_key(tiny_engine, "t1", SamplingParams(max_new_tokens=5), "hello")
    assert base != request_key(tiny_engine, "t1", PARAMS, "hello!")
    assert base != request_key(tiny_engine, "t1", PARAMS, [{"role": "user", "content": "hello"}])


class _NamedEngine(Engine):
    """An engine that is only an identity: what cache keys are made of."""

    name = "openai"

    def _generate(self, prompts, params):
        raise AssertionError("not called")


def test_batched_keys_are_the_keys_existing_caches_hold():
    """`request_keys` (one call per chunk) gives exactly `request_key`'s strings, which earlier
    work directories' caches are keyed by: a resumed build must find them."""
    engine = _NamedEngine("smollm2-135m")
    sampled = SamplingParams(max_new_tokens=48, temperature=0.7, top_p=0.95, n=4, stop=["\n"])
    prompts = [
        "hello",
        'ŝalom — habari "quoted"',
        [{"role": "user", "content": "नमस्ते"}],
        [{"role": "system", "content": "s"}, {"role": "assistant", "content": "Score:"}],
    ]
    for params in (PARAMS, sampled):
        assert request_keys(engine, "abc123", params, prompts) == [
            request_key(engine, "abc123", params, p) for p in prompts
        ]
    # Pinned: a change to the key's encoding would silently orphan every existing cache.
    assert request_key(engine, "abc123", PARAMS, "hello") == (
        "0f3a9752e2c1231de55ac48fca89ae163fc39ab024d84d488d2c32d0c9c1db98"
    )


def test_completion_to_dict_is_dataclasses_asdict():
    import dataclasses

    completion = Completion(["a", "b"], ["stop", "length"], 3, 4, truncated=True)
    assert completion.to_dict() == dataclasses.asdict(completion)
    assert Completion.from_dict(completion.to_dict()) == completion


def test_cached_generate_sends_only_misses_and_returns_the_same(tmp_path, tiny_engine):
    cache = RequestCache(tmp_path / "c.sqlite")
    prompts = ["one", "two", "three", "two"]
    before = tiny_engine.stats.calls
    first = cached_generate(tiny_engine, prompts, PARAMS, cache, "t", chunk_size=2)
    assert tiny_engine.stats.calls - before == 3  # the repeated prompt is generated once
    assert first[1].texts == first[3].texts
    again = cached_generate(tiny_engine, prompts + ["four"], PARAMS, cache, "t")
    assert tiny_engine.stats.calls - before == 4  # only "four" was new
    assert [c.texts for c in again[:4]] == [c.texts for c in first]
    assert (
        again[0].prompt_tokens == first[0].prompt_tokens
        and again[0].finish_reasons == first[0].finish_reasons
    )
    # no cache: everything is sent
    cached_generate(tiny_engine, ["one"], PARAMS, None, "t")
    assert tiny_engine.stats.calls - before == 5


class _DiesAfter(Engine):
    """Wraps a real engine and dies on its n-th call, like a run killed half way."""

    name = "transformers"

    def __init__(self, inner: Engine, calls_before_death: int):
        super().__init__(inner.model_id, inner.revision)
        self.inner, self.left = inner, calls_before_death

    def _generate(self, prompts, params) -> list[Completion]:
        if self.left == 0:
            raise KeyboardInterrupt("killed")
        self.left -= 1
        return self.inner.generate(prompts, params)


def test_a_killed_run_resumes_from_the_chunks_it_finished(tmp_path, tiny_engine):
    cache = RequestCache(tmp_path / "c.sqlite")
    prompts = [f"question number {i}" for i in range(6)]
    dying = _DiesAfter(tiny_engine, calls_before_death=2)
    with pytest.raises(KeyboardInterrupt):
        cached_generate(dying, prompts, PARAMS, cache, "t", chunk_size=2)
    assert len(cache) == 4  # two finished chunks survived the crash
    resumed = _DiesAfter(tiny_engine, calls_before_death=1)
    result = cached_generate(resumed, prompts, PARAMS, cache, "t", chunk_size=2)
    assert resumed.stats.calls == 2  # only the last chunk was sent again
    uninterrupted = cached_generate(tiny_engine, prompts, PARAMS, None, "t")
    assert [c.texts for c in result] == [c.texts for c in uninterrupted]


def test_chunk_size_must_be_positive(tiny_engine):
    with pytest.raises(ValueError, match="chunk_size"):
        cached_generate(tiny_engine, ["x"], PARAMS, None, "t", chunk_size=0)
