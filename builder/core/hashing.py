"""Stable hashes: the same parts give the same key in every process, on every run.

The request cache, the embedding stores and the work dir's folder names are keyed by these.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(*parts: Any) -> str:
    payload = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def fingerprint(*parts) -> str:
    return stable_hash(*parts)[:12]
