"""The Hub layout of an export folder, and the `configs:` / `dataset_info:` YAML that describes it.

One folder per config holding `{split}-{index:05d}-of-{count:05d}.parquet` shards (the names
`Dataset.push_to_hub` writes), `build_info.json`, `README.md` and `plots/` at the top. The `all`
config is virtual: its `data_files` list every language folder, so no row is stored twice.
A folder is the same thing on disk and on the Hub, which is what makes
`load_dataset(folder, "sw")` and `load_dataset("org/x-instruction", "sw")` give the same rows.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ..languages import ENGLISH, LANGUAGES, UnknownLanguageError, get_language

ALL_CONFIG = "all"
PLOTS_DIR = "plots"
CARD_FILE = "README.md"
BUILD_INFO_FILE = "build_info.json"
EMPTY_CONFIGS_KEY = (
    "empty_configs"  # in build_info.json: configs export_local left out for having no rows
)
RESERVED_NAMES = {ALL_CONFIG, PLOTS_DIR}
CONFIG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SPLIT_NAME = re.compile(r"^[A-Za-z0-9_]+$")
SHARD = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet$")
_SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}

logger = logging.getLogger(__name__)


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def split_pattern(config: str, split: str) -> str:
    return f"{config}/{split}-*.parquet"


def is_language(name: str) -> bool:
    """A config named by a language's code: a registered one, or one derived from CLDR (`yo`,
    `sr_Cyrl`) as `--langs` accepts it. Audit names (`candidates`) and English are not."""
    if name in LANGUAGES:
        return True
    return _is_derived_language(name, len(LANGUAGES))


@functools.lru_cache(maxsize=1024)
def _is_derived_language(name: str, registered: int) -> bool:
    """Cached, since an unknown name (`candidates`) costs a fuzzy search of every known code;
    `registered` (how many languages are registered) is part of the key because registering
    one can change the answer."""
    try:
        return get_language(name).code == name != ENGLISH.code
    except UnknownLanguageError:
        return False


def check_config_name(name: str) -> None:
    if name in RESERVED_NAMES:
        raise ValueError(
            f"config name {name!r} is reserved (the export writes it itself); rename that config"
        )
    if not CONFIG_NAME.match(name):
        raise ValueError(
            f"config name {name!r} is not a valid folder name; use letters, digits, '_', '-', '.'"
        )


def ordered_splits(splits) -> list[str]:
    return sorted(splits, key=lambda s: (_SPLIT_ORDER.get(s, 3), s))


def read_front_matter(card_path: Path) -> dict:
    """The YAML block at the top of a README.md ({} when there is none)."""
    if not card_path.is_file():
        return {}
    match = re.match(r"^---\n(.*?)\n---\n", card_path.read_text(encoding="utf-8"), re.S)
    data = yaml.safe_load(match.group(1)) if match else None
    return data if isinstance(data, dict) else {}


@dataclasses.dataclass
class Layout:
    root: Path
    configs: dict[str, dict[str, list[str]]]  # config -> split -> shard paths relative to root
    # Which configs are languages. An export's card records it (the folders of `all`), so a
    # language registered at run time stays a language when the card is re-rendered elsewhere.
    language_names: set[str] = dataclasses.field(default_factory=set)
    # Configs the export names but that hold no row, so they are not published: `datasets`
    # cannot load a 0-row split (its reader raises 'Instruction "train" corresponds to no data!'),
    # on disk or on the Hub. Recorded by export_local in build_info.json, or found as 0-row
    # shards in an export made by an older builder.
    empty: list[str] = dataclasses.field(default_factory=list)

    @property
    def languages(self) -> list[str]:
        return sorted(c for c in self.configs if c in self.language_names or is_language(c))

    @property
    def audit(self) -> list[str]:
        return sorted(c for c in self.configs if c not in self.languages)

    def files(self, config: str) -> list[str]:
        return [
            f for split in ordered_splits(self.configs[config]) for f in self.configs[config][split]
        ]

    def read(self, config: str, columns: list[str] | None = None, split: str | None = None):
        """The config's rows as one Arrow table (the wanted columns that exist)."""
        splits = [split] if split else ordered_splits(self.configs[config])
        paths = [self.root / f for s in splits for f in self.configs[config][s]]
        if columns is not None:
            present = set(pq.read_schema(paths[0]).names)
            columns = [c for c in columns if c in present]
        return pq.read_table(paths, columns=columns)

    @classmethod
    def scan(cls, root: str | Path, names: list[str] | None = None) -> Layout:
        """Find the shards of `names` (default: the configs the card lists, else every folder with shards)."""
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(
                f"{root} is not an export folder (it does not exist); export first with "
                "builder.publish.export.export_local or `x-instruction build --output-dir`"
            )
        listed = read_front_matter(root / CARD_FILE).get("configs") or []
        language_names = {
            path.split("/", 1)[0]
            for c in listed
            if c.get("config_name") == ALL_CONFIG
            for f in c.get("data_files") or []
            for path in _as_list(f.get("path"))
        }
        required = names is not None or bool(listed)  # every named config must have shards
        if names is None:
            names = [c["config_name"] for c in listed if c.get("config_name") != ALL_CONFIG] or [
                p.name for p in root.iterdir() if p.is_dir() and p.name not in RESERVED_NAMES
            ]
        configs = {name: shards for name in sorted(names) if (shards := _shards(root, name))}
        found_empty = _drop_empty_splits(root, configs)
        recorded = [n for n in _recorded_empty(root) if n not in configs]
        # A folder the card no longer lists whose shards hold no row: an older builder's empty
        # config, after the card was re-rendered without it. Still empty, so push never uploads it.
        unlisted = [
            p.name
            for p in root.iterdir()
            if p.is_dir() and p.name not in names and p.name not in RESERVED_NAMES
        ]
        left_over = [
            n
            for n in unlisted
            if (shards := _shards(root, n))
            and not any(shard_rows(root / f) for files in shards.values() for f in files)
        ]
        empty = sorted(set(found_empty + recorded + left_over))
        missing = [n for n in names if n not in configs and n not in empty] if required else []
        if missing or not configs:
            raise FileNotFoundError(
                f"{root} holds no Parquet shards for {', '.join(missing) or 'any config'}: "
                "export it first with builder.publish.export.export_local (or `x-instruction build --output-dir`)"
            )
        return cls(root, configs, language_names & set(configs), empty)


