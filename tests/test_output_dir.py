"""`--output-dir` is not the builder's to clobber: a folder holding a user's files (an earlier
export included) is refused (before any model runs) unless --overwrite, no file the builder did
not write is ever deleted,
and an export that fails half-way (a full disk) leaves the previous one intact."""

from __future__ import annotations

import errno
import hashlib

import pytest
from _cli_build import build_args, cli, published, read_json, udhr_corpus

from builder.publish.export_dir import MANIFEST

USER_FILES = {
    "README.md": b"# My dataset\nWritten by hand.\n",
    "build_info.json": b'{"mine": true}\n',
    "sw/train-00000-of-00003.parquet": b"not a shard this builder wrote",
    "notes.txt": b"keep me\n",
}


def _digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def args(tmp_path, shared_data):
    return build_args(tmp_path, udhr_corpus(tmp_path / "corpus", shared_data))


@pytest.fixture
def users_folder(tmp_path):
    out = tmp_path / "out"
    for name, data in USER_FILES.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return out


def test_a_folder_of_user_files_is_refused_before_any_work(tmp_path, args, users_folder, capsys):
    before = _digests(users_folder)
    run = cli(args, capsys)
    assert run.code == 2
    err = run.err.strip()
    assert len(err.splitlines()) == 1, err
    for name in USER_FILES:
        assert name in err
    assert "--overwrite" in err
    assert _digests(users_folder) == before
    assert run.calls == 0 and not (tmp_path / "work" / "sw").exists()


def test_overwrite_replaces_same_names_and_deletes_nothing_else(
    tmp_path, args, users_folder, capsys
):
    # A file named like a shard of a config the export writes would be read as part of it: even
    # --overwrite leaves it alone and says so, instead of deleting it, before any model runs.
    run = cli(args + ["--overwrite"], capsys)
    assert (
        run.code == 2
        and "sw/train-00000-of-00003.parquet" in run.err
        and "Move them away" in run.err
    )
    assert run.calls == 0 and not (tmp_path / "work" / "sw").exists()
    assert (users_folder / "sw/train-00000-of-00003.parquet").read_bytes() == USER_FILES[
        "sw/train-00000-of-00003.parquet"
    ]
    assert (users_folder / "README.md").read_bytes() == USER_FILES["README.md"]

    (users_folder / "sw/train-00000-of-00003.parquet").rename(tmp_path / "moved.parquet")
    run = cli(args + ["--overwrite"], capsys)
    assert run.code == 0, run.err
    assert (users_folder / "notes.txt").read_bytes() == USER_FILES["notes.txt"]
    # the card replaced the README
    assert "x-instruction" in (users_folder / "README.md").read_text()
    assert read_json(users_folder / "build_info.json")["builder_version"]
    assert published(users_folder)
    manifest = read_json(users_folder / MANIFEST)["files"]
    assert "notes.txt" not in manifest and "README.md" in manifest

    # The folder is now an export that also holds the user's notes.txt: a later export could
    # replace a file of the user's by one of the same name, so it asks for --overwrite again
    # (the README's promise), and keeps notes.txt with it.
    run = cli(args, capsys)
    assert run.code == 2 and "did not write (notes.txt)" in run.err and "--overwrite" in run.err
    run = cli(args + ["--overwrite"], capsys)
    assert run.code == 0, run.err
    assert (users_folder / "notes.txt").read_bytes() == USER_FILES["notes.txt"]


def test_reexport_removes_only_its_own_stale_files(tmp_path, args, capsys, shared_data):
    corpus = udhr_corpus(tmp_path / "corpus", shared_data, langs=("sw", "fi"))
    both = build_args(tmp_path, corpus, "sw,fi")
    assert cli(both, capsys).code == 0
    out = tmp_path / "out"
    assert (out / "fi").is_dir()
    (out / "fi" / "my-notes.md").write_text("mine")  # a file the user put into the export later
    run = cli(build_args(tmp_path, corpus, "sw"), capsys)
    assert run.code == 2 and "did not write (fi/my-notes.md)" in run.err  # it asks for --overwrite
    run = cli(build_args(tmp_path, corpus, "sw", "--overwrite"), capsys)
    assert run.code == 0, run.err
    assert (
        not list((out / "fi").glob("*.parquet"))
        and (out / "fi" / "my-notes.md").read_text() == "mine"
    )
    assert not (out / "plots" / "lengths-fi.png").exists()


def test_a_full_disk_while_exporting_leaves_the_previous_export(
    tmp_path, args, capsys, monkeypatch
):
    assert cli(args, capsys).code == 0
    out = tmp_path / "out"
    before = _digests(out)

    import builder.publish.export

    real = builder.publish.export.write_card

    def full_disk(root, **kw):
        real(root, **kw)  # the plots and README are being written when the disk fills up
        (root / "README.md").write_bytes(b"")
        raise OSError(errno.ENOSPC, "No space left on device", str(root / "README.md"))

    monkeypatch.setattr(builder.publish.export, "write_card", full_disk)
    run = cli(args + ["--candidates", "3"], capsys)  # a different build, so every file would change
    assert run.code != 0
    assert "No space left on device" in run.err
    assert _digests(out) == before
    assert not list(tmp_path.glob(".out.staging-*"))  # the half-written export is gone


def test_output_dir_that_is_a_file_is_refused(tmp_path, args, capsys):
    (tmp_path / "out").write_text("a file")
    run = cli(args, capsys)
    assert run.code == 2 and "is a file" in run.err
    assert (tmp_path / "out").read_text() == "a file"
