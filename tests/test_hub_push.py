"""push against a local Hub (tests/hub_server.py) with the real huggingface_hub and datasets clients."""

from __future__ import annotations

import argparse
import hashlib
import logging
import re

import pytest
from datasets import get_dataset_config_names, load_dataset
from huggingface_hub import DatasetCard

from builder.publish.export import export_local
from builder.publish.export_dir import MANIFEST
from builder.publish.layout import read_front_matter
from builder.publish.push import HubAuthError, PushError, push
from tests._hub_fixture import running_hub, synthetic_build

REPO = "org/x-instruction"


@pytest.fixture
def local_hub(tmp_path, monkeypatch):
    yield from running_hub(tmp_path, monkeypatch)


def _parquet_digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def _assert_same_rows(hub, export, configs, cache):
    for config in configs:
        remote = load_dataset(REPO, config, cache_dir=str(cache / "remote"))
        local = load_dataset(str(export), config, cache_dir=str(cache / "local"))
        assert set(remote) == set(local), config
        for split in local:
            assert remote[split].to_list() == local[split].to_list(), (config, split)
            assert remote[split].features == local[split].features, (config, split)


def test_push_then_load_back_equals_local_export(local_hub, tmp_path):
    build = synthetic_build(["sw", "bn"], rows=10, heldout=2)
    export = export_local(tmp_path / "export", build.configs, build.build_info)

    summary = push(export, REPO)

    assert summary == {
        "bn": "uploaded",
        "sw": "uploaded",
        "candidates": "uploaded",
        "card": "uploaded",
    }
    assert local_hub.state.commit_count(REPO) == 4  # one per config, then the card
    assert set(get_dataset_config_names(REPO)) == {"all", "bn", "sw", "candidates"}
    _assert_same_rows(local_hub, export, ["sw", "bn", "all", "candidates"], tmp_path)
    sw = load_dataset(REPO, "sw", split="train", cache_dir=str(tmp_path / "remote"))
    assert sw.to_list() == build.configs["sw"]["train"].to_list()
    # The repository holds exactly the export's files (plus the .gitattributes of a new repo).
    remote = local_hub.state.files(REPO)
    local = {p.relative_to(export).as_posix(): p for p in export.rglob("*") if p.is_file()}
    del local[MANIFEST]  # the export's own record of what it wrote: local bookkeeping, never pushed
    assert set(remote) - {".gitattributes"} == set(local)
    for path, entry in remote.items():
        if path in local:
            assert entry.sha256 == hashlib.sha256(local[path].read_bytes()).hexdigest(), path
    assert local_hub.state.unknown == []


def test_card_yaml_round_trips_through_the_hub(local_hub, tmp_path):
    build = synthetic_build(["sw", "bn"], rows=6)
    export = export_local(tmp_path / "export", build.configs, build.build_info)
    push(export, REPO)
    card = DatasetCard.load(REPO, repo_type="dataset")
    assert card.data.to_dict() == read_front_matter(export / "README.md")
    assert card.content == (export / "README.md").read_text(encoding="utf-8")
    # push put the repo id in the card
    assert f'load_dataset("{REPO}", "all", split="train")' in card.text
    data = card.data.to_dict()
    assert data["language"] == ["bn", "sw", "en"] and data["task_categories"] == ["text-generation"]
    assert data["license"] == "odc-by" and data["source_datasets"] == ["HuggingFaceFW/fineweb-2"]
    assert data["size_categories"] == ["n<1K"] and data["pretty_name"] == "X-Instruction"
    assert [c["config_name"] for c in data["configs"] if c.get("default")] == ["all"]
    assert {i["config_name"] for i in data["dataset_info"]} == {"all", "bn", "sw", "candidates"}