def _shards(root: Path, name: str) -> dict[str, list[str]]:
    """split -> shard paths relative to root, for the config folder `name`."""
    splits: dict[str, list[str]] = {}
    for shard in sorted(p.name for p in (root / name).glob("*.parquet") if SHARD.match(p.name)):
        splits.setdefault(SHARD.match(shard)["split"], []).append(f"{name}/{shard}")
    return splits


def shard_rows(path: Path) -> int:
    """Rows in a Parquet shard, from its footer; a file that is not Parquet is one clear error."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(
            f"{path} is not a readable Parquet file ({err}); export the folder again "
            "(`x-instruction build --output-dir` reuses cached work)"
        ) from None


def _drop_empty_splits(root: Path, configs: dict[str, dict[str, list[str]]]) -> list[str]:
    """Remove 0-row splits from `configs` (older exports wrote them); return the configs left with none."""
    emptied = []
    for name in list(configs):
        for split, files in list(configs[name].items()):
            if sum(shard_rows(root / f) for f in files) == 0:
                logger.warning(
                    "%s: split %r of config %r has no rows; it is left out (datasets cannot load "
                    "an empty split)",
                    root,
                    split,
                    name,
                )
                del configs[name][split]
        if not configs[name]:
            del configs[name]
            emptied.append(name)
    return emptied


def _recorded_empty(root: Path) -> list[str]:
    path = root / BUILD_INFO_FILE
    if not path.is_file():
        return []
    try:
        return list(json.loads(path.read_text(encoding="utf-8")).get(EMPTY_CONFIGS_KEY) or [])
    except (
        ValueError,
        AttributeError,
    ):  # not JSON, or not an object: the card reports that file itself
        return []


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def configs_yaml(layout: Layout) -> list[dict]:
    """The `configs:` entries: `all` (default) over every language folder, then each folder."""
    entries = []
    langs = layout.languages
    if langs:
        splits = ordered_splits({s for lang in langs for s in layout.configs[lang]})
        data_files = [
            {
                "split": s,
                "path": [split_pattern(lang, s) for lang in langs if s in layout.configs[lang]],
            }
            for s in splits
        ]
        entries.append({"config_name": ALL_CONFIG, "data_files": data_files})
    for name in langs + layout.audit:
        data_files = [
            {"split": s, "path": split_pattern(name, s)}
            for s in ordered_splits(layout.configs[name])
        ]
        entries.append({"config_name": name, "data_files": data_files})
    # `all` is the default; with a single language that language is (the two are the same rows).
    default = entries[0] if len(langs) != 1 else entries[1]
    default["default"] = True
    return entries


def dataset_infos(layout: Layout):
    """`dataset_info:` per config (features, split sizes) as `datasets` writes it in push_to_hub."""
    from datasets import DatasetInfo, Features, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict

    infos = {}
    # split -> [num_bytes, num_examples] over languages, for `all`
    totals: dict[str, list[int]] = {}
    all_download, all_features = 0, None
    languages = layout.languages
    for name in languages + layout.audit:
        splits = SplitDict()
        download = 0
        for split in ordered_splits(layout.configs[name]):
            paths = [layout.root / f for f in layout.configs[name][split]]
            # One shard in memory at a time: the audit config can be bigger than memory allows.
            num_bytes = num_rows = 0
            for path in paths:
                table = pq.read_table(path)
                num_bytes, num_rows = num_bytes + table.nbytes, num_rows + table.num_rows
                del table
            splits.add(SplitInfo(name=split, num_bytes=num_bytes, num_examples=num_rows))
            download += sum(p.stat().st_size for p in paths)
            if name in languages:
                acc = totals.setdefault(split, [0, 0])
                acc[0] += num_bytes
                acc[1] += num_rows
        features = Features.from_arrow_schema(pq.read_schema(layout.root / layout.files(name)[0]))
        infos[name] = DatasetInfo(
            features=features,
            splits=splits,
            download_size=download,
            dataset_size=sum(s.num_bytes for s in splits.values()),
        )
        if name in languages:
            all_download += download
            all_features = all_features or features
    if languages:
        splits = SplitDict()
        for split in ordered_splits(totals):
            splits.add(
                SplitInfo(name=split, num_bytes=totals[split][0], num_examples=totals[split][1])
            )
        infos = {
            ALL_CONFIG: DatasetInfo(
                features=all_features,
                splits=splits,
                download_size=all_download,
                dataset_size=sum(t[0] for t in totals.values()),
            ),
            **infos,
        }
    return DatasetInfosDict(infos)
