"""Bad input found before any model loads, `push` on the same exit codes as `build`, a full disk
under the work dir's SQLite, and the small mismatches of the audit's second pass (issue 20,
points 4-7). Beside tests/test_bad_input.py, whose rows run the real command in a subprocess:
here the command runs in-process, with the engine factory replaced by one that fails the test,
so "before any model loads" is proven, not timed.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from _cli_build import build_args, cli, published, udhr_corpus

from builder.cli import main

LOGIN = "Log in with `hf auth login`"


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if ": error: " in line]


def _refused(args: list[str], capsys, monkeypatch) -> str:
    """Run `x-instruction ARGS` with every model factory failing the test; return the one error
    line of a refusal with exit code 2."""
    import builder.judge.harness
    import builder.pipeline.runner

    def no_model(*args, **kwargs):
        pytest.fail("a model was loaded before the bad input was refused")

    monkeypatch.setattr(builder.pipeline.loaded_models, "create_engine", no_model)
    monkeypatch.setattr(builder.judge.harness.EngineSpec, "build", no_model)
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    return lines[0]


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


# -- 4. `x-instruction push`: bad input exits 2, before any request, naming the flag ---------------
@pytest.fixture
def export(tmp_path, monkeypatch):
    from _hub_fixture import synthetic_build

    from builder.publish.export import export_local

    # Nothing listens here: a request to the Hub would fail with a network error (exit 1).
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_TOKEN", "hf_" + "0" * 32)
    build = synthetic_build(["sw"], rows=3)
    return export_local(tmp_path / "export", build.configs, build.build_info)


def test_push_with_an_invalid_repo_id_exits_2_naming_repo(export, capsys, monkeypatch):
    line = _refused(
        ["push", "--repo", "bad name!!", "--output-dir", str(export)], capsys, monkeypatch
    )
    assert "--repo 'bad name!!' is not a Hub repository id (org/name)" in line


def test_push_without_a_token_exits_2_saying_how_to_log_in(export, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    from huggingface_hub import constants

    # no login file either
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    line = _refused(
        ["push", "--repo", "tester/xi", "--output-dir", str(export)], capsys, monkeypatch
    )
    assert "--repo tester/xi: no Hugging Face token found" in line
    assert LOGIN in line and "HF_TOKEN" in line


@pytest.mark.parametrize("folder", ["missing", "not-an-export"])
def test_push_of_a_folder_that_is_not_an_export_exits_2_naming_output_dir(
    export, tmp_path, folder, capsys, monkeypatch
):
    target = tmp_path / folder
    if folder == "not-an-export":
        target.mkdir()
        (target / "notes.txt").write_text("mine")
    line = _refused(
        ["push", "--repo", "tester/xi", "--output-dir", str(target)], capsys, monkeypatch
    )
    assert f"--output-dir {target}" in line
    assert (
        "is not an export folder (it does not exist)"
        if folder == "missing"
        else "holds no Parquet shards"
    ) in line


# -- 5. every check that needs no model runs before the model loads ---------------------------------
SEED_CASES = {
    "missing": (None, "is not a file; pass embedded, bactrian-x"),
    "fields": ('{"prompt": "Say hi", "response": "Habari"}\n', "has no column 'instruction'"),
    "not-json": ("instruction,output\nSay hi,Habari\n", "is not valid JSON"),
    "txt": ("Say hi\tHabari\n", "seed files must be .jsonl or .parquet"),
}


@pytest.mark.parametrize("case", SEED_CASES, ids=str)
def test_a_bad_seeds_file_is_refused_before_the_model_loads(case, tmp_path, capsys, monkeypatch):
    content, expect = SEED_CASES[case]
    seeds = tmp_path / ("seeds.txt" if case == "txt" else "seeds.jsonl")
    if content is not None:
        seeds.write_text(content, encoding="utf-8")
    line = _refused(
        build_args(tmp_path, "embedded", "sw", "--seeds", str(seeds)), capsys, monkeypatch
    )
    assert str(seeds) in line and expect in line
    assert not (tmp_path / "work" / "sw").exists()


def test_a_csv_corpus_is_refused_before_the_model_loads(tmp_path, capsys, monkeypatch):
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("text\nHabari za asubuhi\n", encoding="utf-8")
    line = _refused(build_args(tmp_path, str(corpus)), capsys, monkeypatch)
    assert f"{corpus}: unsupported file type; supported: .jsonl" in line


def test_a_csv_matched_by_a_lang_pattern_is_refused_before_the_model_loads(
    tmp_path, capsys, monkeypatch
):
    (tmp_path / "sw.csv").write_text("text\nHabari\n", encoding="utf-8")
    line = _refused(build_args(tmp_path, str(tmp_path / "{lang}.csv")), capsys, monkeypatch)
    assert f"{tmp_path / 'sw.csv'}: unsupported file type" in line


@pytest.mark.parametrize("case", ["wrong-column", "not-json"])
def test_a_damaged_first_row_of_the_corpus_is_refused_before_the_model_loads(
    case, tmp_path, capsys, monkeypatch
):
    corpus = tmp_path / "sw.jsonl"
    corpus.write_text(
        '{"content": "Habari za asubuhi"}\n' if case == "wrong-column" else "text: Habari\n"
    )
    line = _refused(build_args(tmp_path, str(corpus)), capsys, monkeypatch)
    assert (
        f"{corpus}:1 has no column 'text'; available columns: content"
        if case == "wrong-column"
        else f"{corpus}:1 is not valid JSON"
    ) in line


def test_overwrite_into_a_folder_with_foreign_shards_is_refused_before_the_model_loads(
    tmp_path, capsys, monkeypatch
):
    foreign = tmp_path / "out" / "sw" / "train-00000-of-00003.parquet"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"not a shard this builder wrote")
    line = _refused(build_args(tmp_path, "embedded", "sw", "--overwrite"), capsys, monkeypatch)
    assert (
        "shard files this builder did not write" in line
        and "sw/train-00000-of-00003.parquet" in line
    )
    assert "Move them away" in line
    assert foreign.read_bytes() == b"not a shard this builder wrote"
    assert not (tmp_path / "work" / "sw").exists()


def test_the_same_check_refuses_shards_that_appear_during_the_build(
    tmp_path, shared_data, capsys, monkeypatch
):
    """The check before the export is moved into place is the same function: a foreign shard put
    into a config folder while the build ran is refused there too."""
    import builder.publish.export_dir as export_dir

    args = build_args(tmp_path, udhr_corpus(tmp_path / "corpus", shared_data), "sw", "--overwrite")
    calls = []
    real = export_dir.check_export_target

    def spy(root, overwrite=False, configs=()):
        calls.append(set(configs))
        if len(calls) == 3:  # the build started (preflight, staging); now the user drops a shard in
            (tmp_path / "out" / "candidates").mkdir(parents=True, exist_ok=True)
            (tmp_path / "out" / "candidates" / "train-00009-of-00010.parquet").write_bytes(b"x")
        return real(root, overwrite, configs)

    monkeypatch.setattr(export_dir, "check_export_target", spy)
    import builder.pipeline.preflight as preflight

    monkeypatch.setattr(preflight, "check_export_target", spy)
    (tmp_path / "out").mkdir()
    run = cli(args, capsys)
    assert run.code == 2, run.err
    assert "candidates/train-00009-of-00010.parquet" in run.err and "Move them away" in run.err
    assert calls[0] == {"sw", "candidates"} and "candidates" in calls[-1]


def test_eval_reference_answers_missing_some_questions_is_refused_before_any_answer(
    tmp_path, capsys, monkeypatch
):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"question_id": i, "turns": [f"Question {i}?"]}) + "\n" for i in (1, 2, 3)
        )
    )
    refs = tmp_path / "ref.jsonl"
    refs.write_text(json.dumps({"question_id": 1, "answer": "Jibu."}) + "\n")
    line = _refused(
        [
            "eval",
            "--langs",
            "sw",
            "--settings",
            "en",
            "--questions",
            str(questions),
            "--reference-answers",
            str(refs),
            "--output-dir",
            str(tmp_path / "ev"),
        ],
        capsys,
        monkeypatch,
    )
    assert f"{refs} has no answer for question ids ['2', '3'] (sw, en)" in line


# -- 6. a full disk under the work dir's SQLite ----------------------------------------------------
RESUME = "then run the same command again: finished work is kept"


def _fill(cache) -> None:
    for i in range(10_000):
        cache.put_many({f"key-{i}-{j}": "x" * 2000 for j in range(8)})


def test_sqlite_full_names_the_file_the_cause_and_the_resume(tmp_path, capsys):
    """SQLITE_FULL, as a full disk gives it, from a page limit on the connection."""
    from builder.engines.cache import RequestCache
    from builder.errors import guard

    cache = RequestCache(tmp_path / "work" / "cache.sqlite")
    cache._db().execute("PRAGMA max_page_count = 8")
    assert guard("x-instruction", lambda: _fill(cache)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"x-instruction: error: No space left on device (SQLite: database or disk is full): "
        f"{tmp_path / 'work' / 'cache.sqlite'}"
    )
    assert err[1].startswith("free space on that disk") and err[1].endswith(RESUME)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 kB tmpfs (the test runs as root, as CI does); skipped where mounting is not allowed."""
    full = tmp_path / "full"
    full.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield full
    subprocess.run(["umount", str(full)], check=True)


