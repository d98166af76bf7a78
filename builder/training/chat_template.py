"""Making sure the model has a chat template that can train on assistant turns only.

Three situations:

* A base model has no template: `--chat_template_path` gives it one, either by cloning another
  tokenizer's template (TRL's `clone_chat_template`, which also adds missing special tokens and
  resizes the embeddings) or from a Jinja file.
* Assistant-only loss needs `{% generation %}` markers. TRL ships marked copies of many
  families' templates and swaps them in itself; for the rest it raises.
* ChatML templates without markers (SmolLM2 and many fine-tunes) are not in TRL's list. For
  those we build a marked ChatML template and accept it only if it renders exactly what the
  model's own template renders on probe conversations, so training and inference see the same
  text. The marked block ends at `<|im_end|>`: the line break after it is never generated, so
  it is not trained either.
"""

from __future__ import annotations

import json
import logging
import os
import re

logger = logging.getLogger(__name__)

_SPECIAL_TOKEN = re.compile(r"<\|[^|<>\s]+\|>")

_PROBES = [
    [{"role": "user", "content": "Hello?"}],
    [{"role": "user", "content": "Hello?"}, {"role": "assistant", "content": "Habari."}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hi."},
    ],
    [
        {"role": "user", "content": "A"},
        {"role": "assistant", "content": "B"},
        {"role": "user", "content": "C"},
        {"role": "assistant", "content": "D"},
    ],
]


def has_generation_markers(template: str | dict | None) -> bool:
    from trl.chat_template_utils import has_generation_markers as trl_has_markers

    return bool(template) and trl_has_markers(template)


def apply_chat_template_path(model, tokenizer, path: str | None):
    """Give the tokenizer the template named by `--chat_template_path`; returns (model, tokenizer, added token ids)."""
    if not path:
        return model, tokenizer, []
    if os.path.isfile(path) and path.endswith((".jinja", ".j2")):
        with open(path, encoding="utf-8") as handle:
            template = handle.read()
        vocab = tokenizer.get_vocab()
        missing = sorted({tok for tok in _SPECIAL_TOKEN.findall(template) if tok not in vocab})
        if missing:
            raise ValueError(
                f"the chat template {path} uses {', '.join(missing)}, which the tokenizer does not have; "
                "clone the template from a tokenizer that has them instead (--chat_template_path "
                "<model id or folder>, which adds the tokens and resizes the embeddings)"
            )
        tokenizer.chat_template = template
        return model, tokenizer, []
    from trl import clone_chat_template

    from ..engines.models import resolve_model

    model, tokenizer, added = clone_chat_template(model, tokenizer, resolve_model(path))
    if added:
        logger.warning(
            "Cloning the chat template of %s added %d tokens to the tokenizer", path, len(added)
        )
    return model, tokenizer, added


def require_chat_template(tokenizer, model_name: str) -> None:
    if not tokenizer.chat_template:
        raise ValueError(
            f"{model_name} has no chat template, which the 'chat' format needs. Give it one with "
            "--chat_template_path (a model whose template to clone, e.g. Qwen/Qwen2.5-0.5B-Instruct, "
            "or a .jinja file), or train on plain text with --prompt_format prompt_completion"
        )


def _render(tokenizer, messages, template, add_generation_prompt=False) -> str:
    return tokenizer.apply_chat_template(
        messages,
        chat_template=template,
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
    )


def _default_system(tokenizer) -> str | None:
    """The system message a ChatML template inserts when the conversation has none (SmolLM2 does)."""
    rendered = _render(tokenizer, _PROBES[0], None)
    head = "<|im_start|>system\n"
    if rendered.startswith(head) and "<|im_end|>" in rendered:
        return rendered[len(head) : rendered.index("<|im_end|>")]
    return None


def chatml_training_template(default_system: str | None = None) -> str:
    """ChatML with `{% generation %}` around each assistant reply and its `<|im_end|>`."""
    default = ""
    if default_system is not None:
        # json.dumps gives a double-quoted literal whose escapes (\n, \", \\) Jinja also reads.
        default = (
            "{%- if loop.first and message['role'] != 'system' %}"
            "{{- '<|im_start|>system\\n' + "
            + json.dumps(default_system, ensure_ascii=False)
            + " + '<|im_end|>\\n' }}{%- endif %}"
        )
    return (
        "{%- for message in messages %}" + default + "{%- if message['role'] == 'assistant' %}"
        "{{- '<|im_start|>assistant\\n' }}{%- generation %}{{- message['content'] + '<|im_end|>' }}"
        "{%- endgeneration %}{{- '\\n' }}"
        "{%- else %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
        "{%- endif %}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    )


def _renders_like(tokenizer, candidate: str) -> bool:
    for probe in _PROBES:
        for add_generation_prompt in (True, False) if probe[-1]["role"] == "user" else (False,):
            try:
                ours = _render(tokenizer, probe, candidate, add_generation_prompt)
                theirs = _render(tokenizer, probe, None, add_generation_prompt)
            except Exception:  # a template that rejects a probe (e.g. no system role) is not ChatML
                return False
            if ours != theirs:
                return False
    return True


def ensure_assistant_masks(tokenizer) -> str:
    """Make assistant-only loss possible; returns how: 'markers', 'trl' or 'chatml'.

    Raises ValueError when neither the template, TRL nor the ChatML fallback can mark assistant turns."""
    from trl import get_training_chat_template

    if has_generation_markers(tokenizer.chat_template):
        return "markers"
    try:
        get_training_chat_template(tokenizer)  # TRL swaps its marked copy in at tokenisation time
        return "trl"
    except ValueError:
        pass
    candidate = chatml_training_template(_default_system(tokenizer))
    if _renders_like(tokenizer, candidate):
        # Same text as the model's template, plus markers: safe to save with the model.
        tokenizer.chat_template = candidate
        return "chatml"
    raise ValueError(
        "the model's chat template has no {% generation %} markers, TRL has no training version of it, and it "
        "is not plain ChatML, so assistant-only loss cannot find the assistant turns. Pass --chat_template_path "
        "with a .jinja copy of the template that wraps each assistant reply (and its end-of-turn token) in "
        "{% generation %}...{% endgeneration %}, or use --prompt_format prompt_completion"
    )
