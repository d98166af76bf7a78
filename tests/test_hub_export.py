"""export_local: the Hub layout on disk, loadable by config name, byte-identical on re-export."""

from __future__ import annotations

import hashlib

import pytest
from datasets import Dataset, get_dataset_config_names, load_dataset

from builder.publish.export import export_local
from builder.publish.layout import read_front_matter
from tests._hub_fixture import synthetic_build


def _digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def build():
    return synthetic_build(["sw", "bn"], rows=12, heldout=3)


@pytest.fixture(scope="module")
def export(build, tmp_path_factory):
    return export_local(tmp_path_factory.mktemp("export") / "x", build.configs, build.build_info)


def test_layout_on_disk(export):
    files = set(_digests(export))
    assert {
        "sw/train-00000-of-00001.parquet",
        "sw/test-00000-of-00001.parquet",
        "bn/train-00000-of-00001.parquet",
        "candidates/train-00000-of-00001.parquet",
        "build_info.json",
        "README.md",
        "plots/funnel.png",
        "plots/verbs.png",
        "plots/lengths-sw.png",
        "plots/lengths-bn.png",
    } <= files
    assert not any(f.startswith("all/") for f in files), "the `all` config must not duplicate files"
    configs = {c["config_name"]: c for c in read_front_matter(export / "README.md")["configs"]}
    assert configs["all"]["default"] is True
    assert configs["all"]["data_files"] == [
        {"split": "train", "path": ["bn/train-*.parquet", "sw/train-*.parquet"]},
        {"split": "test", "path": ["bn/test-*.parquet", "sw/test-*.parquet"]},
    ]
    assert not any(c.get("default") for name, c in configs.items() if name != "all")


def test_local_load_by_config_gives_the_exported_rows(export, build, tmp_path):
    assert set(get_dataset_config_names(str(export))) == {"all", "bn", "sw", "candidates"}
    for lang in ("sw", "bn"):
        loaded = load_dataset(str(export), lang, cache_dir=str(tmp_path))
        assert set(loaded) == {"train", "test"}
        for split in ("train", "test"):
            assert loaded[split].to_list() == build.configs[lang][split].to_list()
            assert loaded[split].features == build.configs[lang][split].features
    every = load_dataset(str(export), cache_dir=str(tmp_path))  # the default config is `all`
    expected = build.configs["bn"]["train"].to_list() + build.configs["sw"]["train"].to_list()
    assert every["train"].to_list() == expected
    audit = load_dataset(str(export), "candidates", split="train", cache_dir=str(tmp_path))
    assert audit.to_list() == build.configs["candidates"]["train"].to_list()


def test_reexport_is_byte_identical(export, build):
    before = _digests(export)
    export_local(export, build.configs, build.build_info)
    assert _digests(export) == before


