"""Nothing secret or private leaves the machine: a server that echoes the API key in its error
does not put it on the terminal, a password in --base-url is not recorded, and the export names
local corpora relative to where the build ran (the work dir keeps the exact paths)."""

from __future__ import annotations

import json

import pytest

from _cli_build import build_args, cli, published, read_json, udhr_corpus
from _engine_helpers import Reply, ScriptedServer
from builder.redact import redact

KEY = "sk-TESTsecretKEY0123456789abcdef"
PASSWORD = "pa55w0rd-hunter2"


def test_redact_removes_keys_bearer_tokens_and_url_passwords(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-1234567890")
    text = ("Authorization: Bearer abc.def-ghi; url http://alice:" + PASSWORD + "@host:8000/v1 "
            "and the token tok-1234567890 and hf_explicitSECRET99")
    clean = redact(text, ["hf_explicitSECRET99"])
    for secret in ("abc.def-ghi", PASSWORD, "alice", "tok-1234567890", "hf_explicitSECRET99"):
        assert secret not in clean
    assert "Authorization: Bearer ***" in clean and "http://***@host:8000/v1" in clean


def test_hub_and_openai_share_the_redaction():
    import builder.engines.openai_engine
    import builder.publish.push

    assert builder.publish.push.redact is builder.engines.openai_engine.redact is redact


def test_a_server_echoing_the_key_does_not_print_it(tmp_path, monkeypatch, capsys, embedded_model_dir):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    corpus = tmp_path / "one.jsonl"
    corpus.write_text(json.dumps({"text": "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa. Wote wamejaliwa "
                                          "akili na dhamiri, hivyo yapasa watendeane kindugu."}) + "\n")
    echo = {"error": {"message": f"bad request; you sent Authorization: Bearer {KEY} (key {KEY})"}}
    with ScriptedServer([Reply(400, echo)]) as server:
        from builder.cli import main

        code = main(["build", "--langs", "sw", "--corpus", str(corpus), "--base-url", server.url, "--model", "served",
                     "--tokenizer", "smollm2-135m", "--candidates", "1", "--work-dir", str(tmp_path / "w"),
                     "--output-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "bad request" in err, err
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"  # the key was really sent
    assert KEY not in err
    assert "Bearer ***" in err


def test_base_url_password_is_not_recorded(tmp_path, shared_data, capsys):
    url = f"http://alice:{PASSWORD}@127.0.0.1:9/v1"
    args = build_args(tmp_path, udhr_corpus(tmp_path / "corpus", shared_data), "sw",
                      "--engine", "openai", "--base-url", url)
    run = cli(args, capsys)  # the scripted engine stands in for the server
    assert run.code == 0, run.err
    for path in (tmp_path / "out" / "build_info.json", tmp_path / "work" / "build_info.json",
                 tmp_path / "out" / "README.md"):
        assert PASSWORD not in path.read_text(encoding="utf-8"), path
    assert read_json(tmp_path / "out" / "build_info.json")["settings"]["base_url"] == "http://***@127.0.0.1:9/v1"


@pytest.mark.parametrize("inside", [False, True], ids=["corpus-outside-cwd", "corpus-inside-cwd"])
def test_export_names_local_corpora_relative_to_the_build(tmp_path, shared_data, capsys, monkeypatch, inside):
    corpus_dir = tmp_path / "data" / "crawl ü"
    corpus = udhr_corpus(corpus_dir, shared_data)
    run_dir = tmp_path if inside else tmp_path / "elsewhere"
    run_dir.mkdir(exist_ok=True)
    monkeypatch.chdir(run_dir)
    run = cli(build_args(tmp_path, corpus), capsys)
    assert run.code == 0, run.err
    out = tmp_path / "out"
    expected_file = "data/crawl ü/sw.jsonl" if inside else "sw.jsonl"
    assert {row["source"]["corpus"] for row in published(out)} == {expected_file}
    assert read_json(out / "build_info.json")["settings"]["corpus"] == expected_file.replace("sw.", "{lang}.")
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".json", ".parquet"):
            assert str(tmp_path).encode() not in path.read_bytes(), path
    # the exact provenance stays in the work dir
    assert read_json(tmp_path / "work" / "build_info.json")["settings"]["corpus"] == corpus
