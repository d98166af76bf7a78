"""Text generation behind one interface: transformers, vllm, openai."""

from __future__ import annotations

import importlib.util

from .base import (
    Completion,
    Engine,
    EngineError,
    EngineStats,
    Prompt,
    PromptTooLongError,
    SamplingParams,
)

ENGINES = ("auto", "transformers", "vllm", "openai")

__all__ = [
    "ENGINES",
    "Completion",
    "Engine",
    "EngineError",
    "EngineStats",
    "Prompt",
    "PromptTooLongError",
    "SamplingParams",
    "create_engine",
    "pick_engine",
]


def pick_engine(name: str) -> str:
    """Resolve `auto`: vllm when a GPU and vllm are both present, transformers otherwise."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
    if name != "auto":
        return name
    # cheap, and spares importing torch (2 s) to ask for a GPU
    if importlib.util.find_spec("vllm") is None:
        return "transformers"
    import torch

    return "vllm" if torch.cuda.is_available() else "transformers"


def create_engine(
    engine: str = "auto", model: str = "smollm2-135m", *, load_weights: bool = True, **options
) -> Engine:
    """Build an engine by name. `model` is the embedded alias, a Hub id or a local path
    (for `openai`, the model name the server serves). Extra options go to the engine class.

    `load_weights=False` gives a stand-in with the same identity and tokenizer that cannot
    generate: for a driver whose workers load the model (`builder/executors`)."""
    from .models import model_identity, resolve_model

    kind = pick_engine(engine)
    if kind == "openai":
        from .openai_engine import OpenAIEngine

        return OpenAIEngine(model, **options)
    model_id, revision = model_identity(model)
    path = resolve_model(model)
    if not load_weights:
        from .tokenizer_only import TokenizerOnlyEngine

        return TokenizerOnlyEngine(kind, model_id, model_path=path, revision=revision)
    if kind == "vllm":
        from .vllm_engine import VLLMEngine

        return VLLMEngine(model_id, model_path=path, revision=revision, **options)
    from .transformers_engine import TransformersEngine

    return TransformersEngine(model_id, model_path=path, revision=revision, **options)
