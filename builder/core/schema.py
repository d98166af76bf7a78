"""Column types of every stage's output, as `datasets.Features`.

Declaring them keeps Parquet shards written at different times (or by different workers)
type-identical, even when a shard happens to hold only nulls in a column.
"""

from __future__ import annotations

from datasets import Features, List, Value

SOURCE = {
    "corpus": Value("string"),
    "config": Value("string"),
    "split": Value("string"),
    "row": Value("string"),
}
LID = {
    "lang": Value("string"),
    "score": Value("float32"),
    "script": Value("string"),
    "reliable": Value("bool"),
}
JUDGEMENT = {
    "round": Value("int32"),
    "instruction": Value("string"),
    "prompt_hash": Value("string"),
    "raw": Value("string"),
    "score": Value("int32"),
    "status": Value("string"),  # ok | retried | unparseable
    # Which text was judged: "original" (the row's text) or "rewritten" (refine_response's
    # rewrite of it). Null in datasets from builders before this field: read null as "original".
    "response": Value("string"),
}
META = {
    "generator_model": Value("string"),
    "generator_revision": Value("string"),
    "evaluator_model": Value("string"),
    "engine": Value("string"),
    "sampling": Value("string"),  # JSON: the sampling parameters of each model call
    "prompts": Value("string"),  # JSON: {template name: {version, hash}}
    "builder_version": Value("string"),
}

PREPARED = Features(
    {
        "id": Value("string"),
        "lang": Value("string"),
        "text": Value("string"),
        "source": SOURCE,
        "lid": LID,
        "n_tokens": Value("int32"),
        "dropped": Value("string"),
    }
)

GENERATED = Features(
    {
        **PREPARED,
        "candidates": List(Value("string")),
        "rejected": List({"text": Value("string"), "reason": Value("string")}),
        "instruction": Value("string"),
    }
)

REFINED = Features(
    {
        **GENERATED,
        "output": Value("string"),
        "score": Value("int32"),
        "rounds": Value("int32"),
        "judgements": List(JUDGEMENT),
    }
)

# relevance: the pair's cross-lingual relevance, calibrated per language (builder/quality/relevance.py)
RELEVANT = Features({**REFINED, "relevance": Value("float32")})

DIVERSIFIED = Features({**RELEVANT, "cluster": Value("int32")})

# The rater's negative controls (builder/quality/rater.py): mismatched pairs (a text with another
# text's instruction), scored by the rater like a model stage's shard.
MISMATCHED = Features({"text": Value("string"), "instruction": Value("string")})
MISMATCHED_SCORED = Features({**MISMATCHED, "score": Value("int32")})

# A conversation as TRL and the Hub viewer read it (builder/publish/messages.py fills it).
MESSAGES = List({"role": Value("string"), "content": Value("string")})

# What is published per language (the audit config `candidates` keeps DIVERSIFIED minus nothing).
# `messages` came last (builder 0.2.0), so the columns before it are where they always were.
PUBLISHED = Features(
    {
        "id": Value("string"),
        "lang": Value("string"),
        "instruction": Value("string"),
        "output": Value("string"),
        "score": Value("int32"),
        "rounds": Value("int32"),
        "relevance": Value("float32"),
        "cluster": Value("int32"),
        "source": SOURCE,
        "meta": META,
        "messages": MESSAGES,
    }
)
