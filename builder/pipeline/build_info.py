"""What a build records about itself: the `meta` on every published row and build_info.json.

The exact provenance (absolute corpus and model paths) stays in the work dir; what is published
names local files relative to where the build ran (builder/publish/provenance.py).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from .. import __version__
from ..config import BuildConfig
from ..prompts import template_versions
from ..publish.provenance import public_settings
from ..redact import redact_url
from ..stages.configs import borrowed_seed_languages, generate_config, refine_config

WORK_BUILD_INFO = "build_info.json"  # the unredacted build info, kept in the work dir
# where and how, not what was built
LOCAL_ONLY = (
    "work_dir",
    "output_dir",
    "dry_run",
    "overwrite",
    "project_kept",
    "project_tokens_per_s",
    "pipeline_requests_per_s",
)


def row_meta(config: BuildConfig, models) -> dict:
    """The `meta` column of every published row: the models, sampling and prompt versions."""
    gen, ev = models.generator.identity(), models.evaluator.identity()
    sampling = {
        "generate": generate_config(config).sampling().to_dict(),
        "refine": dataclasses.asdict(refine_config(config)),
    }
    return {
        "generator_model": gen["model"],
        "generator_revision": gen["revision"],
        "evaluator_model": ev["model"],
        "engine": gen["engine"],
        "sampling": json.dumps(sampling, sort_keys=True),
        "prompts": json.dumps(template_versions(), sort_keys=True),
        "builder_version": __version__,
    }


def build_info(
    config: BuildConfig,
    models,
    meta: dict,
    funnel,
    timings: dict,
    quality: dict,
    encoded: int,
    diversified: int,
    executor,
) -> dict:
    """build_info.json as published; the unredacted one is written to the work dir on the way."""
    c = config
    gen = models.generator.identity()
    settings = {
        **{k: v for k, v in c.to_dict().items() if k not in LOCAL_ONLY},
        "model": gen["model"],
        "model_revision": gen["revision"],
        "engine": gen["engine"],
        "evaluator_model": models.evaluator.identity()["model"],
        "sampling": json.loads(meta["sampling"]),
        "prompts": template_versions(),
    }
    info = {
        "builder_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {**settings, "base_url": redact_url(settings.get("base_url"))},
        "funnel": funnel.to_dict(),
        "engine_stats": models.stats(),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "quality": quality,
        "relevance_encoder": {"name": c.relevance_encoder, "texts_embedded": encoded},
        "diversify": {"embedder": c.embedder, "texts_embedded": diversified},
        # Languages whose few-shot examples came from other languages' seeds, and from which.
        "seeds_borrowed": {
            lang: donors for lang in c.langs if (donors := borrowed_seed_languages(c, lang))
        },
    }
    if models.shard_nodes:  # where a Ray build's shards ran, and the nodes it lost on the way
        info["ray"] = {"shards_per_node": models.shard_nodes, **getattr(executor, "report", {})}
    text = json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    (Path(c.work_dir) / WORK_BUILD_INFO).write_text(text + "\n", encoding="utf-8")
    return {**info, "settings": public_settings(info["settings"])}
