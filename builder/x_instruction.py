"""X-Instruction as a `datasets` builder: one BuilderConfig per language.

    from builder.x_instruction import XInstruction

    builder = XInstruction(config_name="sw", options={"max_docs": 8, "rounds": 2})
    builder.download_and_prepare()
    ds = builder.as_dataset("train")

`_split_generators` runs the build (builder/pipeline/runner.py `build`, what `x-instruction build`
runs) for that one language with the given options (any `BuildConfig` field but `langs`,
`output_dir` and `push_to_hub`), so the rows are the CLI's. It hands the Parquet shards of the
build's export to `_generate_examples`, which streams them. `data_dir=` names an existing export
(a folder `x-instruction build --output-dir` wrote) to read as it is, with no build.

The build's folders sit under the datasets cache root (`cache_dir=`, else `HF_DATASETS_CACHE`):
`x-instruction-work/`, shared by every config, so a rerun or another option set reuses finished
shards and model replies, and `x-instruction-export/<config id>/`, the export itself.

datasets 5.x no longer loads builder scripts (`load_dataset` refuses a `.py` path), so this
class is for in-process use; what gets published is the Parquet + `configs:` YAML layout that
`x-instruction build` exports and `load_dataset(repo, "sw")` reads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.table import table_cast

from . import __version__
from .config import BuildConfig
from .core.schema import PUBLISHED
from .languages import LANGUAGES, PAPER_LANGUAGES
from .publish.citation import CITATION

DESCRIPTION = (
    "Cross-lingual instruction data: English instructions written by a model for natural web text "
    "in a low-resource language, which serves as the response; scored, refined and diversified."
)
# Every row records the builder version that made it (meta.builder_version): a new release is
# a new dataset version, so datasets does not serve rows an older release prepared.
VERSION = datasets.Version(__version__)
WORK_DIR = "x-instruction-work"
EXPORT_DIR = "x-instruction-export"
NOT_OPTIONS = {"langs", "output_dir", "push_to_hub"}  # the builder decides these itself
BATCH_ROWS = 1000  # rows read from a shard at a time: memory stays flat whatever the shard's size


def check_options(options: dict) -> None:
    bad = set(options) - (set(BuildConfig.field_names()) - NOT_OPTIONS)
    if bad:
        raise ValueError(f"unknown build option(s) {sorted(bad)}; see builder.config.BuildConfig")


@dataclasses.dataclass
class XInstructionConfig(datasets.BuilderConfig):
    lang: str = "sw"
    # Any BuildConfig field except langs/output_dir/push_to_hub: corpus, model, engine, max_docs, rounds, ...
    options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        super().__post_init__()
        check_options(self.options)


class XInstruction(datasets.GeneratorBasedBuilder):
    VERSION = VERSION
    BUILDER_CONFIG_CLASS = XInstructionConfig
    BUILDER_CONFIGS = [
        XInstructionConfig(
            name=code,
            lang=code,
            version=VERSION,
            description=f"X-Instruction pairs with {LANGUAGES[code].name} responses",
        )
        for code in PAPER_LANGUAGES
    ]
    DEFAULT_CONFIG_NAME = "sw"

    def __init__(self, cache_dir: str | None = None, *args, **kwargs):
        super().__init__(cache_dir, *args, **kwargs)
        # datasets' public `cache_dir` is this config's versioned data folder, which it deletes
        # and rewrites at every preparation; the build's folders go beside it, under the root
        # the user chose, as datasets itself resolves it.
        self.build_root = Path(cache_dir or datasets.config.HF_DATASETS_CACHE).expanduser()
        # options set on a predefined config skip its __post_init__
        check_options(self.config.options)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=DESCRIPTION,
            features=PUBLISHED,
            citation=CITATION,
            homepage="https://arxiv.org/abs/2405.19744",
            license="see the source corpus",
        )

    def _split_generators(self, dl_manager):
        from .publish.layout import Layout, ordered_splits

        if self.config.data_dir and self.config.options:
            raise ValueError(
                "give either data_dir= (an existing export to read) or options= (a build to run), "
                "not both"
            )
        export = Path(self.config.data_dir) if self.config.data_dir else self._build()
        layout = Layout.scan(export, names=[self.config.lang])
        splits = layout.configs[self.config.lang]
        return [
            datasets.SplitGenerator(
                name=split, gen_kwargs={"shards": [str(export / f) for f in splits[split]]}
            )
            for split in ordered_splits(splits)
        ]

    def _build(self) -> Path:
        """Run the build for this language; return its export folder."""
        from .pipeline.runner import EmptyBuildError, build

        lang, options = self.config.lang, self.config.options
        output = self.build_root / EXPORT_DIR / self.config_id
        config = BuildConfig(
            langs=[lang],
            output_dir=str(output),
            **{"work_dir": str(self.build_root / WORK_DIR), **options},
        )
        try:
            build(config)
        except EmptyBuildError as err:
            # `datasets` cannot prepare a split with no examples; say why the language is empty
            # instead of its "corresponds to no data" error.
            raise ValueError(
                f"no row was kept, so there is no {lang!r} dataset: {err.funnel.explain(lang)}"
            ) from None
        return output

    def _generate_shards(self, shards):
        yield from shards

    def _generate_examples(self, shards):
        schema = self.info.features.arrow_schema
        for path in shards:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
                # table_cast, as datasets' Parquet reader does: it also matches struct fields by name.
                for row in table_cast(pa.Table.from_batches([batch]), schema).to_pylist():
                    yield row["id"], row  # unique within a language, and the same in every build