def test_second_push_adds_a_language_without_touching_the_others(local_hub, tmp_path):
    first = synthetic_build(["sw", "bn"], rows=8)
    export = export_local(tmp_path / "export", first.configs, first.build_info)
    push(export, REPO)
    before = local_hub.state.files(REPO)
    uploads_before = {p for m, p, _ in local_hub.state.log if m == "PUT"}

    # Same seed and language order: sw and bn rows are the same, ta is new.
    second = synthetic_build(["sw", "bn", "ta"], rows=8)
    assert second.configs["sw"]["train"].to_list() == first.configs["sw"]["train"].to_list()
    export_local(export, second.configs, second.build_info)
    summary = push(export, REPO)

    assert summary == {
        "bn": "unchanged",
        "sw": "unchanged",
        "ta": "uploaded",
        "candidates": "uploaded",
        "card": "uploaded",
    }
    assert local_hub.state.commit_count(REPO) == 4 + 3
    after = local_hub.state.files(REPO)
    for path in before:
        if path.startswith(("sw/", "bn/")):
            assert after[path] == before[path], path
    new_uploads = {p for m, p, _ in local_hub.state.log if m == "PUT"} - uploads_before
    assert not any(
        before[p].sha256 in u for p in before if p.startswith(("sw/", "bn/")) for u in new_uploads
    )
    assert "all" in get_dataset_config_names(REPO) and "ta" in get_dataset_config_names(REPO)
    _assert_same_rows(local_hub, export, ["ta", "all"], tmp_path)

    # Nothing changed: no commit at all.
    assert set(push(export, REPO).values()) == {"unchanged"}
    assert local_hub.state.commit_count(REPO) == 7


def test_a_failed_commit_is_reported_and_a_rerun_completes_the_repo(local_hub, tmp_path):
    build = synthetic_build(["sw", "bn"], rows=8)
    export = export_local(tmp_path / "export", build.configs, build.build_info)
    local_hub.state.fail_commits = {2}  # bn (1st) goes through, sw (2nd) gets HTTP 500
    digests = _parquet_digests(export)

    with pytest.raises(PushError) as info:
        push(export, REPO)

    message = str(info.value)
    assert "'sw'" in message and "HTTP 500" in message
    assert "intact" in message and "rerun the same command" in message
    assert _parquet_digests(export) == digests
    remote = local_hub.state.files(REPO)
    assert "bn/train-00000-of-00001.parquet" in remote and not any(
        p.startswith("sw/") for p in remote
    )

    summary = push(export, REPO)
    assert summary == {
        "bn": "unchanged",
        "sw": "uploaded",
        "candidates": "uploaded",
        "card": "uploaded",
    }
    _assert_same_rows(local_hub, export, ["sw", "bn", "all"], tmp_path)


def test_a_bad_token_says_how_to_log_in_and_never_leaks(
    local_hub, tmp_path, monkeypatch, capsys, caplog
):
    from builder.cli.push import add_push_arguments, run_push

    caplog.set_level(logging.DEBUG)
    build = synthetic_build(["sw"], rows=4)
    export = export_local(tmp_path / "export", build.configs, build.build_info)
    bad = "hf_" + "0123456789abcdef" * 2
    monkeypatch.setenv("HF_TOKEN", bad)

    with pytest.raises(HubAuthError) as info:
        push(export, REPO)
    parser = argparse.ArgumentParser()
    add_push_arguments(parser)
    code = run_push(parser.parse_args(["--repo", REPO, "--output-dir", str(export)]))

    captured = capsys.readouterr()
    assert code == 1
    for text in (str(info.value), captured.err):
        assert "hf auth login" in text and "HF_TOKEN" in text and "401" in text
    everything = str(info.value) + captured.out + captured.err + caplog.text
    files = b"".join(p.read_bytes() for p in export.rglob("*") if p.is_file())
    assert bad not in everything and bad.encode() not in files
    assert not local_hub.state.repos, "nothing may be created with a refused token"


