"""Test-side helpers around the prepare block: stream rows through it, count tokens with a
tokenizer, and rebuild its funnel counts from a `dropped` column."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from builder.engines.prompt_tokens import count_text_tokens
from builder.stages.prepare import DROP_REASONS, Prepare


class TokenCounter:
    """`count_tokens` for a Hugging Face tokenizer: content tokens, no BOS/EOS, as the engines count."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> int:
        return count_text_tokens(self.tokenizer, text)


def iter_prepare(rows: Iterable[dict], block: Prepare, *, only_kept: bool = False) -> Iterator[dict]:
    """Stream `{"text", "source"}` rows through `block`; `only_kept` skips the dropped ones."""
    for row in rows:
        out = block.process(row.get("text"), row.get("source"))
        if not only_kept or out["dropped"] is None:
            yield out


def funnel_counts(dropped: Iterable[str | None]) -> dict:
    """`block.counts` rebuilt from a `dropped` column, to check the block's own tally against."""
    tally = Counter(dropped)
    unknown = set(tally) - set(DROP_REASONS) - {None}
    if unknown:
        raise ValueError(f"unknown drop reasons {sorted(unknown)}; known: {', '.join(DROP_REASONS)}")
    return {"rows_in": sum(tally.values()), "kept": tally.get(None, 0),
            "dropped": {reason: tally.get(reason, 0) for reason in DROP_REASONS}}
