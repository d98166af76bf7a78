"""X-Instruction as a `datasets` builder: one BuilderConfig per language.

    from builder.x_instruction import XInstruction

    builder = XInstruction(config_name="sw", options={"max_docs": 8, "rounds": 2})
    builder.download_and_prepare()
    ds = builder.as_dataset("train")

The examples come from the pipeline (builder/pipeline/runner.py) run for that one language with the
given options (any `BuildConfig` field). datasets 5.x no longer loads builder scripts from the
Hub, so this class is for in-process use; what gets published is the Parquet + `configs:` YAML
layout that `x-instruction build` exports and `load_dataset(repo, "sw")` reads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import datasets

from .publish.citation import CITATION
from .config import BuildConfig
from .languages import LANGUAGES, PAPER_LANGUAGES
from .stages.schema import PUBLISHED


DESCRIPTION = (
    "Cross-lingual instruction data: English instructions written by a model for natural web text "
    "in a low-resource language, which serves as the response; scored, refined and diversified."
)


@dataclasses.dataclass
class XInstructionConfig(datasets.BuilderConfig):
    lang: str = "sw"
    # Any BuildConfig field except langs/output_dir: corpus, model, engine, max_docs, rounds, ...
    options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        super().__post_init__()
        bad = set(self.options) - (set(BuildConfig.field_names()) - {"langs", "output_dir", "push_to_hub"})
        if bad:
            raise ValueError(f"unknown build option(s) {sorted(bad)}; see builder.config.BuildConfig")


class XInstruction(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIG_CLASS = XInstructionConfig
    BUILDER_CONFIGS = [
        XInstructionConfig(name=code, lang=code, description=f"X-Instruction pairs with {LANGUAGES[code].name} responses")
        for code in PAPER_LANGUAGES
    ]
    DEFAULT_CONFIG_NAME = "sw"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=DESCRIPTION, features=PUBLISHED, citation=CITATION,
                                    homepage="https://arxiv.org/abs/2405.19744", license="see the source corpus")

    def _split_generators(self, dl_manager):
        from .pipeline.runner import Pipeline, split_heldout

        options = dict(self.config.options)
        options.setdefault("work_dir", str(Path(self._cache_dir_root) / "x-instruction-work"))
        result = Pipeline(BuildConfig(langs=[self.config.lang], **options)).run()
        rows = result.languages[self.config.lang]
        if len(rows) == 0:
            # `datasets` cannot prepare a split with no examples; say why the language is empty
            # instead of its "corresponds to no data" error.
            raise ValueError(f"no row was kept, so there is no {self.config.lang!r} dataset: "
                             f"{result.funnel.explain(self.config.lang)}")
        splits = split_heldout(rows, options.get("heldout", 0))
        names = {"train": datasets.Split.TRAIN, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[name], gen_kwargs={"rows": ds}) for name, ds in splits.items()]

    def _generate_examples(self, rows):
        for row in rows:
            yield row["id"], row
