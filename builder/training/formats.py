"""How a pair becomes a training example, and the matching prompt at inference.

The wording of every prompt lives in `builder.prompts`; this module only decides how that
wording reaches the model, in one of two formats. Training rows come from the `messages` column
every export publishes (builder/publish/messages.py); inference prompts from `answer_input`.

* `chat` (default): a user turn with `answer_prompt(instruction, lang)` and an assistant turn
  with the response (the published `messages` as they are), rendered by the model's chat
  template; the loss covers the assistant turn only (TRL `assistant_only_loss`). At inference
  the same single user message goes through the same template, which is what the builder's
  engines do with chat prompts.
* `prompt_completion`: plain text, for base models and raw-text inference: the prompt is the
  user turn, `answer_prompt(...)`, followed by a line break, the completion is the response, and the loss
  covers the completion (plus the EOS token TRL appends) only.
"""

from __future__ import annotations

from ..prompts import answer_prompt, evaluate_messages, generator_messages

FORMATS = ("chat", "prompt_completion")

# The response of a plain-text example starts on the line after the prompt. This is the only
# piece of the plain-text format that `builder.prompts` does not already fix.
TEXT_PROMPT_END = "\n"


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise ValueError(f"unknown prompt format {name!r}; choose one of: {', '.join(FORMATS)}")
    return name


def answer_input(instruction: str, lang: str, fmt: str):
    """What the model is given to answer `instruction` in `lang`: chat messages or raw text."""
    if check_format(fmt) == "chat":
        return [{"role": "user", "content": answer_prompt(instruction, lang)}]
    return answer_prompt(instruction, lang) + TEXT_PROMPT_END


def plain_text_example(messages: list[dict]) -> dict:
    """A published conversation (`messages`: user, assistant) as a plain-text TRL row: the user
    turn and a line break as `prompt`, the response as `completion`."""
    return {
        "prompt": messages[0]["content"] + TEXT_PROMPT_END,
        "completion": messages[-1]["content"],
    }


def generator_example(text: str, instruction: str, lang: str) -> dict:
    """The backward model: target-language text in, English instruction out (always chat)."""
    return {
        "messages": generator_messages(text, lang)
        + [{"role": "assistant", "content": instruction.strip()}]
    }


def evaluator_reply(score: int, reason: str) -> str:
    """The reply the refine stage parses (`parse_score_reply`): a score line, then a reason line."""
    reason = " ".join(reason.split()) if reason else ""
    return f"Score: {int(score)}\nReason: {reason}" if reason else f"Score: {int(score)}"


def evaluator_example(instruction: str, text: str, lang: str, score: int, reason: str = "") -> dict:
    return {
        "messages": evaluate_messages(instruction, text, lang)
        + [{"role": "assistant", "content": evaluator_reply(score, reason)}]
    }
