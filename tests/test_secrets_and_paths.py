"""Nothing secret or private leaves the machine: a server that echoes the API key in its error
does not put it on the terminal, a password in --base-url is not recorded, and the export names
local corpora relative to where the build ran (the work dir keeps the exact paths)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from _cli_build import build_args, cli, published, read_json, udhr_corpus
from _engine_helpers import Reply, ScriptedServer, free_port
from helpers.stub_builds import stub_build_args

from builder.redact import redact

KEY = "sk-TESTsecretKEY0123456789abcdef"
PASSWORD = "pa55w0rd-hunter2"


def test_redact_removes_keys_bearer_tokens_and_url_passwords(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-1234567890")
    text = (
        "Authorization: Bearer abc.def-ghi; url http://alice:" + PASSWORD + "@host:8000/v1 "
        "and the token tok-1234567890 and hf_explicitSECRET99"
    )
    clean = redact(text, ["hf_explicitSECRET99"])
    for secret in ("abc.def-ghi", PASSWORD, "alice", "tok-1234567890", "hf_explicitSECRET99"):
        assert secret not in clean
    assert "Authorization: Bearer ***" in clean and "http://***@host:8000/v1" in clean


def test_hub_and_openai_share_the_redaction():
    import builder.engines.openai_engine
    import builder.publish.push

    assert builder.publish.push.redact is builder.engines.openai_engine.redact is redact


def test_a_server_echoing_the_key_does_not_print_it(
    tmp_path, monkeypatch, capsys, embedded_model_dir
):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
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
    echo = {"error": {"message": f"bad request; you sent Authorization: Bearer {KEY} (key {KEY})"}}
    with ScriptedServer([Reply(400, echo)]) as server:
        from builder.cli import main

        code = main(
            [
                "build",
                "--langs",
                "sw",
                "--corpus",
                str(corpus),
                "--base-url",
                server.url,
                "--model",
                "served",
                "--tokenizer",
                "smollm2-135m",
                "--candidates",
                "1",
                "--work-dir",
                str(tmp_path / "w"),
                "--output-dir",
                str(tmp_path / "o"),
            ]
        )
    err = capsys.readouterr().err
    assert code == 1 and "bad request" in err, err
    # the key was really sent
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in err
    assert "Bearer ***" in err


def test_base_url_password_is_not_recorded(tmp_path, shared_data, capsys):
    url = f"http://alice:{PASSWORD}@127.0.0.1:9/v1"
    args = build_args(
        tmp_path,
        udhr_corpus(tmp_path / "corpus", shared_data),
        "sw",
        "--engine",
        "openai",
        "--base-url",
        url,
    )
    run = cli(args, capsys)  # the scripted engine stands in for the server
    assert run.code == 0, run.err
    for path in (
        tmp_path / "out" / "build_info.json",
        tmp_path / "work" / "build_info.json",
        tmp_path / "out" / "README.md",
    ):
        assert PASSWORD not in path.read_text(encoding="utf-8"), path
    assert (
        read_json(tmp_path / "out" / "build_info.json")["settings"]["base_url"]
        == "http://***@127.0.0.1:9/v1"
    )


@pytest.mark.parametrize("inside", [False, True], ids=["corpus-outside-cwd", "corpus-inside-cwd"])
def test_export_names_local_corpora_relative_to_the_build(
    tmp_path, shared_data, capsys, monkeypatch, inside
):
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
    assert read_json(out / "build_info.json")["settings"]["corpus"] == expected_file.replace(
        "sw.", "{lang}."
    )
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".json", ".parquet"):
            assert str(tmp_path).encode() not in path.read_bytes(), path
    # the exact provenance stays in the work dir
    assert read_json(tmp_path / "work" / "build_info.json")["settings"]["corpus"] == corpus


# ----- one redaction at the logging layer (issue 20, point 1) -----

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from stub_server import StubServer  # noqa: E402

HF = "hf_TESTtokenABCDEF0123456789"
USER = "alice"


def _secret_forms() -> list[bytes]:
    """Every form a credential could take in an output: as typed, URL-encoded, as the Basic-auth
    value an HTTP client makes of user:password."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [s.encode() for s in (KEY, HF, PASSWORD, urllib.parse.quote(PASSWORD, safe=""), basic)]


