"""Options shared by the vLLM CPU tests."""

# Every model these tests load: eager (no 90-115 s compile at start), float32 (eager bf16
# garbled chat answers on this CPU build), a short context to keep the KV cache small.
VLLM_TEST_OPTIONS = {
    "enforce_eager": True,
    "dtype": "float32",
    "max_model_len": 512,
    "progress": False,
}