def test_single_language_is_the_default_and_stale_shards_go(tmp_path, monkeypatch):
    import builder.publish.export

    build = synthetic_build(["ta"], rows=6)
    with monkeypatch.context() as patch:  # an earlier export of this folder wrote two shards
        ta = build.configs["ta"]["train"]
        patch.setattr(builder.publish.export, "MAX_SHARD_BYTES", ta.data.nbytes // 2 + 1)
        export_local(tmp_path / "x", {"ta": ta}, build.build_info)
    stale = tmp_path / "x" / "ta" / "train-00001-of-00002.parquet"
    assert stale.is_file()
    out = export_local(tmp_path / "x", build.configs, build.build_info)
    assert not stale.exists()
    configs = {c["config_name"]: c for c in read_front_matter(out / "README.md")["configs"]}
    assert configs["ta"].get("default") is True and "default" not in configs["all"]
    loaded = load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.to_list() == build.configs["ta"]["train"].to_list()


def test_languages_with_an_all_null_column_still_load_together(tmp_path):
    build = synthetic_build(["sw", "vi"], rows=5)
    vi = build.configs["vi"]["train"]
    # A build where no one recorded the revision: Arrow infers a null column for that language.
    rows = [{**r, "meta": {**r["meta"], "generator_revision": None}} for r in vi.to_list()]
    build.configs["vi"]["train"] = Dataset.from_list(rows)
    assert build.configs["vi"]["train"].features != build.configs["sw"]["train"].features
    out = export_local(tmp_path / "x", build.configs, build.build_info)
    every = load_dataset(str(out), "all", split="train", cache_dir=str(tmp_path / "cache"))
    assert len(every) == 10
    assert [r["meta"]["generator_revision"] for r in every if r["lang"] == "vi"] == [None] * 5


def test_card_false_writes_only_the_metadata(tmp_path):
    build = synthetic_build(["sw"], rows=4)
    out = export_local(tmp_path / "x", build.configs, build.build_info, card=False)
    text = (out / "README.md").read_text()
    assert "## Statistics" not in text and not (out / "plots").exists()
    assert load_dataset(str(out), "sw", split="train", cache_dir=str(tmp_path / "c")).num_rows == 4


def _tiny():
    return Dataset.from_dict({"a": [1]})


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: {"all": {"train": _tiny()}}, ValueError, "reserved"),
        (lambda: {"sw/x": {"train": _tiny()}}, ValueError, "not a valid folder name"),
        (lambda: {"sw": {}}, ValueError, "has no split"),
        (lambda: {"sw": {"train": [1, 2]}}, TypeError, "expected a datasets.Dataset"),
        (lambda: {"sw": {"train-1": _tiny()}}, ValueError, "split name"),
    ],
)
def test_bad_configs_are_named(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        export_local(tmp_path / "x", make(), {})


def test_language_config_with_foreign_rows_is_refused(tmp_path):
    build = synthetic_build(["sw", "bn"], rows=3)
    mixed = {"sw": {"train": build.configs["bn"]["train"]}}
    with pytest.raises(ValueError, match=r"config 'sw' holds rows of languages \['bn'\]"):
        export_local(tmp_path / "x", mixed, {})


def test_a_language_registered_at_run_time_stays_a_language_on_rerender(tmp_path, monkeypatch):
    from builder.languages import LANGUAGES, Language
    from builder.publish.card import write_card

    # a private-use code (qaa-qtz): CLDR knows no such language, so only the card remembers it
    monkeypatch.setitem(LANGUAGES, "qgn", Language("qgn", "Guarani (private use)", "Latn", "qgn"))
    build = synthetic_build(["sw", "qgn"], rows=3)
    out = export_local(tmp_path / "x", build.configs, build.build_info)
    monkeypatch.delitem(LANGUAGES, "qgn")  # e.g. dataset_card/render.py in a fresh process
    write_card(out)
    meta = read_front_matter(out / "README.md")
    all_config = next(c for c in meta["configs"] if c["config_name"] == "all")
    assert all_config["data_files"][0]["path"] == ["qgn/train-*.parquet", "sw/train-*.parquet"]
    assert meta["language"] == ["qgn", "sw", "en"]
    assert "| qgn (`qgn`) | 3 |" in (out / "README.md").read_text()


def test_a_config_listed_in_the_card_without_its_folder_is_named(tmp_path):
    import shutil

    from builder.publish.layout import Layout

    build = synthetic_build(["sw", "bn"], rows=3)
    out = export_local(tmp_path / "x", build.configs, build.build_info)
    shutil.rmtree(out / "bn")
    with pytest.raises(FileNotFoundError, match="holds no Parquet shards for bn"):
        Layout.scan(out)


def test_an_audit_given_as_parts_is_written_one_part_at_a_time(build, tmp_path):
    """Parts: each loader runs when its part is written, the part before is released by then,
    an empty part writes nothing, and the config loads as the parts' rows in order."""
    import gc
    import weakref

    from builder.publish.export import Parts

    audit = build.configs["candidates"]["train"]
    pieces = [audit.select(range(0, 10)), audit.select([]), audit.select(range(10, len(audit)))]
    alive, loaded = [], []

    def loader(i):
        def load():
            gc.collect()
            # parts still held when this one loads
            loaded.append((i, sum(ref() is not None for ref in alive)))
            # a copy no one else holds
            part = Dataset.from_dict(pieces[i].to_dict(), features=audit.features)
            alive.append(weakref.ref(part))
            return part

        return load

    configs = {
        **{k: v for k, v in build.configs.items() if k != "candidates"},
        "candidates": {"train": Parts(tuple(loader(i) for i in range(3)), len(audit))},
    }
    out = export_local(tmp_path / "x", configs, build.build_info)
    assert loaded == [(0, 0), (1, 0), (2, 0)]
    assert sorted(p.name for p in (out / "candidates").iterdir()) == [
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]
    again = load_dataset(str(out), "candidates", split="train", cache_dir=str(tmp_path / "cache"))
    assert again.to_list() == audit.to_list()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"num_examples: {len(audit)}" in card


def test_a_language_config_given_as_parts_is_refused(build, tmp_path):
    from builder.publish.export import Parts

    sw = build.configs["sw"]["train"]
    with pytest.raises(TypeError, match="a language config takes a datasets.Dataset, not Parts"):
        export_local(
            tmp_path / "x", {"sw": {"train": Parts((lambda: sw,), len(sw))}}, build.build_info
        )
