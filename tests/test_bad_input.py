"""Bad input through the real `x-instruction` command, one row per case of the bad-input audit:
the exit code (2 bad input or settings, 1 a failure of the environment), ONE error line naming the
option, file or URL, no traceback, and, for what needs no model, an answer within seconds.

Rows that only parse settings run in-process through `builder.cli.main` (a subprocess would add
nothing); rows about folders, the Hub, packages and corpora run the command in a subprocess.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.cli import main

ROOT = Path(__file__).resolve().parents[1]
# From start to the error, for what is checked before any model loads. A command run as a child
# process is held to this in CPU seconds, not wall seconds: on a loaded machine (other test
# processes, other users) the wall time of a 3 s start-up doubles, its CPU time does not.
FAST_S = 5.0
BUILD = [
    "build",
    "--langs",
    "sw",
    "--max-docs",
    "2",
    "--candidates",
    "2",
    "--rounds",
    "1",
    "--work-dir",
    "{d}/work",
    "--output-dir",
    "{d}/out",
]
EVAL = [
    "eval",
    "--langs",
    "sw",
    "--settings",
    "en",
    "--reference-answers",
    "{d}/ref.jsonl",
    "--output-dir",
    "{d}/ev",
]


@dataclasses.dataclass
class Case:
    id: str
    argv: list[str]
    code: int
    expect: str  # a part of the error line; {d} is the case's folder
    files: dict[str, str | bytes] = dataclasses.field(default_factory=dict)
    fast: bool = True  # answered before any model loads
    needs: str | None = None  # "readonly": a read-only mount; "no-vllm": vLLM absent


def _truncated_gz() -> bytes:
    lines = "".join(
        json.dumps({"text": f"Kiswahili ni lugha ya Kibantu, namba {i}, yenye wasemaji wengi."})
        + "\n"
        for i in range(400)
    )
    data = gzip.compress(lines.encode())
    return data[: len(data) // 2]  # a copy cut short


# -- settings: checked in-process (the same check runs for YAML files, flags and Python) ----------
SETTINGS = [
    Case(
        "yaml-wrongtype",
        ["--config", "{d}/c.yaml"],
        2,
        "{d}/c.yaml: rounds must be a whole number, got 'two' (text)",
        {"c.yaml": "rounds: two\n"},
    ),
    Case(
        "yaml-refine-response-string",
        ["--config", "{d}/c.yaml"],
        2,
        "{d}/c.yaml: refine_response must be true or false, got 'false' (text); in YAML write true or false "
        "without quotes",
        {"c.yaml": 'refine_response: "false"\n'},
    ),
    Case(
        "yaml-syntax",
        ["--config", "{d}/c.yaml"],
        2,
        "{d}/c.yaml:3:1: not valid YAML: expected ',' or ']', but got '<stream end>'",
        {"c.yaml": "rounds: 1\nlangs: [sw\n"},
    ),
    Case(
        "yaml-temperature-hot",
        ["--config", "{d}/c.yaml"],
        2,
        "temperature must be a number, got 'hot' (text)",
        {"c.yaml": "temperature: hot\n"},
    ),
    Case(
        "yaml-candidates-float",
        ["--config", "{d}/c.yaml"],
        2,
        "candidates must be a whole number, got 2.7 (a number)",
        {"c.yaml": "candidates: 2.7\n"},
    ),
    Case(
        "yaml-rounds-bool",
        ["--config", "{d}/c.yaml"],
        2,
        "rounds must be a whole number, got True (true or false)",
        {"c.yaml": "rounds: true\n"},
    ),
    Case(
        "yaml-top-p",
        ["--config", "{d}/c.yaml"],
        2,
        "{d}/c.yaml: top_p must be > 0 and <= 1, got 5",
        {"c.yaml": "top_p: 5\n"},
    ),
    Case(
        "yaml-langs-int",
        ["--config", "{d}/c.yaml"],
        2,
        "langs must be text or a list of text, got 5 (a whole number)",
        {"c.yaml": "langs: 5\n"},
    ),
    Case(
        "yaml-max-docs-string",
        ["--config", "{d}/c.yaml"],
        2,
        "max_docs must be a whole number or null, got '5' (text); in YAML write numbers without quotes",
        {"c.yaml": 'max_docs: "5"\n'},
    ),
    Case(
        "yaml-work-dir-list",
        ["--config", "{d}/c.yaml"],
        2,
        "work_dir must be text, got ['a', 'b'] (a list)",
        {"c.yaml": "work_dir: [a, b]\n"},
    ),
    Case(
        "yaml-accept-score",
        ["--config", "{d}/c.yaml"],
        2,
        "accept_score must be between 1 and 5, got 0",
        {"c.yaml": "accept_score: 0\n"},
    ),
    Case("accept9", ["--accept-score", "9"], 2, "accept_score must be between 1 and 5, got 9"),
    Case("temp-neg", ["--temperature", "-1"], 2, "temperature must be >= 0, got -1.0"),
    Case("top-p-5", ["--top-p", "5"], 2, "top_p must be > 0 and <= 1, got 5.0"),
    Case("top-p-0", ["--top-p", "0"], 2, "top_p must be > 0 and <= 1, got 0.0"),
    Case("few-shot-neg", ["--few-shot", "-1"], 2, "few_shot must be >= 0, got -1"),
    Case("heldout-neg", ["--heldout", "-3"], 2, "heldout must be >= 0, got -3"),
    Case("pilot-docs-neg", ["--pilot-docs", "-2"], 2, "pilot_docs must be >= 1, got -2"),
    Case(
        "max-instruction-tokens-0",
        ["--max-instruction-tokens", "0"],
        2,
        "max_instruction_tokens must be >= 1, got 0",
    ),
    Case("seed-neg", ["--seed", "-1"], 2, "seed must be >= 0, got -1"),
    # a flag of the wrong type reads as the YAML value does (argparse adds its usage lines)
    Case(
        "candidates-float-flag",
        ["--candidates", "2.7"],
        2,
        "argument --candidates: candidates must be a whole number, got '2.7'",
    ),
    # a flag overrides the file, and the message says where the bad value came from
    Case(
        "flag-over-yaml",
        ["--config", "{d}/c.yaml", "--top-p", "2"],
        2,
        "top_p must be > 0 and <= 1, got 2.0",
        {"c.yaml": "rounds: 1\n"},
    ),
]

# -- folders, Hub, packages, corpora, eval: the real command in a subprocess -----------------------
COMMANDS = [
    Case(
        "outdir-is-file",
        ["--output-dir", "{d}/outfile"],
        2,
        "--output-dir {d}/outfile is a file, not a folder; choose another --output-dir",
        {"outfile": "mine\n"},
    ),
    Case(
        "outdir-parent-is-file",
        ["--output-dir", "{d}/outfile/data"],
        2,
        "--output-dir {d}/outfile/data: {d}/outfile is a file",
        {"outfile": "mine\n"},
    ),
    Case(
        "workdir-is-file",
        ["--work-dir", "{d}/workfile"],
        2,
        "--work-dir {d}/workfile is a file, not a folder",
        {"workfile": "mine\n"},
    ),
    Case(
        "workdir-readonly",
        ["--work-dir", "{ro}"],
        2,
        "--work-dir {ro}: cannot write there (Read-only file system); choose a writable folder",
        needs="readonly",
    ),
    Case(
        "workdir-in-readonly",
        ["--work-dir", "{ro}/sub"],
        2,
        "--work-dir {ro}/sub: cannot create it in {ro} (Read-only file system)",
        needs="readonly",
    ),
    Case(
        "outdir-readonly",
        ["--output-dir", "{ro}/out"],
        2,
        "--output-dir {ro}/out: cannot create it in {ro} (Read-only file system)",
        needs="readonly",
    ),
    Case(
        "build-push-badrepo",
        ["--push-to-hub", "bad name!!"],
        2,
        "--push-to-hub 'bad name!!' is not a Hub repository id (org/name)",
    ),
    Case(
        "build-push-notoken",
        ["--push-to-hub", "tester/xi"],
        2,
        "--push-to-hub tester/xi: no Hugging Face token found. Log in with `hf auth login`",
    ),
    Case(
        "vllm-missing",
        ["--engine", "vllm"],
        2,
        "the vllm engine needs vLLM, which is not installed",
        needs="no-vllm",
    ),
    Case(
        "config-missing",
        ["--config", "{d}/nope.yaml"],
        2,
        "No such file or directory: {d}/nope.yaml",
    ),
    Case(
        "corpus-badgz",
        ["--corpus", "{d}/corrupt.jsonl.gz", "--max-docs", "400", "--model", "{model}"],
        2,
        "{d}/corrupt.jsonl.gz is not a complete gzip file",
        {"corrupt.jsonl.gz": _truncated_gz()},
        fast=False,
    ),
    Case(
        "hub-missing-offline",
        ["--corpus", "hub:no-such-org/no-such-dataset-xyz", "--model", "{model}"],
        1,
        "network error: Couldn't reach 'no-such-org/no-such-dataset-xyz' on the Hub (OfflineModeIsEnabled)",
        fast=False,
    ),
    Case(
        "eval-confidence",
        [*EVAL, "--confidence", "2"],
        2,
        "confidence must be > 0 and < 1, got 2.0",
    ),
    Case("eval-bootstrap", [*EVAL, "--bootstrap", "0"], 2, "bootstrap must be >= 1, got 0"),
    Case(
        "eval-questions-typo",
        [*EVAL, "--questions", "evalin/q-goood.jsonl"],
        2,
        "question file 'evalin/q-goood.jsonl' does not exist; check the path",
    ),
    Case(
        "eval-questions-dot",
        [*EVAL, "--questions", "./questions"],
        2,
        "question file './questions' does not exist",
    ),
]
# Lines a case may print besides its error line: a hint on how to fix it, argparse's usage.
HINT_LINES = ("HF_HUB_OFFLINE is set", "usage:", " ")
PROGRESS = re.compile(r"\[\d+:\d+[<,].*\]$")  # a tqdm bar (model loading, corpus reading)


def _fill(text: str, folder: Path, extra: dict[str, str]) -> str:
    return text.format(d=folder, **extra)


def _prepare(case: Case, folder: Path, extra: dict[str, str]) -> list[str]:
    for name, content in case.files.items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(
            content, encoding="utf-8"
        )
    (folder / "ref.jsonl").write_text(
        json.dumps({"question_id": 1, "answer": "x"}) + "\n", encoding="utf-8"
    )
    # a YAML row gets no flags besides the folders: a flag would override the value under test
    base = BUILD[:1] + BUILD[-4:] if case.argv[0] == "--config" else BUILD
    argv = case.argv if case.argv[0] == "eval" else [*base, *case.argv]
    return [_fill(arg, folder, extra) for arg in argv]


def _error_line(stderr: str, case_id: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not PROGRESS.search(line)]
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, (case_id, stderr)
    others = [line for line in lines if line not in errors and not line.startswith(HINT_LINES)]
    assert not others, (case_id, others)
    return errors[0]


@pytest.mark.parametrize("case", SETTINGS, ids=lambda c: c.id)
def test_a_bad_setting_is_one_line(case, tmp_path, capsys):
    argv = _prepare(case, tmp_path, {})
    start = time.monotonic()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refuses a flag of the wrong type
        code = exit_.code
    assert time.monotonic() - start < FAST_S
    assert code == case.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert _fill(case.expect, tmp_path, {}) in _error_line(err, case.id)


@pytest.fixture(scope="module")
def readonly_dir(tmp_path_factory):
    """A read-only tmpfs (root can write through permission bits, not through a read-only mount)."""
    path = tmp_path_factory.mktemp("readonly")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.decode().strip()}")
    yield path
    subprocess.run(["umount", str(path)], check=True)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    # no token from a login file either
    return {
        **env,
        "HF_HUB_OFFLINE": "1",
        "HF_TOKEN_PATH": str(tmp_path / "no-token"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }


def _children_cpu_s() -> float:
    """CPU seconds used so far by this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("case", COMMANDS, ids=lambda c: c.id)
