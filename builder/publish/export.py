"""The Hub layout, written to a folder: `export_local`.

    from builder.publish.export import export_local
    export_local("out/x-instruction", {"sw": {"train": sw}, "bn": {"train": bn},
                                       "candidates": {"train": audit}}, build_info)

The folder *is* the repository: `{config}/{split}-00000-of-00001.parquet` per config (more
shards when a split passes 500 MB, or when it is given as `Parts`: one or more per part), a virtual
`all` config in the card's `configs:` YAML, `build_info.json`, `README.md` and `plots/`. So
`load_dataset(folder, "sw")` and `load_dataset("org/x-instruction", "sw")` read the same files.
A language that kept no row gets no config at all (`datasets` cannot load an empty split); its
rows stay in `candidates`, build_info.json lists it under `empty_configs`, and the card says why.

`builder/publish/push.py` then uploads that folder as it is.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from ..progress import quiet_datasets_bars
from .card import write_card
from .export_dir import staged_export
from .layout import (
    BUILD_INFO_FILE,
    EMPTY_CONFIGS_KEY,
    SPLIT_NAME,
    Layout,
    check_config_name,
    is_language,
    shard_name,
)

if TYPE_CHECKING:  # datasets is imported where the rows are written, not on import
    from datasets import Dataset

logger = logging.getLogger(__name__)

MAX_SHARD_BYTES = 500 << 20  # the shard size Dataset.push_to_hub uses
ROWS_PER_ROW_GROUP = 1000  # fixed, so that the same rows always give the same Parquet bytes


@dataclasses.dataclass(frozen=True)
class Parts:
    """A split too big to hold in memory at once, given as parts that are loaded one at a time
    when the split is written and released after (the build's audit config: one part per
    language). Each loader returns a Dataset; all parts have the same features."""

    loaders: tuple[Callable[[], Dataset], ...]
    num_rows: int

    def __len__(self) -> int:
        return self.num_rows

    def __iter__(self):
        for load in self.loaders:
            yield load()


def _as_splits(name: str, value) -> dict:
    from datasets import Dataset

    splits = {"train": value} if isinstance(value, (Dataset, Parts)) else dict(value)
    if not splits:
        raise ValueError(f"config {name!r} has no split; give it e.g. {{'train': dataset}}")
    for split, ds in splits.items():
        if not SPLIT_NAME.match(split):
            raise ValueError(
                f"config {name!r}: split name {split!r} must be letters, digits or '_'"
            )
        if isinstance(ds, Parts) and is_language(name):
            # the `all` config aligns the language configs' features, which needs them whole
            raise TypeError(
                f"config {name!r}, split {split!r}: a language config takes a datasets.Dataset, "
                "not Parts (Parts are for audit configs)"
            )
        if not isinstance(ds, (Dataset, Parts)):
            raise TypeError(
                f"config {name!r}, split {split!r}: expected a datasets.Dataset, got {type(ds).__name__}"
            )
    return splits


def _check_lang_column(name: str, ds) -> None:
    if "lang" in ds.column_names and len(ds):
        found = set(ds.unique("lang"))
        if found != {name}:
            raise ValueError(
                f"config {name!r} holds rows of languages {sorted(found)}: a language config holds "
                "only its own rows (put mixed-language tables in an audit config)"
            )


def _align_languages(configs: dict[str, dict]) -> dict[str, dict]:
    """Give every language config the same features, so that the `all` config reads them as one table.

    A column that is null in every row of one language (a model revision nobody recorded) gets
    the type the other languages have, exactly as `concatenate_datasets` would align it.
    """
    from datasets import concatenate_datasets

    parts = [ds for name, splits in configs.items() if is_language(name) for ds in splits.values()]
    if len(parts) < 2:
        return configs
    try:
        target = concatenate_datasets([ds.select([]) for ds in parts]).features
    except ValueError as err:
        raise ValueError(
            f"the language configs have incompatible columns, so the `all` config cannot read them "
            f"together: {err}"
        ) from None
    aligned = {}
    for name, splits in configs.items():
        if is_language(name):
            splits = {
                s: ds if ds.features == target else ds.select_columns(list(target)).cast(target)
                for s, ds in splits.items()
            }
        aligned[name] = splits
    return aligned


def _num_shards(ds) -> int:
    # a selection of a bigger table
    fraction = len(ds) / ds.data.num_rows if ds.data.num_rows else 1.0
    return max(1, math.ceil(ds.data.nbytes * fraction / MAX_SHARD_BYTES))


def _write_split(root: Path, config: str, split: str, value) -> set[str]:
    """Write one split as `{split}-{i}-of-{n}.parquet` files; a Dataset is cut into shards of
    at most 500 MB, and `Parts` are written part by part (at least one file each), so only
    one part is in memory. Files go to the staging folder (export_dir.staged_export): never
    half a shard in the export."""
    folder = root / config
    folder.mkdir(parents=True, exist_ok=True)
    parts = value if isinstance(value, Parts) else [value]
    pending: list[Path] = []  # written under a temporary name until the count of shards is known
    with quiet_datasets_bars():  # one bar per config (below) instead of one per shard
        for ds in parts:
            count = _num_shards(ds) if len(ds) else 0  # an empty part writes no file
            for index in range(count):
                path = folder / f".{split}-pending-{len(pending):05d}.parquet"
                ds.shard(count, index, contiguous=True).to_parquet(
                    path, batch_size=ROWS_PER_ROW_GROUP
                )
                pending.append(path)
            del ds  # released before the next part is loaded
    names = set()
    for index, path in enumerate(pending):
        name = shard_name(split, index, len(pending))
        path.rename(folder / name)
        names.add(name)
    return names


def _without_empty(configs: dict[str, dict]) -> tuple[dict[str, dict], list[str]]:
    """Drop 0-row splits; return the configs that still hold rows and the names left with none.

    An empty config is left out rather than written as an empty Parquet file: `datasets` 5.x
    cannot load a split with no rows (its reader raises 'Instruction "train" corresponds to no
    data!' whatever the file's schema), so such a config would break `load_dataset` and the Hub
    viewer. Its rows stay in the audit config and the card names it with its funnel.
    """
    kept, empty = {}, []
    for name, splits in configs.items():
        splits = {split: ds for split, ds in splits.items() if len(ds)}
        if splits:
            kept[name] = splits
        else:
            empty.append(name)
    return kept, sorted(empty)


def export_local(
    output_dir, configs: dict, build_info: dict, *, card: bool = True, overwrite: bool = False
) -> Path:
    """Write the Hub layout of `configs` ({config: {split: Dataset}}) into `output_dir`.

    Config names that are registered language codes become language configs (and part of
    `all`); any other name (e.g. `candidates`) is an audit config in its own folder. With
    `card=False` the README holds only the YAML metadata, so the folder still loads by config.
    A split with no rows is not written, and a config with no rows at all gets no folder and no
    entry in the card's YAML; build_info.json lists it under `empty_configs` (see _without_empty).
    The same inputs always give byte-identical Parquet files and plots.

    The export is written into a staging folder and moved into place (builder/publish/export_dir.py):
    a folder holding files no export wrote is refused unless `overwrite`, files of an earlier
    export that this one lacks are removed, and no other file is ever deleted.
    """
    if not configs:
        raise ValueError("nothing to export: `configs` is empty")
    configs = {name: _as_splits(name, value) for name, value in configs.items()}
    for name, splits in configs.items():
        check_config_name(name)
        if is_language(name):
            for ds in splits.values():
                _check_lang_column(name, ds)
    configs, empty = _without_empty(configs)
    if not configs:
        raise ValueError(f"nothing to export: every config ({', '.join(empty)}) has no rows")
    configs = _align_languages(configs)
    if empty:
        logger.warning("not exported, no rows: %s", ", ".join(empty))
        build_info = {**build_info, EMPTY_CONFIGS_KEY: empty}
    with staged_export(output_dir, overwrite=overwrite) as staging:
        for name, splits in tqdm(configs.items(), desc="Writing Parquet", unit="config"):
            for split, ds in splits.items():
                _write_split(staging, name, split, ds)
        info = json.dumps(build_info, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        (staging / BUILD_INFO_FILE).write_text(info + "\n", encoding="utf-8")
        layout = Layout.scan(staging, names=list(configs))
        # Plots whose data is unchanged are copied from the export being replaced, not redrawn.
        write_card(
            staging,
            repo_id=build_info.get("repo_id"),
            plots=card,
            body=card,
            layout=layout,
            reuse_plots=output_dir,
        )
    return Path(output_dir)