def _leaks(outputs: dict[str, bytes], folder: Path) -> list[str]:
    """Where any secret form appears: in the named outputs or in any file under `folder`."""
    found = []
    files = {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for where, data in {**outputs, **files}.items():
        found += [f"{where}: {secret.decode()}" for secret in _secret_forms() if secret in data]
    return found


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    return {
        **env,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
        "HF_TOKEN": HF,
        **extra,
    }


def _command(tmp_path: Path, command: str, url: str) -> list[str]:
    if command == "build":
        from bench_throughput import write_corpus

        write_corpus(tmp_path / "corpus", ["sw"], 4)
        # no --engine: --base-url alone must imply the openai engine
        return stub_build_args(tmp_path, "sw", url, engine=None)
    return [
        "eval",
        "--langs",
        "sw",
        "--settings",
        "en",
        "--limit",
        "2",
        "--model",
        "served",
        "--base-url",
        url,
        "--reference-model",
        "served",
        "--reference-base-url",
        url,
        "--output-dir",
        str(tmp_path / "ev"),
    ]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args],
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


@pytest.mark.parametrize("credential", ["url", "key"])
@pytest.mark.parametrize("command", ["build", "eval"])
def test_no_credential_reaches_any_output(tmp_path, command, credential):
    """A build and an eval with a password in the base URL or a key in OPENAI_API_KEY, HF_TOKEN
    set, against a server that quotes the request's headers (Authorization included) in an error,
    with -v so every library's debug lines are printed too: no credential in stdout, stderr, the
    work dir, the export or the eval report, in any form."""
    with StubServer(echo_status=503) as stub:  # 503: the engine logs the quote, retries, goes on
        url = (
            f"http://{USER}:{PASSWORD}@127.0.0.1:{stub.port}/v1"
            if credential == "url"
            else stub.url
        )
        env = _env(**({"OPENAI_API_KEY": KEY} if credential == "key" else {}))
        done = _run(["-v", *_command(tmp_path, command, url)], env, tmp_path)
        assert stub.stats()["echoed"] == 1
    err = done.stderr.decode()
    assert done.returncode == 0, err[-3000:]
    # The server did quote the credential, and the line that reports it is masked, not dropped.
    scheme = "Basic" if credential == "url" else "Bearer"
    assert f"'authorization': '{scheme} ***'" in err
    if credential == "url":
        assert f"http://***@127.0.0.1:{stub.port}/v1/chat/completions: HTTP 503" in err
    if credential == "url" and command == "build":
        assert f"Counting tokens with the server's http://***@127.0.0.1:{stub.port}/tokenize" in err
    assert "plain http://" not in err  # 127.0.0.1 is this machine
    assert _leaks({"stdout": done.stdout, "stderr": done.stderr}, tmp_path) == []


@pytest.mark.parametrize("command", ["build", "eval"])
def test_a_final_error_that_quotes_the_credential_is_masked(tmp_path, command):
    """HTTP 400 ends the command with the server's message, which quotes the Basic-auth header
    made of the URL's user:password: the error line keeps the message and masks the value."""
    with StubServer(echo_status=400) as stub:
        url = f"http://{USER}:{PASSWORD}@127.0.0.1:{stub.port}/v1"
        done = _run(_command(tmp_path, command, url), _env(), tmp_path)
    err = done.stderr.decode()
    assert done.returncode in (1, 2), err[-3000:]
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert (
        len(errors) == 1 and "HTTP 400" in errors[0] and "'authorization': 'Basic ***'" in errors[0]
    ), err[-3000:]
    assert _leaks({"stdout": done.stdout, "stderr": done.stderr}, tmp_path) == []


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "-v"])
@pytest.mark.parametrize("command", ["build", "eval"])
def test_server_down_error_shows_no_password(tmp_path, command, verbose):
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port()}/v1"  # nothing listens there
    done = _run(["-v"] * verbose + _command(tmp_path, command, url), _env(), tmp_path)
    err = done.stderr.decode()
    # a server down: the run failed (errors.guard), build and eval alike
    assert done.returncode == 1, err[-3000:]
    assert "connection refused" in err.lower()
    assert "cannot reach http://***@127.0.0.1:" in err
    if verbose:
        assert "Traceback" in err  # -v re-raises: Python's traceback, masked
    assert _leaks({"stdout": done.stdout, "stderr": done.stderr}, tmp_path) == []