def _fill_up(folder) -> None:
    with pytest.raises(OSError, match="No space left"), open(folder / "filler", "wb") as f:
        f.write(b"x" * 1_000_000)


def test_sqlite_on_a_really_full_disk(small_disk, capsys):
    """A cache that fills the disk (SQLITE_FULL), then a later run opening it while the disk is
    still full (SQLite says "disk I/O error": its shared-memory file cannot be created)."""
    from builder.engines.cache import RequestCache
    from builder.errors import guard

    path = small_disk / "work" / "cache.sqlite"
    cache = RequestCache(path)
    assert guard("x-instruction", lambda: _fill(cache)) == 1
    cache.close()
    full, hint = capsys.readouterr().err.splitlines()
    assert (
        full
        == f"x-instruction: error: No space left on device (SQLite: database or disk is full): {path}"
    )
    assert hint.endswith(RESUME)

    for extra in ("-wal", "-shm"):  # as a run that ended cleanly leaves it
        path.with_name(path.name + extra).unlink(missing_ok=True)
    _fill_up(small_disk)
    assert guard("x-instruction", lambda: RequestCache(path).get("key")) == 1
    reopened, hint = capsys.readouterr().err.splitlines()
    assert reopened.startswith("x-instruction: error: ") and reopened.endswith(f": {path}")
    assert (
        "(SQLite: disk I/O error)" in reopened or "(SQLite: database or disk is full)" in reopened
    )
    assert hint.endswith(RESUME)