def test_the_real_token_never_lands_in_output_card_or_repo(local_hub, tmp_path, capsys, caplog):
    from builder.cli.push import main

    caplog.set_level(logging.DEBUG)
    build = synthetic_build(["sw", "bn"], rows=4)
    export = export_local(tmp_path / "export", build.configs, build.build_info)
    assert main(["--repo", REPO, "--output-dir", str(export)]) == 0
    captured = capsys.readouterr()
    assert "candidates  uploaded" in captured.out
    stored = b"".join(p.read_bytes() for p in local_hub.state.root.rglob("*") if p.is_file())
    exported = b"".join(p.read_bytes() for p in export.rglob("*") if p.is_file())
    token = local_hub.token
    assert token not in captured.out + captured.err + caplog.text
    assert token.encode() not in stored and token.encode() not in exported


def test_a_read_only_token_is_refused_with_the_same_help(local_hub, tmp_path, monkeypatch):
    build = synthetic_build(["sw"], rows=3)
    export = export_local(tmp_path / "export", build.configs, build.build_info)
    push(export, REPO)  # the repository exists; now someone with a read token pushes a change
    read_token = "hf_" + "feedface" * 4
    local_hub.state.read_only_tokens.add(read_token)
    monkeypatch.setenv("HF_TOKEN", read_token)
    export_local(export, synthetic_build(["sw"], rows=4).configs, build.build_info)
    with pytest.raises(HubAuthError, match=r"HTTP 403.*hf auth login") as info:
        push(export, REPO)
    assert read_token not in str(info.value)


def test_private_push_is_readable_only_with_a_token(local_hub, tmp_path, monkeypatch):
    from datasets.exceptions import DatasetNotFoundError
    from huggingface_hub import constants

    build = synthetic_build(["sw"], rows=3)
    push(export_local(tmp_path / "export", build.configs, build.build_info), REPO, private=True)
    assert local_hub.state.repos[("dataset", REPO)].private
    assert load_dataset(REPO, "sw", split="train", cache_dir=str(tmp_path / "a")).num_rows == 3
    monkeypatch.delenv("HF_TOKEN")
    # nothing cached
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "anonymous-cache"))
    with pytest.raises(DatasetNotFoundError):
        load_dataset(REPO, "sw", split="train", cache_dir=str(tmp_path / "b"))


def test_no_token_at_all_fails_before_any_request(local_hub, tmp_path, monkeypatch):
    build = synthetic_build(["sw"], rows=3)
    export = export_local(tmp_path / "export", build.configs, build.build_info)
    monkeypatch.delenv("HF_TOKEN")
    requests = len(local_hub.state.log)
    with pytest.raises(
        HubAuthError, match=r"No Hugging Face token found .*hf auth login.*HF_TOKEN"
    ):
        push(export, REPO)
    assert len(local_hub.state.log) == requests


def test_an_export_missing_published_configs_is_refused_unless_pruned(local_hub, tmp_path):
    full = synthetic_build(["sw", "bn"], rows=4)
    push(export_local(tmp_path / "full", full.configs, full.build_info), REPO)
    part = synthetic_build(["sw"], rows=4)
    export = export_local(tmp_path / "part", part.configs, part.build_info)
    commits = local_hub.state.commit_count(REPO)
    with pytest.raises(
        PushError, match=r"has configs this export lacks \(bn\).*--prune.*Nothing was pushed"
    ):
        push(export, REPO)
    assert local_hub.state.commit_count(REPO) == commits
    push(export, REPO, prune=True)
    assert not any(p.startswith("bn/") for p in local_hub.state.files(REPO))
    assert set(get_dataset_config_names(REPO)) == {"all", "sw", "candidates"}


