"""A language that keeps no row: no config for it, every listed config loads (locally and from the
Hub), its rows stay in `candidates`, and the card and the build's summary say why it is empty.

The empty language is built for real: `x-instruction build --langs sw,vi` on the UDHR, with the
English UDHR in the file named for Vietnamese, so prepare's language identification drops every
`vi` row.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from datasets import get_dataset_config_names, load_dataset

from builder.core.funnel import funnel_line
from builder.publish.export import export_local
from builder.publish.layout import read_front_matter
from builder.publish.push import DELETED_EMPTY, SKIPPED_EMPTY, PushError, push
from builder.publish.rows import split_heldout
from tests._hub_fixture import running_hub, synthetic_build

REPO = "org/x-instruction"


@pytest.fixture(scope="module")
def cli_build(tmp_path_factory, shared_data):
    """`x-instruction build` through builder.cli.main, with the scripted engine standing in for the model."""
    from _scripted_engine import ScriptedEngine
    from helpers.pipeline import writer_and_judge

    import builder.pipeline.runner
    from builder.cli import main

    root = tmp_path_factory.mktemp("empty-vi")
    out = root / "out"
    corpus = root / "corpus"
    corpus.mkdir()
    udhr = shared_data / "udhr"
    (corpus / "sw.jsonl").write_bytes((udhr / "sw.jsonl").read_bytes())
    # mislabelled: English, not Vietnamese
    (corpus / "vi.jsonl").write_bytes((udhr / "en.jsonl").read_bytes())
    args = [
        "build",
        "--langs",
        "sw,vi",
        "--corpus",
        str(corpus / "{lang}.jsonl"),
        "--model",
        "scripted",
        "--candidates",
        "2",
        "--rounds",
        "2",
        "--target-size",
        "3",
        "--shard-size",
        "8",
        "--heldout",
        "50",
        "--relevance-floor",
        "flag",  # as tests/_cli_build.py: the scripted instructions name a random topic
        "--work-dir",
        str(root / "work"),
        "--output-dir",
        str(out),
    ]
    # capsys is per test; this build serves the module
    printed, logged = (io.StringIO(), io.StringIO())
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(printed),
        contextlib.redirect_stderr(logged),
    ):
        patch.setattr(
            builder.pipeline.loaded_models,
            "create_engine",
            lambda *a, **kw: ScriptedEngine(writer_and_judge),
        )
        code = main(args)
    assert code == 0, logged.getvalue()
    info = json.loads((out / "build_info.json").read_text(encoding="utf-8"))
    return out, info, printed.getvalue()


def _yaml_configs(root) -> list[str]:
    return [c["config_name"] for c in read_front_matter(root / "README.md")["configs"]]


def test_vi_really_kept_nothing_and_has_no_config(cli_build):
    out, info, _ = cli_build
    vi, sw = info["funnel"]["vi"], info["funnel"]["sw"]
    assert vi["rows_in"] == 15 and vi["rows_out"] == 0
    assert vi["stages"][0]["stage"] == "prepare" and vi["stages"][0]["out"] == 0
    assert "wrong_language" in vi["stages"][0]["dropped"]
    assert sw["rows_out"] > 0
    assert info["empty_configs"] == ["vi"]
    assert _yaml_configs(out) == ["all", "sw", "candidates"]
    assert not (out / "vi").exists()
    assert set(get_dataset_config_names(str(out))) == {"all", "sw", "candidates"}


def test_every_listed_config_loads_and_candidates_keeps_vi(cli_build, tmp_path):
    out, info, _ = cli_build
    loaded = {
        name: load_dataset(str(out), name, cache_dir=str(tmp_path)) for name in _yaml_configs(out)
    }
    for name, splits in loaded.items():
        assert all(len(ds) > 0 for ds in splits.values()), name
    # --heldout 50 is more than sw's rows: they all stay in train, no empty train split and no test split
    assert (
        set(loaded["sw"]) == {"train"}
        and len(loaded["sw"]["train"]) == info["funnel"]["sw"]["rows_out"]
    )
    assert loaded["all"]["train"]["id"] == loaded["sw"]["train"]["id"]
    audit = loaded["candidates"]["train"]
    vi_rows = [r for r in audit if r["lang"] == "vi"]
    assert len(vi_rows) == info["funnel"]["vi"]["rows_in"] and all(r["dropped"] for r in vi_rows)
    assert sum(r["lang"] == "sw" for r in audit) == info["funnel"]["sw"]["rows_in"]


def test_summary_and_card_name_vi_and_its_funnel(cli_build):
    out, info, printed = cli_build
    line = funnel_line(info["funnel"]["vi"])
    assert line.startswith("0 of 15 rows kept (prepare: ") and "wrong_language" in line
    assert "no config for vi" in printed and f"  vi: {line}" in printed
    # the load hint names a config that exists
    assert "load_dataset(" in printed and "'sw'))" in printed
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"- Vietnamese (`vi`): {line}" in card
    assert "Vietnamese `vi` kept no row" in card
    funnel_row = next(r for r in card.splitlines() if r.startswith("| `vi` |"))
    assert funnel_row.startswith("| `vi` | 15 | 0 | 0.0 % | wrong_language: ")
    assert "<code>vi</code>: rows per stage" in card
    assert "vi" not in read_front_matter(out / "README.md")["language"]


def test_heldout_never_empties_train(caplog):
    rows = synthetic_build(["sw"], rows=5).configs["sw"]["train"]
    assert list(split_heldout(rows, 5)) == ["train"] and len(split_heldout(rows, 5)["train"]) == 5
    assert list(split_heldout(rows, 99)) == ["train"]
    assert (
        "--heldout 99: sw has only 5 rows; all stay in train and it has no test split"
        in caplog.text
    )
    parts = split_heldout(rows, 4)
    assert (len(parts["train"]), len(parts["test"])) == (1, 4)
    assert sorted(list(parts["train"]["id"]) + list(parts["test"]["id"])) == sorted(rows["id"])


def test_an_empty_split_of_a_config_with_rows_is_left_out(tmp_path):
    build = synthetic_build(["sw", "bn"], rows=4)
    configs = dict(build.configs)
    configs["sw"] = {"train": configs["sw"]["train"], "test": configs["sw"]["train"].select([])}
    out = export_local(tmp_path / "x", configs, build.build_info)
    assert not (out / "sw" / "test-00000-of-00001.parquet").exists()
    entry = next(
        c for c in read_front_matter(out / "README.md")["configs"] if c["config_name"] == "sw"
    )
    assert [f["split"] for f in entry["data_files"]] == ["train"]
    assert set(load_dataset(str(out), "sw", cache_dir=str(tmp_path / "c"))) == {"train"}


def _vi_rejected_later(rows: int = 4):
    """The synthetic sw+vi build, rebuilt with a stricter evaluator: every vi row fails select."""
    build = synthetic_build(["sw", "vi"], rows=rows)
    build.configs["vi"] = {"train": build.configs["vi"]["train"].select([])}
    n_in = build.build_info["funnel"]["vi"]["rows_in"]
    build.build_info["funnel"]["vi"] = {
        "rows_in": n_in,
        "rows_out": 0,
        "dropped": {"low_score": n_in},
        "stages": [
            {"stage": "prepare", "in": n_in, "out": n_in, "dropped": {}},
            {"stage": "select", "in": n_in, "out": 0, "dropped": {"low_score": n_in}},
        ],
    }
    return build


def test_reexport_removes_the_folder_of_a_language_that_became_empty(tmp_path):
    first = synthetic_build(["sw", "vi"], rows=4)
    out = export_local(tmp_path / "x", first.configs, first.build_info)
    assert (out / "vi" / "train-00000-of-00001.parquet").is_file()
    second = _vi_rejected_later()
    export_local(out, second.configs, second.build_info)
    assert not (out / "vi").exists() and "vi" not in _yaml_configs(out)
    assert "- Vietnamese (`vi`): 0 of 6 rows kept (select: low_score 6)" in (
        out / "README.md"
    ).read_text("utf-8")
    assert not (out / "plots" / "lengths-vi.png").exists()


def test_nothing_but_empty_configs_is_one_clear_error(tmp_path):
    empty = synthetic_build(["sw"], rows=2).configs["sw"]["train"].select([])
    with pytest.raises(ValueError, match=r"every config \(sw\) has no rows"):
        export_local(tmp_path / "x", {"sw": empty}, {})


# -- an export made by the previous builder: an empty config on disk, listed in the card ------


def _old_style_export(tmp_path, *, card: bool = True):
    """What the previous builder wrote for a language with no row: a 0-row shard, listed in the YAML."""
    build = synthetic_build(["sw", "vi"], rows=4)
    out = export_local(tmp_path / "old", build.configs, build.build_info, card=card)
    build.configs["vi"]["train"].select([]).to_parquet(out / "vi" / "train-00000-of-00001.parquet")
    readme = out / "README.md"
    header, body = readme.read_text(encoding="utf-8")[4:].split("\n---\n", 1)
    data = yaml.safe_load(header)
    for info in data["dataset_info"]:  # the sizes the previous builder recorded for it
        if info["config_name"] == "vi":
            info["splits"] = [{"name": "train", "num_bytes": 0, "num_examples": 0}]
    readme.write_text(f"---\n{yaml.safe_dump(data, sort_keys=False)}---\n{body}", encoding="utf-8")
    assert "vi" in _yaml_configs(out)
    return out


def test_datasets_cannot_load_an_empty_config(tmp_path):
    """Why an empty language gets no config at all: datasets 5.x refuses a 0-row split, schema or not."""
    out = _old_style_export(tmp_path)
    with pytest.raises(ValueError, match="corresponds to no data"):
        load_dataset(str(out), "vi", cache_dir=str(tmp_path / "c"))


# -- through the local Hub -----------------------------------------------------------------------


@pytest.fixture
def local_hub(tmp_path, monkeypatch):
    yield from running_hub(tmp_path, monkeypatch)


def _load_every_remote_config(tmp_path) -> dict:
    names = get_dataset_config_names(REPO)
    return {name: load_dataset(REPO, name, cache_dir=str(tmp_path / "remote")) for name in names}


def test_push_of_the_build_skips_vi_and_every_config_loads_from_the_hub(
    cli_build, local_hub, tmp_path
):
    out, info, _ = cli_build
    summary = push(out, REPO)
    assert summary["vi"] == SKIPPED_EMPTY and summary["sw"] == "uploaded"
    assert not any(p.startswith("vi/") for p in local_hub.state.files(REPO))
    loaded = _load_every_remote_config(tmp_path)
    assert set(loaded) == {"all", "sw", "candidates"}
    assert all(len(ds) > 0 for splits in loaded.values() for ds in splits.values())
    assert (
        sum(r == "vi" for r in loaded["candidates"]["train"]["lang"])
        == info["funnel"]["vi"]["rows_in"]
    )


def test_a_published_language_that_became_empty_is_deleted_without_prune(local_hub, tmp_path):
    first = synthetic_build(["sw", "vi"], rows=4)
    export = export_local(tmp_path / "export", first.configs, first.build_info)
    push(export, REPO)
    assert "vi" in get_dataset_config_names(REPO)

    second = _vi_rejected_later()
    export_local(export, second.configs, second.build_info)
    commits = local_hub.state.commit_count(REPO)
    summary = push(export, REPO)

    assert summary == {
        "sw": "unchanged",
        "candidates": "unchanged",
        "vi": DELETED_EMPTY,
        "card": "uploaded",
    }
    # the deletion rides in the card commit
    assert local_hub.state.commit_count(REPO) == commits + 1
    assert not any(p.startswith("vi/") for p in local_hub.state.files(REPO))
    assert set(_load_every_remote_config(tmp_path)) == {"all", "sw", "candidates"}


def test_an_old_export_with_an_empty_config_pushes_without_it(local_hub, tmp_path, capsys):
    from builder.cli.push import main

    out = _old_style_export(tmp_path)
    assert main(["--repo", REPO, "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(rf"^vi +{SKIPPED_EMPTY}$", printed, re.M), printed
    assert "vi" not in _yaml_configs(out)  # push re-rendered the card without it
    assert not any(p.startswith("vi/") for p in local_hub.state.files(REPO))
    assert set(_load_every_remote_config(tmp_path)) == {"all", "sw", "candidates"}


def test_an_old_yaml_only_card_listing_an_empty_config_is_refused(local_hub, tmp_path):
    out = _old_style_export(tmp_path, card=False)
    requests = len(local_hub.state.log)
    with pytest.raises(
        PushError, match=r"lists config\(s\) vi that hold no rows.*dataset_card/render.py"
    ):
        push(out, REPO)
    assert len(local_hub.state.log) == requests
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dataset_card"))
    try:
        from render import main as render
    finally:
        sys.path.pop(0)
    assert render([str(out)]) == 0
    assert push(out, REPO)["vi"] == SKIPPED_EMPTY
    assert set(_load_every_remote_config(tmp_path)) == {"all", "sw", "candidates"}


def test_a_shard_that_is_not_parquet_is_refused_before_any_request(local_hub, tmp_path):
    build = synthetic_build(["sw"], rows=3)
    out = export_local(tmp_path / "x", build.configs, build.build_info)
    (out / "sw" / "train-00000-of-00001.parquet").write_bytes(b"not parquet")
    requests = len(local_hub.state.log)
    with pytest.raises(
        ValueError, match=r"train-00000-of-00001.parquet is not a readable Parquet file"
    ):
        push(out, REPO)
    assert len(local_hub.state.log) == requests