def test_a_shard_on_a_really_full_disk_names_the_shard_and_leaves_no_temporary_file(
    small_disk, capsys
):
    import pyarrow as pa

    from builder.core.workdir import StageDir
    from builder.errors import guard

    stage = StageDir(small_disk / "work", "sw", "prepare", "abc")
    table = pa.table({"text": [os.urandom(1000).hex() for _ in range(200)]})  # 400 kB: does not fit
    assert guard("x-instruction", lambda: stage.write(0, table)) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"x-instruction: error: No space left on device: {stage.shard(0)}",
        "free space on that disk (or choose another folder), " + RESUME,
    ]
    assert list(stage.path.iterdir()) == []


def test_sqlite_io_error_names_the_file_and_the_disk():
    from builder.engines.cache import storage_error
    from builder.errors import failure_for

    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = 10 | (3 << 8)  # SQLITE_IOERR_WRITE
    failure = failure_for(storage_error("w/cache.sqlite", error))
    assert failure.code == 1
    assert (
        failure.message
        == "disk I/O error, the disk may be full (SQLite: disk I/O error): w/cache.sqlite"
    )
    assert "is it full?" in failure.hint and failure.hint.endswith(RESUME)
    assert storage_error("w/cache.sqlite", sqlite3.OperationalError("no such table: x")) is None


def test_a_build_stopped_by_a_full_cache_resumes_and_leaves_no_temporary_file(
    tmp_path, shared_data, capsys, monkeypatch
):
    args = build_args(tmp_path, udhr_corpus(tmp_path / "corpus", shared_data))
    real = sqlite3.connect

    def small_disk(path, *args, **kwargs):
        db = real(path, *args, **kwargs)
        if str(path).endswith("cache.sqlite"):
            # Small pages (set before the file is created), and few of them: the first answers
            # the build caches fill the file (its schema takes 3).
            db.execute("PRAGMA page_size = 512")
            db.execute("PRAGMA max_page_count = 4")
        return db

    with monkeypatch.context() as patch:
        patch.setattr(sqlite3, "connect", small_disk)
        run = cli(args, capsys)
    assert run.code == 1, run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert lines[-2] == (
        f"x-instruction: error: No space left on device (SQLite: database or disk is full): "
        f"{tmp_path / 'work' / 'cache.sqlite'}"
    ), run.err
    assert lines[-1].endswith(RESUME)

    run = cli(args, capsys)
    assert run.code == 0, run.err
    assert published(tmp_path / "out")
    assert not [p for p in (tmp_path / "work").rglob("*") if ".tmp-" in p.name]


