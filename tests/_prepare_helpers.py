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


def iter_prepare(
    rows: Iterable[dict], block: Prepare, *, only_kept: bool = False
) -> Iterator[dict]:
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
        raise ValueError(
            f"unknown drop reasons {sorted(unknown)}; known: {', '.join(DROP_REASONS)}"
        )
    return {
        "rows_in": sum(tally.values()),
        "kept": tally.get(None, 0),
        "dropped": {reason: tally.get(reason, 0) for reason in DROP_REASONS},
    }


# --- a planted corpus: the rows a crawl holds, in several scripts -------------------------------

PLANTED_LANGS = ("sw", "hi", "th", "ur", "ta")
PLANTED_SHARD = 16  # small shards, so copies land in other shards than their originals
# Room for Tamil and Thai pages (~0.5 characters a token on SmolLM2), so they reach dedup too.
PLANTED_CONFIG = {"max_tokens": 4096}


def planted_corpus(lang: str) -> list[dict]:
    """`{"text", "source"}` rows for `lang` from the embedded corpus, with planted rows among
    the originals: exact copies (as is, re-spaced, re-punctuated, with page chrome around them)
    in this and later shards, near copies (one word changed, one word dropped), English text,
    empty and blank lines, garbled text (mojibake, a replacement character, vowel signs cut off
    their consonants), meta-talk, control and invisible characters, too short and too long."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "builder" / "data" / "corpus" / f"{lang}.jsonl"
    originals = [
        json.loads(line)["text"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    english = [
        "The committee met on Tuesday to review the budget for the coming year, and after a long "
        "discussion it agreed to fund the new library, two clinics and the repair of the old bridge "
        "that connects the market to the river road."
    ]
    texts: list[str] = []
    for i, text in enumerate(originals):
        texts.append(text)
        words = text.split(" ")
        if i % 5 == 1:
            texts.append("  " + text.replace(" ", "   ") + "\n")  # the same dedup key: exact
        if i % 5 == 2:
            texts.append(text.replace(",", "").replace(".", " !"))  # punctuation only: exact
        if i % 5 == 3:
            changed = list(words)
            changed[len(changed) // 2] = "mabadiliko"
            texts.append(" ".join(changed))  # one word changed: near
        if i % 7 == 4:
            texts.append(" ".join(words[:-1]))  # one word dropped: near
        if i % 6 == 0:
            # chrome around a copy
            texts.append(f"Home | News | Sport | Contact\n{text}\nRead more »")
        if i % 8 == 5:
            texts.append(text.encode("utf-8").decode("cp1252", errors="replace"))  # mojibake
        if i == 9:
            texts.append(text[:40] + "\ufffd" + text[40:])
        if i == 10:
            texts.append("\u093f\u093e " + text + " \u094b")  # marks with no consonant
        if i == 11:
            texts.append("As an AI language model, I understood your request. " + text)
        if i == 12:
            texts.append(text.replace(" ", "\u200b ", 3) + "\x07\x00")
        if i == 13:
            texts.append(" ".join([text] * 60))  # too long in tokens
        if i == 14:
            texts.append(" ".join([text] * 250))  # too long in characters alone
    texts += [
        "",
        "   ",
        "\n\n\t",
        english[0],
        english[0] + " " + english[0],
        "Habari.",
        "१२३ ४५६ ७८९ !!!",
    ]
    texts += [originals[0], originals[3] + "\n\n\n\n", originals[-1]]  # copies in the last shard
    return [
        {
            "text": t,
            "source": {"corpus": "planted", "config": lang, "split": "train", "row": str(n)},
        }
        for n, t in enumerate(texts)
    ]


def prepared_rows(rows: list[dict], block: Prepare, prepare_shard) -> list[dict]:
    """`rows` through `block` in shards of PLANTED_SHARD, each shard made into its table by
    `prepare_shard(block, shard)`; the tables' rows, in order."""
    out = []
    for i in range(0, len(rows), PLANTED_SHARD):
        out += prepare_shard(block, rows[i : i + PLANTED_SHARD]).to_pylist()
    return out
