"""Shared fixtures: offline Hub, the tiny random Llama, the embedded model, ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No test may reach the network by accident; tests that talk to the local Hub server
# override these inside their own fixture.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_verdict(folder: Path, environ=os.environ) -> tuple[str, str] | None:
    """None when the real-text folder is there; else ("skip" or "fail", why). A fresh clone has
    no such folder, so its tests skip; CI has it, so there (CI=true) its absence is an error, not
    thirty quiet skips that would let a run pass without reading any real text."""
    if folder.is_dir():
        return None
    if environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return "fail", (
            f"{folder} is absent, and CI is set: the tests that read real text cannot run. "
            "Put the shared data folder beside the checkout, or unset CI to skip them"
        )
    return "skip", f"{folder} is absent (it sits beside the checkout in CI, not in a fresh clone)"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    verdict = shared_data_verdict(SHARED_DATA)
    if verdict is not None:
        action, why = verdict
        (pytest.fail if action == "fail" else pytest.skip)(why)
    return SHARED_DATA


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    from builder.engines.models import embedded_model_dir

    return embedded_model_dir()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, embedded_model_dir) -> Path:
    """A randomly initialised 3 M-parameter Llama with the SmolLM2 tokenizer, saved to disk."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir):
    from builder.engines.transformers_engine import TransformersEngine

    return TransformersEngine("tiny-llama", model_path=str(tiny_model_dir), progress=False)


@pytest.fixture(autouse=True)
def _isolated_datasets_cache(tmp_path_factory, monkeypatch):
    """datasets keys its cache of a local folder on the folder's path, not its content: two
    tests exporting to folders of the same name would read each other's rows. One cache per test.
    The vLLM venv (tests/vllm_cpu) has no `datasets`: nothing to isolate there."""
    try:
        import datasets.config
    except ImportError:
        return
    monkeypatch.setattr(
        datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("datasets-cache")
    )


@pytest.fixture(scope="module")
def always_five_dir(tmp_path_factory, embedded_model_dir) -> Path:
    """The rater that says 5 to every pair (tests/helpers/executors.py), saved to disk."""
    from helpers.executors import save_always_five

    return save_always_five(tmp_path_factory.mktemp("always-five"), embedded_model_dir)


@pytest.fixture(scope="module")
def demo_exports(tmp_path_factory) -> dict[str, str]:
    """A demo build's export, with and without a 0-row config (tests/_trl_helpers.py)."""
    from _trl_helpers import demo_exports_in

    return demo_exports_in(tmp_path_factory)
