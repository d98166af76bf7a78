"""The `messages` column: each published pair as the conversation a model is trained on.

The user turn is the paper's training prompt, `builder.prompts.answer_prompt` (the English
instruction, a line break, "Answer in Swahili."); the assistant turn is the response. It is the
column TRL's `SFTTrainer` (and so `trl sft`), most other fine-tuning stacks and the Hub viewer read
as a chat, so the published data trains as it is; `trl_scripts/sft.py` reads the same column.
The wording lives in builder/prompts.py alone: this module only lays it out as turns.
"""

from __future__ import annotations

from ..core.schema import MESSAGES
from ..prompts import answer_prompt


def answer_messages(instruction: str, output: str, lang: str) -> list[dict]:
    """[user: instruction + answer-language hint, assistant: response]."""
    return [
        {"role": "user", "content": answer_prompt(instruction, lang)},
        {"role": "assistant", "content": output.strip()},
    ]


def messages_column(instructions: list, outputs: list, langs: list):
    """The column for a table's rows, as an Arrow array of MESSAGES' type (null for a row that
    lacks its instruction or response: the pipeline publishes none, but a null is no crash)."""
    import pyarrow as pa

    return pa.array(
        [
            answer_messages(i, o, lang) if i is not None and o is not None else None
            for i, o, lang in zip(instructions, outputs, langs)
        ],
        type=MESSAGES.pa_type,
    )