PROBE = """
import logging, os, sys, warnings
from builder.errors import guard
from builder.redact import register_url

SECRET = os.environ["PROBE_PASSWORD"]


def body():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    register_url(f"http://alice:{SECRET}@127.0.0.1:9/v1")  # as the config does with --base-url
    lib = logging.getLogger("somelib")  # a library's own handler, added after the command set up logging
    lib.propagate = False
    lib.addHandler(logging.StreamHandler(sys.stderr))
    lib.warning("somelib says %s", SECRET)
    import transformers.utils.logging as transformers_logging  # its handler does not propagate to root

    transformers_logging.get_logger("transformers.probe").warning("transformers says " + SECRET)
    logging.getLogger("httpx").info("request with key %s and token %s", os.environ["OPENAI_API_KEY"],
                                    os.environ["HF_TOKEN"])
    try:
        raise OSError(f"inner {SECRET}")
    except OSError:
        logging.getLogger("probe").exception("caught")
    warnings.warn(f"printed warning {SECRET}")
    logging.captureWarnings(True)
    warnings.warn(f"logged warning {SECRET}")
    raise RuntimeError(f"boom at http://alice:{SECRET}@h/v1 with {SECRET}")  # a bug: traceback printed


sys.exit(guard("probe", body, verbose="-v" in sys.argv))
"""


