"""`x-instruction build --engine openai`: token counts for a served model, and one build against a
real `transformers serve` of the embedded SmolLM2 that must equal the same build run locally.

The bad-input tests are fast (a port where nothing listens, a scripted server); the server
build is slow (it loads SmolLM2 twice: in the server and in this process)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import datasets
import pytest
from _engine_helpers import Reply, ScriptedServer, completion_body, free_port, transformers_server

from builder.cli import main
from builder.config import BuildConfig
from builder.engines import SamplingParams
from builder.engines.openai_engine import OpenAIEngine
from builder.pipeline.runner import Pipeline


def _build(tmp_path: Path, name: str, *args: str) -> int:
    return main(
        [
            "build",
            "--langs",
            "sw",
            "--work-dir",
            str(tmp_path / name / "work"),
            "--output-dir",
            str(tmp_path / name / "out"),
            *args,
        ]
    )


def _one_doc(tmp_path: Path) -> str:
    corpus = tmp_path / "one.jsonl"
    corpus.write_text(
        json.dumps(
            {
                "text": "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa. Wote wamejaliwa "
                "akili na dhamiri, hivyo yapasa watendeane kindugu."
            }
        )
        + "\n"
    )
    return str(corpus)


# ----- a server down, bad input: one line, before any request -----


def test_server_down_is_one_line_before_any_request(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    # a failure of the run's environment, not of the input: exit 1 (errors.guard), as eval's
    assert (
        _build(
            tmp_path,
            "b",
            "--corpus",
            _one_doc(tmp_path),
            "--engine",
            "openai",
            "--base-url",
            url,
            "--model",
            "served-name",
        )
        == 1
    )
    error, hint = capsys.readouterr().err.strip().splitlines()
    assert error.startswith("x-instruction: error: cannot reach") and "/tokenize" in error
    assert "Connection refused" in error and error.endswith(
        "start the server there or fix --base-url"
    )
    assert (
        hint
        == "Finished shards and cached requests are kept; run the same command again to resume."
    )
    assert not (tmp_path / "b" / "work" / "sw").exists()  # prepare never started


def test_no_tokenizer_anywhere_names_the_flag(tmp_path, capsys):
    """A server without /tokenize and a served name that is no tokenizer here: the one line says
    --tokenizer, and the only request was the probe (no completion was asked for)."""
    with ScriptedServer([Reply(404, {"detail": "Not Found"})]) as server:
        assert (
            _build(
                tmp_path,
                "b",
                "--corpus",
                _one_doc(tmp_path),
                "--base-url",
                server.url,
                "--model",
                "served-name",
            )
            == 2
        )  # --engine auto: the URL means openai
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "--tokenizer NAME_OR_PATH" in err and "'served-name'" in err and "HTTP 404" in err
    assert [r["path"] for r in server.requests] == ["/tokenize"]


def test_base_url_with_a_local_engine_is_refused_at_config_time(tmp_path, capsys):
    for engine in ("transformers", "vllm"):
        assert _build(tmp_path, "b", "--engine", engine, "--base-url", "http://127.0.0.1:1/v1") == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"x-instruction: error: --base-url is for --engine openai (a model on a server); --engine "
            f"{engine} loads the model here: drop --base-url or pass --engine openai"
        )
    assert _build(tmp_path, "b", "--engine", "transformers", "--tokenizer", "smollm2-135m") == 2
    assert "--tokenizer is for --engine openai" in capsys.readouterr().err


def test_auto_engine_with_a_base_url_means_openai(caplog):
    with caplog.at_level(logging.INFO, logger="builder.config"):
        config = BuildConfig(langs="sw", base_url="http://127.0.0.1:8000/v1")
    assert config.engine == "openai"
    assert "--base-url given: using --engine openai" in caplog.text
    assert BuildConfig(langs="sw").engine == "auto"


def test_unloadable_tokenizer_is_one_line(tmp_path, capsys):
    assert (
        _build(
            tmp_path,
            "b",
            "--engine",
            "openai",
            "--base-url",
            "http://127.0.0.1:1/v1",
            "--model",
            "x",
            "--tokenizer",
            str(tmp_path / "no-such-folder"),
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1 and "no-such-folder" in err and "--tokenizer NAME_OR_PATH" in err
    )


def test_a_server_error_mid_build_is_one_line_and_keeps_the_work(
    tmp_path, capsys, embedded_model_dir
):
    """The server refuses the first completion (HTTP 400 cannot heal): the build stops with the
    server's message and the resume hint, and prepare's finished shards stay for the rerun."""
    with ScriptedServer(
        [Reply(400, {"error": {"message": "model 'served-name' does not exist"}})]
    ) as server:
        code = _build(
            tmp_path,
            "b",
            "--corpus",
            _one_doc(tmp_path),
            "--base-url",
            server.url,
            "--model",
            "served-name",
            "--tokenizer",
            "smollm2-135m",
            "--candidates",
            "1",
        )
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert "Traceback" not in err and "does not exist" in err
    assert err.splitlines()[-1] == (
        "Finished shards and cached requests are kept; run the same command again to resume."
    )
    assert [r["path"] for r in server.requests][0] == "/v1/chat/completions"
    assert list((tmp_path / "b" / "work" / "sw").glob("prepare-*/*.parquet"))


# ----- the ways of counting -----


def test_explicit_tokenizer_counts_locally_without_asking_the_server(tmp_path, embedded_model_dir):
    from transformers import AutoTokenizer

    with ScriptedServer([Reply(500, "must not be asked")]) as server:
        config = BuildConfig(
            langs="sw",
            corpus=_one_doc(tmp_path),
            base_url=server.url,
            model="served-name",
            tokenizer="smollm2-135m",
            work_dir=str(tmp_path / "w"),
        )
        pipeline = Pipeline(config)
        text = "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa."
        local = AutoTokenizer.from_pretrained(embedded_model_dir)
        assert pipeline.models.count_tokens(text) == len(
            local(text, add_special_tokens=False)["input_ids"]
        )
    assert server.requests == []
    assert pipeline.models.token_counts == "tokenizer:smollm2-135m"


def test_server_tokenize_endpoint_is_probed_at_the_root_and_used(tmp_path):
    """vLLM's /tokenize sits beside /v1; the engine asks it without special tokens (content
    tokens, as the local engines count) and reads `count`."""
    with ScriptedServer(
        [Reply(200, {"tokens": [5, 6, 7], "count": 3, "max_model_len": 512})]
    ) as server:
        engine = OpenAIEngine("served-name", base_url=server.url, progress=False)
        assert engine.prepare_token_counts() == "server /tokenize"
        assert engine.count_tokens("habari yako") == 3
        assert engine.count_tokens("habari yako") == 3  # counted once
    assert [r["path"] for r in server.requests] == ["/tokenize", "/tokenize"]
    assert server.requests[1]["body"] == {
        "model": "served-name",
        "prompt": "habari yako",
        "add_special_tokens": False,
    }


def test_a_prefilled_reply_is_rendered_here_when_the_engine_has_the_tokenizer(embedded_model_dir):
    """The judge pre-fills "Score:"; `transformers serve` cannot continue a turn (422), so with
    the tokenizer at hand the engine sends the rendered text to /completions instead."""
    from transformers import AutoTokenizer

    prompt = [{"role": "user", "content": "Rate it."}, {"role": "assistant", "content": "Score:"}]
    with ScriptedServer([Reply(200, completion_body([" 4"], chat=False))]) as server:
        engine = OpenAIEngine(
            "served-name", base_url=server.url, tokenizer=str(embedded_model_dir), progress=False
        )
        assert engine.generate([prompt], SamplingParams(max_new_tokens=4))[0].text == " 4"
    rendered = AutoTokenizer.from_pretrained(embedded_model_dir).apply_chat_template(
        prompt, tokenize=False, continue_final_message=True
    )
    assert rendered.endswith("Score:")
    assert [r["path"] for r in server.requests] == ["/v1/completions"]
    assert server.requests[0]["body"]["prompt"] == rendered


# ----- a real server -----


@pytest.fixture(scope="module")
def smollm2_server(tmp_path_factory, embedded_model_dir):
    pytest.importorskip(
        "fastapi", reason="transformers serve needs `pip install 'transformers[serving]'`"
    )
    with transformers_server(
        embedded_model_dir, tmp_path_factory.mktemp("serve-log") / "serve.log"
    ) as url:
        yield url


def _export(out: Path) -> tuple[list[dict], list[dict]]:
    rows = datasets.load_dataset(str(out), "sw", split="train")
    audit = datasets.load_dataset(str(out), "candidates", split="train")
    pairs = [{k: r[k] for k in ("id", "instruction", "output", "score")} for r in rows]
    judged = [
        {"id": r["id"], "dropped": r["dropped"], "judgements": r["judgements"]} for r in audit
    ]
    return pairs, judged


@pytest.mark.slow  # loads SmolLM2 in a transformers serve process and in this one
def test_openai_build_equals_the_local_transformers_build(
    tmp_path, smollm2_server, embedded_model_dir, shared_data, caplog
):
    """The same greedy build through the server and in process gives the same funnel, pairs and
    judgements, token for token. Why it can: --candidates 1 makes generation greedy and the
    judge is greedy; both load the same bf16 folder in float32 on CPU; --batch-size 1 keeps the
    local engine from left-padding a batch, since the server decodes one request at a time (a
    padded batch changes float sums in the last bits, which can flip a greedy choice). The
    sampled judge retry (for an unparseable score) would not match across engines: the test
    checks first that no judgement needed it."""
    model = str(embedded_model_dir)
    args = [
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
        "--batch-size",
        "1",
        "--model",
        model,
        # the pairs the two engines write are compared, whatever the relevance gate thinks of them
        "--min-relevance",
        "0",
    ]
    assert (
        _build(tmp_path, "served", *args, "--engine", "openai", "--base-url", smollm2_server) == 0
    )
    # transformers serve has no /tokenize: the served model name (its folder) is the tokenizer.
    assert f"Counting tokens with the tokenizer of the served model name {model}" in caplog.text
    assert _build(tmp_path, "local", *args, "--engine", "transformers") == 0

    served_info = json.loads((tmp_path / "served" / "out" / "build_info.json").read_text())
    local_info = json.loads((tmp_path / "local" / "out" / "build_info.json").read_text())
    assert (
        served_info["settings"]["engine"] == "openai"
        and local_info["settings"]["engine"] == "transformers"
    )
    assert served_info["funnel"] == local_info["funnel"]
    assert served_info["funnel"]["sw"]["rows_in"] == 2
    served_pairs, served_judged = _export(tmp_path / "served" / "out")
    local_pairs, local_judged = _export(tmp_path / "local" / "out")
    statuses = [j["status"] for row in local_judged + served_judged for j in row["judgements"]]
    assert statuses and set(statuses) == {"ok"}, f"a judgement needed the sampled retry: {statuses}"
    assert served_judged == local_judged
    assert served_pairs == local_pairs and len(served_pairs) >= 1
    assert served_info["engine_stats"]["calls"] == local_info["engine_stats"]["calls"] > 0

    # The same command again resumes from the work dir: no completion is asked for.
    assert (
        _build(tmp_path, "served", *args, "--engine", "openai", "--base-url", smollm2_server) == 0
    )
    again = json.loads((tmp_path / "served" / "out" / "build_info.json").read_text())
    assert again["engine_stats"]["calls"] == 0 and again["funnel"] == served_info["funnel"]
