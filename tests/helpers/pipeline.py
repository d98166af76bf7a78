"""The scripted writer and judge most pipeline tests build with, and their build settings."""

from __future__ import annotations

import hashlib

from _scripted_engine import last_user

from builder.config import BuildConfig

TOPICS = [
    "cook a local dish",
    "plan a trip to the coast",
    "look after a vegetable garden",
    "save money each month",
    "prepare for a job interview",
    "learn the history of the city",
    "treat a mild fever at home",
    "choose a good mobile phone",
    "celebrate the new year festival",
    "understand the local elections",
]


def _topic(text: str) -> str:
    return TOPICS[int(hashlib.sha256(text.encode()).hexdigest(), 16) % len(TOPICS)]


def writer_and_judge(prompt, params, k):
    """Backward prompts get an on-topic instruction per text; judge prompts a score by sample."""
    if prompt[-1]["role"] == "assistant":  # the evaluator, pre-filled with "Score:"
        instruction = last_user(prompt).split("Instruction: ", 1)[1].split("\n", 1)[0]
        return (
            " 5\nReason: answers it."
            if "step by step" in instruction
            else " 3\nReason: reads like web text."
        )
    text = last_user(prompt).split("\n\n")[1]
    return [
        f"How do I {_topic(text)}?",
        f"Explain step by step how to {_topic(text)} ({text[:12]}).",
    ][k % 2]


def pipeline_config(tmp_path, **kw) -> BuildConfig:
    """Two languages of the embedded corpus, six texts each, for the scripted model."""
    # relevance_floor flag: the scripted writer names a random topic and quotes 12 characters of
    # the text, so the seeds' floor (tests/test_relevance_small.py) would drop most of its pairs.
    # The percentile gate stays at its default; flagged pairs are counted in the quality report.
    base = dict(
        langs=["sw", "fi"],
        corpus="embedded",
        max_docs=6,
        candidates=2,
        rounds=2,
        target_size=3,
        shard_size=4,
        work_dir=str(tmp_path / "work"),
        output_dir=str(tmp_path / "out"),
        model="scripted",
        relevance_floor="flag",
    )
    base.update(kw)
    return BuildConfig(**base)
