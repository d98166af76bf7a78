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
    digest = hashlib.sha256(f"{template.name}\0{template.version}\0{template.text}".encode())
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


# --- the builder's stages -------------------------------------------------------------------

# Backward generation (few-shot, chat): each seed pair is one user/assistant exchange, then the
# real text. Small models imitate the exchanges far better than they follow a long instruction.
BACKWARD_SYSTEM = Template(
    "backward_system",
    "1",
    "You write the English instruction that a given {language} text answers. Reply with one "
    "English instruction or question only: no preamble, no translation, no quotes.",
)
BACKWARD_TURN = Template(
    "backward_turn",
    "1",
    "Here is a text in {language}:\n\n{text}\n\nWhat English instruction or question is this "
    "text a good answer to?",
)

# Rewriting an instruction after a low score, using the evaluator's reason.
REWRITE = Template(
    "rewrite",
    "1",
    "A text in {language} is meant to answer an English instruction, but the instruction was "
    "rated {score}/5 because: {reason}\n\nText:\n{text}\n\nOld instruction: {instruction}\n\n"
    "Write a better English instruction that this text answers fully. Reply with the "
    "instruction only.",
)

# The evaluator: a Humpback-style 1-5 rating of how well the response answers the instruction.
# The rubric comes after the pair and the reply is pre-filled with "Score:": small models then
# answer with a number far more often than when the format is described before the texts
# (measured on SmolLM2-135M: with the rubric first it echoed "1-5" or "N" for every pair, and
# longer wording, e.g. naming the response language, made it answer "100" or "10").
EVALUATE = Template(
    "evaluate",
    "3",
    "Instruction: {instruction}\n\nResponse:\n{text}\n\n"
    "How well does the response answer the instruction?\n"
    "5 = a complete, helpful answer to exactly this instruction\n"
    "4 = a good answer with minor gaps\n"
    "3 = on topic, but reads like web text rather than an answer\n"
    "2 = only loosely related\n"
    "1 = unrelated or unusable\n"
    "Answer with a single number from 1 to 5, then give your reason.",
)

# Optional response refinement (off by default): rewrite the web text as an assistant's answer.
REFINE_RESPONSE = Template(
    "refine_response",
    "1",
    "Rewrite the {language} text below so that it directly answers the instruction, in the "
    "register of a helpful assistant. Keep its facts, keep it in {language}, and reply with the "
    "rewritten text only.\n\nInstruction: {instruction}\n\nText:\n{text}",
)

BUILDER_TEMPLATES = (BACKWARD_SYSTEM, BACKWARD_TURN, REWRITE, EVALUATE, REFINE_RESPONSE, GENERATOR)


def template_versions(templates=BUILDER_TEMPLATES) -> dict[str, dict[str, str]]:
    """{name: {version, hash}} for `meta` and the dataset card."""
    return {t.name: {"version": t.version, "hash": t.hash} for t in templates}


def backward_messages(text: str, lang: str, seeds: list[dict]) -> list[dict[str, str]]:
    """The few-shot chat for writing an English instruction that `text` answers."""
    language = get_language(lang).name
    messages = [{"role": "system", "content": BACKWARD_SYSTEM.format(language=language)}]
    for seed in seeds:
        # A borrowed seed (builder/corpus/seed_donors.py) is shown under its own language's name.
        shown = get_language(seed["lang"]).name if seed.get("lang") else language
        messages.append(
            {
                "role": "user",
                "content": BACKWARD_TURN.format(language=shown, text=seed["output"].strip()),
            }
        )
        messages.append({"role": "assistant", "content": seed["instruction"].strip()})
    messages.append(
        {"role": "user", "content": BACKWARD_TURN.format(language=language, text=text.strip())}
    )
    return messages


def generator_messages(text: str, lang: str) -> list[dict[str, str]]:
    """What a fine-tuned backward model (--generator) sees: one user turn, no few-shot."""
    return [{"role": "user", "content": generator_prompt(text, lang)}]


def evaluate_messages(instruction: str, text: str, lang: str) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": EVALUATE.format(
                instruction=instruction.strip(), text=text.strip(), language=get_language(lang).name
            ),
        }
    ]


def rewrite_messages(
    instruction: str, text: str, lang: str, score: int | None, reason: str
) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": REWRITE.format(
                instruction=instruction.strip(),
                text=text.strip(),
                language=get_language(lang).name,
                score=score if score is not None else "?",
                reason=reason.strip() or "no reason given",
            ),
        }
    ]


def refine_response_messages(instruction: str, text: str, lang: str) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": REFINE_RESPONSE.format(
                instruction=instruction.strip(), text=text.strip(), language=get_language(lang).name
            ),
        }
    ]