def test_the_local_hub_serves_datasets_own_push_to_hub(local_hub, tmp_path):
    """The fixture speaks what Dataset.push_to_hub needs too, not only what builder.publish.push sends."""
    ds = synthetic_build(["sw"], rows=3).configs["sw"]["train"]
    ds.push_to_hub("org/plain", config_name="sw", split="train")
    loaded = load_dataset("org/plain", "sw", split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.to_list() == ds.to_list()
    assert local_hub.state.unknown == []


def test_build_push_to_hub_pushes_after_the_export(local_hub, tmp_path):
    from _scripted_engine import ScriptedEngine
    from helpers.pipeline import pipeline_config as _config
    from helpers.pipeline import writer_and_judge

    from builder.pipeline.runner import build

    config = _config(tmp_path, langs=["sw"], push_to_hub=REPO, private=True)
    result = build(config, engines={"scripted": ScriptedEngine(writer_and_judge)})
    assert result.push_summary["sw"] == "uploaded" and result.push_summary["card"] == "uploaded"
    assert local_hub.state.repos[("dataset", REPO)].private
    loaded = load_dataset(REPO, "sw", split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.to_list() == result.languages["sw"].to_list()


def test_a_network_error_without_a_message_still_reads_as_one_line(tmp_path):
    """A bare TimeoutError() has no text: the push error names its class instead of failing on it."""
    from builder.publish.push import _explain

    err = _explain(TimeoutError(), "uploading config sw", "org/x-instruction", tmp_path, None)
    assert isinstance(err, PushError)
    assert "(TimeoutError: TimeoutError)" in str(err) and "rerun the same command" in str(err)


def test_a_heldout_build_publishes_train_and_test_with_messages(local_hub, tmp_path):
    """`x-instruction build --heldout 1 --push-to-hub`: each language and `all` have train and test
    on the Hub, the card's YAML lists both (what the viewer reads), and `messages` loads as a chat."""
    from _scripted_engine import ScriptedEngine
    from helpers.pipeline import pipeline_config as _config
    from helpers.pipeline import writer_and_judge

    from builder.pipeline.runner import build
    from builder.prompts import answer_prompt

    config = _config(tmp_path, langs=["sw", "fi"], heldout=1, min_relevance=0, push_to_hub=REPO)
    result = build(config, engines={"scripted": ScriptedEngine(writer_and_judge)})
    cache = str(tmp_path / "c")
    for lang in ("sw", "fi"):
        test = load_dataset(REPO, lang, split="test", cache_dir=cache)
        train = load_dataset(REPO, lang, split="train", cache_dir=cache)
        assert len(test) == 1 and len(train) == len(result.languages[lang]) - 1
        assert not set(test["id"]) & set(train["id"])
        for row in test.to_list() + train.to_list():
            assert row["messages"] == [
                {"role": "user", "content": answer_prompt(row["instruction"], lang)},
                {"role": "assistant", "content": row["output"].strip()},
            ]
    assert len(load_dataset(REPO, "all", split="test", cache_dir=cache)) == 2
    card = DatasetCard.load(REPO, repo_type="dataset").data.to_dict()
    files = {
        c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in card["configs"]
    }
    assert files["sw"] == {"train": "sw/train-*.parquet", "test": "sw/test-*.parquet"}
    assert files["all"] == {
        "train": ["fi/train-*.parquet", "sw/train-*.parquet"],
        "test": ["fi/test-*.parquet", "sw/test-*.parquet"],
    }
    text = DatasetCard.load(REPO, repo_type="dataset").text
    # every column of the schema has a meaning
    assert not re.search(r"^\| `[^`]+` \| `[^`]*` \|\s*\|$", text, re.M)
    infos = {
        i["config_name"]: {s["name"]: s["num_examples"] for s in i["splits"]}
        for i in card["dataset_info"]
    }
    assert infos["all"]["test"] == 2 and infos["sw"]["test"] == 1
    assert any(
        i["config_name"] == "sw"
        and {
            "name": "messages",
            "list": [{"name": "role", "dtype": "string"}, {"name": "content", "dtype": "string"}],
        }
        in i["features"]
        for i in card["dataset_info"]
    )