@pytest.mark.parametrize("verbose", [False, True], ids=["internal-error", "-v"])
def test_every_log_channel_is_masked(tmp_path, verbose):
    """Log records of our modules and of libraries with handlers of their own (transformers, one
    added later), a logged exception, printed and captured warnings, and the traceback of an
    internal error (printed by guard, or by Python with -v): masked, with the rest kept."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE, encoding="utf-8")
    env = _env(OPENAI_API_KEY=KEY, PROBE_PASSWORD=PASSWORD)
    done = subprocess.run(
        [sys.executable, str(script)] + ["-v"] * verbose,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    err = done.stderr.decode()
    assert done.returncode == 1, err
    for line in (
        "somelib says ***",
        "transformers says ***",
        "request with key *** and token ***",
        "caught",
        "OSError: inner ***",
        "printed warning ***",
        "py.warnings",
        "logged warning ***",
        "RuntimeError: boom at http://***@h/v1 with ***",
    ):
        assert line in err, (line, err)
    assert _leaks({"stdout": done.stdout, "stderr": done.stderr}, tmp_path) == []


# ----- a credential over plain http:// to another machine (point 2) -----
# "Another machine" is a name under .invalid: it never resolves, so nothing leaves this one.


@pytest.mark.parametrize("credential", ["key", "url"])
@pytest.mark.parametrize("command", ["build", "eval"])
def test_a_credential_to_a_remote_plain_http_host_is_warned_before_the_first_request(
    tmp_path, command, credential
):
    url = f"http://{USER}:{PASSWORD}@x.invalid/v1" if credential == "url" else "http://x.invalid/v1"
    env = _env(**({"OPENAI_API_KEY": KEY} if credential == "key" else {}))
    done = _run(_command(tmp_path, command, url), env, tmp_path)
    lines = done.stderr.decode().splitlines()
    warned = [i for i, line in enumerate(lines) if "plain http://" in line]
    # The request then fails on the name (the network error is expected).
    failed = [i for i, line in enumerate(lines) if ": error: " in line and "x.invalid" in line]
    # once, and before the request
    assert len(warned) == 1 and failed and warned[0] < failed[0], lines
    what = (
        "the API key in $OPENAI_API_KEY"
        if credential == "key"
        else "the user:password of the base URL"
    )
    assert lines[warned[0]].endswith(  # eval's progress bar may share the line
        f"WARNING builder.engines.credentials: {what} is sent over plain http:// to x.invalid, which is not this "
        "machine: anyone on the network path can read it. Use an https:// URL, or reach the server through "
        "127.0.0.1 (e.g. an SSH tunnel)"
    )
    assert _leaks({"stdout": done.stdout, "stderr": done.stderr}, tmp_path) == []


def test_the_plain_http_warning_is_once_per_process_and_only_for_a_remote_host(monkeypatch, caplog):
    import builder.engines.credentials as credentials
    from builder.engines.openai_engine import OpenAIEngine

    monkeypatch.setattr(credentials, "_warned", False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    for local in (
        "http://127.0.0.1:8000/v1",
        "http://127.3.4.5/v1",
        "http://[::1]:8000/v1",
        "http://localhost/v1",
        "https://x.invalid/v1",
    ):
        OpenAIEngine("m", base_url=local, progress=False)._headers()
    assert "plain http://" not in caplog.text
    monkeypatch.delenv("OPENAI_API_KEY")
    # no credential: nothing to say
    OpenAIEngine("m", base_url="http://x.invalid/v1", progress=False)._headers()
    assert "plain http://" not in caplog.text
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    for host in ("x.invalid", "y.invalid", "x.invalid"):  # two engines, three requests: one warning
        OpenAIEngine("m", base_url=f"http://{host}/v1", progress=False)._headers()
    assert caplog.text.count("plain http://") == 1 and "to x.invalid" in caplog.text


# ----- URL credentials and OPENAI_API_KEY together (point 3) -----


@pytest.mark.parametrize("command", ["build", "eval"])
def test_url_credentials_with_a_key_are_refused_at_start(tmp_path, command):
    """Refused in one line naming both, exit 2, before prepare, any model or any request
    (before, aiohttp refused at the first completion, after prepare, in words naming no option)."""
    with ScriptedServer([Reply(200, {"count": 3, "tokens": [1, 2, 3]})]) as server:
        url = server.url.replace("http://", f"http://{USER}:{PASSWORD}@")
        args = _command(tmp_path, command, url if command == "build" else server.url)
        # only the judge's URL has them: the message names the flag it came from
        if command == "eval":
            args += ["--judge-model", "served", "--judge-base-url", url]
        done = _run(args, _env(OPENAI_API_KEY=KEY), tmp_path)
    flag = "--base-url" if command == "build" else "--judge-base-url"
    masked = url.replace(f"{USER}:{PASSWORD}@", "***@")
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    assert done.stderr.decode().splitlines() == [
        f"x-instruction{' eval' * (command == 'eval')}: error: {flag} {masked} carries a user:password and "
        f"OPENAI_API_KEY is set too, but a request sends only one credential: remove the user:password@ from "
        f"{flag}, or unset OPENAI_API_KEY"
    ]
    assert server.requests == []
    assert not (tmp_path / "work").exists() and not (tmp_path / "ev").exists()


def test_the_engine_refuses_url_credentials_with_a_key(monkeypatch):
    """Python callers, and a URL from $OPENAI_BASE_URL: the same refusal, naming those."""
    from builder.engines.openai_engine import OpenAIEngine

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://{USER}:{PASSWORD}@127.0.0.1:9/v1")
    with pytest.raises(
        ValueError, match=r"^base_url \(or \$OPENAI_BASE_URL\) http://\*\*\*@127.0.0.1:9/v1 carries"
    ):
        OpenAIEngine("m", progress=False)
    monkeypatch.delenv("OPENAI_API_KEY")
    # one credential: fine
    assert OpenAIEngine("m", progress=False).base_url.startswith(f"http://{USER}:")
