"""Every setting of a build, in one dataclass that the CLI, YAML files and the builder share."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .languages import PAPER_LANGUAGES, parse_languages


# The embedded demo corpus is read only this far unless --max-docs says otherwise: the
# embedded model on two CPU cores does about this many texts per language in the README's
# five-minute budget. Real corpora are read in full by default.
EMBEDDED_DEMO_DOCS = 2


@dataclasses.dataclass
class BuildConfig:
    # what to read
    langs: list[str] = dataclasses.field(default_factory=lambda: list(PAPER_LANGUAGES))
    corpus: str = "embedded"  # embedded | a local file or folder | hub:ID[:CONFIG] | fineweb2 | culturax
    text_column: str | None = None
    split: str = "train"
    max_docs: int | None = None  # per language, read before cleaning; see EMBEDDED_DEMO_DOCS
    seeds: str | None = None  # seed pairs for few-shot generation; None = the embedded ones
    # models
    model: str = "smollm2-135m"
    engine: str = "auto"
    generator: str | None = None  # a fine-tuned backward model; replaces few-shot generation
    evaluator: str | None = None  # the rater; None = `model`
    embedder: str = "all-MiniLM-L6-v2"
    base_url: str | None = None  # for --engine openai
    batch_size: int = 16
    # method
    candidates: int = 4
    temperature: float = 0.7
    top_p: float = 0.95
    few_shot: int = 2
    max_instruction_tokens: int = 48
    rounds: int = 2
    accept_score: int = 4
    refine_response: bool = False
    target_size: int = 32000
    min_tokens: int = 24
    max_tokens: int = 2048  # Bengali, Tamil, Thai: ~0.55 characters per SmolLM2 token
    seed: int = 0
    heldout: int = 0  # rows per language moved to a `test` split
    # where
    work_dir: str = "x-instruction-work"
    output_dir: str = "x-instruction-data"
    shard_size: int = 64
    push_to_hub: str | None = None
    private: bool = False
    dry_run: bool = False
    pilot_docs: int = 3

    def __post_init__(self):
        if isinstance(self.langs, str):
            self.langs = [lang.code for lang in parse_languages(self.langs)]
        else:
            self.langs = [lang.code for lang in parse_languages(list(self.langs))]
        for name in ("candidates", "rounds", "batch_size", "shard_size", "target_size", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_tokens >= self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be below max_tokens ({self.max_tokens})")
        if self.corpus == "embedded" and self.max_docs is None:
            self.max_docs = EMBEDDED_DEMO_DOCS
        if self.max_docs is not None and self.max_docs < 1:
            raise ValueError(f"max_docs must be >= 1, got {self.max_docs}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> "BuildConfig":
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of option: value, got {type(data).__name__}")
        data = {k.replace("-", "_"): v for k, v in data.items()}
        unknown = sorted(set(data) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(cls.field_names())}")
        data.update(overrides)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