def test_the_command_fails_with_one_line(case, tmp_path, request):
    extra = {}
    if case.needs == "readonly":
        extra["ro"] = str(request.getfixturevalue("readonly_dir"))
    if case.needs == "no-vllm" and __import__("importlib").util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    if "{model}" in " ".join(case.argv):
        extra["model"] = str(request.getfixturevalue("tiny_model_dir"))
    argv = _prepare(case, tmp_path, extra)
    start = _children_cpu_s()
    done = subprocess.run(
        [sys.executable, "-m", "builder.cli", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    elapsed = _children_cpu_s() - start
    assert done.returncode == case.code, (case.id, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert _fill(case.expect, tmp_path, extra) in _error_line(done.stderr, case.id)
    if case.fast:
        assert "Loading weights" not in done.stderr  # refused before any model loads
        assert elapsed < FAST_S, (case.id, elapsed)
    if case.id.startswith(("outdir", "build-push")):
        assert not (tmp_path / "out").exists()  # nothing exported


def test_python_callers_get_the_same_checks():
    from builder.config import BuildConfig

    for options, message in [
        (dict(top_p=5.0), "top_p must be > 0 and <= 1, got 5.0"),
        (dict(few_shot=-1), "few_shot must be >= 0, got -1"),
        (dict(refine_response="false"), "refine_response must be true or false, got 'false'"),
        (dict(max_docs="5"), "max_docs must be a whole number or null, got '5'"),
    ]:
        with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
            BuildConfig(langs="sw", **options)
    config = BuildConfig(langs="sw", temperature=1, gpus_per_actor=0)  # a whole number is a number
    assert config.temperature == 1 and config.langs == ["sw"]


def test_an_unexpected_error_keeps_its_traceback_and_asks_for_a_report(capsys):
    from builder.errors import guard

    def broken():
        return None + 1  # a TypeError: a bug, not bad input

    assert guard("x-instruction", broken) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "TypeError" in err
    assert err.splitlines()[-1].startswith(
        "x-instruction: internal error (TypeError). This is a bug in x-instruction"
    )
    with pytest.raises(TypeError):  # -v: the traceback, as Python prints it
        guard("x-instruction", broken, verbose=True)


def test_a_gz_corpus_that_is_plain_text_names_the_file(tmp_path):
    from builder.corpus.readers import read_corpus

    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text('{"text": "Habari za asubuhi"}\n', encoding="utf-8")
    with pytest.raises(
        ValueError, match=f"^{plain} is not a gzip file .*drop the .gz from its name"
    ):
        list(read_corpus(str(plain), "sw"))


def test_environment_failures_are_one_line(tmp_path, capsys, readonly_dir):
    """Real errors from a full disk, a read-only disk and a file that is not a database."""
    import sqlite3

    from builder.errors import guard

    full = tmp_path / "full"
    full.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(full)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        assert (
            guard("x-instruction", lambda: (full / "shard.parquet").write_bytes(b"x" * 1_000_000))
            == 1
        )
    finally:
        subprocess.run(["umount", str(full)], check=True)
    assert capsys.readouterr().err.splitlines() == [
        "x-instruction: error: No space left on device",  # a write to an open file carries no name
        "free space on that disk (or choose another folder), then run the same command again: finished work is kept",
    ]

    assert guard("x-instruction", lambda: (readonly_dir / "x").write_text("x")) == 1
    assert (
        capsys.readouterr().err.splitlines()[0]
        == f"x-instruction: error: Read-only file system: {readonly_dir / 'x'}"
    )

    garbage = tmp_path / "cache.sqlite"
    garbage.write_bytes(os.urandom(4096))
    assert (
        guard("x-instruction", lambda: sqlite3.connect(garbage).execute("select 1 from requests"))
        == 1
    )
    assert (
        capsys.readouterr().err
        == "x-instruction: error: SQLite database error: file is not a database\n"
    )
