"""Every prompt the project sends to a model, in one place, versioned.

Each template has a version string; `template_hash()` of a template goes into every request's
cache key and into `meta`, so changing a prompt invalidates exactly the cached answers that
used it. Change the wording -> bump the version.

Formats shared across the project (defined once here, imported by builder, trl_scripts, eval):
* `answer_prompt`: how a trained model is asked (the paper's format: the English instruction,
  then "Answer in {Language}."). SFT trains on it and the judge harness asks with it.
* `generator_prompt`: what the fine-tuned backward model (trl_scripts/train_generator.py) sees:
  a target-language text, and it answers with the English instruction.
"""

from __future__ import annotations

import dataclasses
import hashlib

from .languages import get_language


@dataclasses.dataclass(frozen=True)
class Template:
    name: str
    version: str
    text: str

    @property
    def hash(self) -> str:
        return template_hash(self)

    def format(self, **fields) -> str:
        return self.text.format(**fields)


def template_hash(template: Template) -> str:
    digest = hashlib.sha256(f"{template.name}\0{template.version}\0{template.text}".encode("utf-8"))
    return digest.hexdigest()[:12]


ANSWER = Template("answer", "1", "{instruction}\nAnswer in {language}.")

GENERATOR = Template(
    "generator",
    "1",
    "Below is a text in {language}. Write the English instruction that this text answers.\n\n"
    "Text:\n{text}",
)


def answer_prompt(instruction: str, lang: str) -> str:
    return ANSWER.format(instruction=instruction.strip(), language=get_language(lang).name)


def generator_prompt(text: str, lang: str) -> str:
    return GENERATOR.format(text=text.strip(), language=get_language(lang).name)