def test_a_done_marker_that_fails_to_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    """A full disk while the `_DONE` marker is written: the temporary file (created, 0 bytes) is
    removed, not left beside the shards."""
    import pathlib

    from builder.core.workdir import StageDir

    stage = StageDir(tmp_path, "sw", "prepare", "abc")
    stage.path.mkdir(parents=True)

    def full_disk(self, text, encoding=None):
        self.touch()  # open() created the file; the write found no space
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", full_disk)
    with pytest.raises(OSError, match="No space left") as info:
        stage.mark_complete()
    assert sorted(p.name for p in stage.path.iterdir()) == []
    assert info.value.filename == str(stage.path / "_DONE")  # the report names the file


def test_a_resume_sweeps_temporary_files_of_dead_runs(tmp_path, shared_data, capsys):
    args = build_args(tmp_path, udhr_corpus(tmp_path / "corpus", shared_data))
    assert cli(args, capsys).code == 0
    work = tmp_path / "work" / "sw"
    prepare = next(work.glob("prepare-*"))
    generate = next(work.glob("generate-*"))
    dead, alive = _dead_pid(), os.getppid()  # pytest's parent: alive for the whole test
    (prepare / "_DONE").unlink()  # the run that left these died before prepare was done
    left = [
        prepare / f"._DONE.tmp-{dead}",
        prepare / f"shard-00000.tmp-{dead}",
        generate / f".shard-00001.parquet.sha256.tmp-{dead}",
        generate / f"shard-00001.tmp-{dead}",
    ]
    for path in left:
        path.write_bytes(b"")
    live = generate / f"shard-00003.tmp-{alive}"  # another process on this host is writing it
    live.write_bytes(b"")

    run = cli(args, capsys)
    assert run.code == 0, run.err
    assert not [p for p in left if p.exists()]
    assert live.exists()
    assert (prepare / "_DONE").is_file()


# -- 7. small mismatches -------------------------------------------------------------------------
def test_config_given_a_folder_names_the_flag_and_wants_a_yaml_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "A").mkdir()
    line = _refused(["build", "--config", str(tmp_path / "A")], capsys, monkeypatch)
    assert (
        line
        == f"x-instruction: error: {tmp_path / 'A'} is a folder; --config wants a YAML file of option: value "
        "lines, e.g. build.yaml"
    )


def test_an_export_with_a_users_file_is_refused_without_overwrite(
    tmp_path, shared_data, capsys, monkeypatch
):
    args = build_args(tmp_path, udhr_corpus(tmp_path / "corpus", shared_data))
    assert cli(args, capsys).code == 0
    notes = tmp_path / "out" / "notes.txt"
    notes.write_text("keep me\n")
    line = _refused(args, capsys, monkeypatch)
    assert (
        "already holds files this builder did not write (notes.txt)" in line
        and "--overwrite" in line
    )
    monkeypatch.undo()
    run = cli(args + ["--overwrite"], capsys)
    assert run.code == 0, run.err
    assert notes.read_text() == "keep me\n"


def test_an_empty_corpus_says_it_has_no_rows_before_the_model_loads(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    line = _refused(build_args(tmp_path, str(empty)), capsys, monkeypatch)
    assert line == (
        f"x-instruction: error: the corpus has no rows: nothing to read for sw in {empty} (the file is "
        "empty or holds only blank lines). Pass --corpus a file or folder with text"
    )


def test_a_corpus_of_blank_lines_says_it_has_no_rows_after_reading_it(tmp_path, capsys):
    """Blank lines are known only once the file was read (by prepare, after the model loaded)."""
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n\n")
    run = cli(build_args(tmp_path, str(blank)), capsys)
    assert run.code == 2, run.err
    assert _error_lines(run.err) == [
        f"x-instruction: error: the corpus has no rows: nothing to read for sw in {blank} "
        "(the file is empty or holds only blank lines). Pass --corpus a file or folder "
        "with text"
    ], run.err
    assert "--accept-score" not in run.err


def test_an_empty_language_beside_one_with_rows_is_not_refused(tmp_path, capsys, monkeypatch):
    (tmp_path / "sw.jsonl").write_text('{"text": "Habari za asubuhi, rafiki yangu mpendwa."}\n')
    (tmp_path / "fi.jsonl").write_text("")
    from builder.corpus.readers import check_corpus

    assert set(check_corpus(str(tmp_path / "{lang}.jsonl"), ["sw", "fi"])) == {"sw", "fi"}
