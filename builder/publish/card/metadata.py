"""What the card says: the viewer's YAML (DatasetCardData) and the values the template shows.

Every key of build_info.json is optional here: a missing one shows as "not recorded" rather
than breaking the card, since cards are also rendered for exports made by older builders.
"""

from __future__ import annotations

from ...corpus.hub_datasets import hub_repo
from ..citation import CITATION
from ..layout import ALL_CONFIG, Layout, ordered_splits
from .stats import empty_languages, language_name, pretty_json, prompts_table

PRETTY_NAME = "X-Instruction"
NOT_RECORDED = "not recorded"
PLACEHOLDER_REPO = "<org>/x-instruction"

# Licence of the text (the responses) by corpus; the instructions are model output on top.
CORPUS_LICENCES = {
    "HuggingFaceFW/fineweb-2": (
        "odc-by",
        "FineWeb-2 is released under the Open Data Commons Attribution "
        "licence (ODC-By 1.0) and is subject to the Common Crawl terms of use.",
    ),
    "uonlp/CulturaX": (
        "other",
        "CulturaX combines mC4 (ODC-By 1.0) and OSCAR (whose own terms apply) "
        "and is subject to the Common Crawl terms of use; follow the terms of both.",
    ),
}

FIELD_DOCS = {
    "id": "stable hash of (language, normalised text): the same text has the same id in every build",
    "lang": "language code of the response (the config name)",
    "instruction": "the English instruction, written by the generator model and refined by the evaluator loop",
    "output": "the response: natural web text in the target language (refined only if response refinement was on)",
    "score": "final evaluator score of the (instruction, response) pair",
    "rounds": "refinement rounds the pair took",
    "relevance": "cross-lingual relevance of instruction and response: the share of the language's mismatched "
    "pairings that a multilingual encoder finds less alike (0-1; 0.5 = unrelated; null = too few rows)",
    "cluster": "k-means cluster of the instruction's embedding within its language (the diversification step)",
    "source": "where the text came from: corpus, its config and split, and the original row id or URL",
    "meta": "how the row was made: generator and evaluator models and revisions, engine, sampling "
    "parameters (JSON), prompt versions and hashes (JSON), builder version",
    "messages": "the pair as a chat, ready for TRL and the viewer: a user turn with `instruction` plus the "
    "answer-language hint (the paper's training prompt), then an assistant turn with `output`",
    "text": "the cleaned web text the candidates were written for",
    "n_tokens": "length of the cleaned text in tokens of the generator model's tokenizer, the unit of "
    "--min-tokens/--max-tokens (null when the row was dropped before it was counted)",
    "candidates": "the English instruction candidates the generator wrote for the text that passed the checks "
    "(the first one is the instruction that went into refinement)",
    "rejected": "the candidates the instruction checks turned away: the model's raw text and the reason "
    "(e.g. not_english, asks_to_translate, repeats_text, duplicate_candidate)",
    "judgements": "per refinement round: round, instruction judged, prompt hash, raw evaluator text, "
    "parsed score, parse status, and the response judged (original: the text; rewritten: "
    "the response refinement's rewrite, judged after the last round)",
    "dropped": "why the row left the funnel (null for kept rows)",
    "lid": "detected language, score and script of the text",
}

AUDIT_DOCS = {
    "candidates": "every text that entered generation, with all its instruction candidates, every evaluator "
    "judgement and the reason it was dropped (null if kept): re-filter with another threshold "
    "or audit the evaluator"
}


def feature_type(feature) -> str:
    from datasets import List, Value

    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, List):
        return f"list[{feature_type(feature.feature)}]"
    if isinstance(feature, dict):
        return "struct{" + ", ".join(f"{k}: {feature_type(v)}" for k, v in feature.items()) + "}"
    return type(feature).__name__


def size_category(rows: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
    ):
        if rows < limit:
            return label
    return "100M<n<1B"


def corpus_licence(settings: dict) -> tuple[str, str]:
    if settings.get("license"):
        return str(settings["license"]), "The licence given to the build (`settings.license`)."
    corpus = str(settings.get("corpus") or "")
    if corpus in CORPUS_LICENCES:
        return CORPUS_LICENCES[corpus]
    return "other", (
        f"The responses are text from the corpus `{corpus or NOT_RECORDED}`; its own licence and "
        "terms apply to them. Check them before you redistribute or train on this data."
    )


def is_embedded_model(model: str | None) -> bool:
    from ...engines.models import EMBEDDED_ALIASES, EMBEDDED_MODEL_ID

    return bool(model) and (
        model in EMBEDDED_ALIASES or model == EMBEDDED_MODEL_ID or "SmolLM2-135M" in model
    )


def card_metadata(layout: Layout, build_info: dict, stats, configs: list[dict], infos):
    from huggingface_hub import DatasetCardData

    settings = build_info.get("settings") or {}
    total = sum(s.total for s in stats.values())
    corpus = settings.get("corpus")
    extra = {}
    repo = hub_repo(str(corpus)) if corpus else None
    if repo:  # a Hub dataset; a local path (relative or not) is no source dataset id
        extra["source_datasets"] = [repo]
    data = DatasetCardData(
        pretty_name=PRETTY_NAME,
        language=[*layout.languages, "en"],  # responses in each language, instructions in English
        license=corpus_licence(settings)[0],
        task_categories=["text-generation"],
        size_categories=[size_category(total)],
        multilinguality=["multilingual"],
        annotations_creators=["machine-generated"],
        language_creators=["found", "machine-generated"],
        tags=["instruction-tuning", "cross-lingual", "synthetic", "x-instruction"],
        configs=configs,
        **extra,
    )
    infos.to_dataset_card_data(data)
    return data


def _schema(features) -> list[dict]:
    return [
        {"name": k, "type": feature_type(v), "doc": FIELD_DOCS.get(k, "")}
        for k, v in features.items()
    ]


def _settings_rows(settings: dict) -> list[tuple[str, str]]:
    def show(key, label, fmt=str):
        value = settings.get(key)
        return (label, fmt(value) if value not in (None, "") else NOT_RECORDED)

    model = settings.get("model")
    revision = settings.get("model_revision")
    return [
        (
            "generator model",
            f"`{model}`" + (f" @ `{revision}`" if revision else "") if model else NOT_RECORDED,
        ),
        show("evaluator_model", "evaluator model", lambda v: f"`{v}`"),
        show("engine", "engine", lambda v: f"`{v}`"),
        show("embedder", "embedder (diversification)", lambda v: f"`{v}`"),
        show("corpus", "corpus", lambda v: f"`{v}`"),
        show("candidates", "instruction candidates per text"),
        show("rounds", "refinement rounds (at most)"),
        show("accept_score", "accept score (at least)"),
        show("target_size", "target rows per language"),
        show("seed", "seed"),
    ]


def _limitations(settings: dict, stats, build_info: dict) -> list[str]:
    model = settings.get("model")
    items = []
    if is_embedded_model(model):
        items.append(
            f"**Built with the embedded demo model** (`{model}`, 135 M parameters, English-centric). It proves "
            "the pipeline runs end to end; it does not write instructions of the quality the paper reports "
            "(it is often off topic for Bengali, Hindi and Thai text) and its scores are weak judgements. "
            "Do not train on this build; rebuild with a strong model (e.g. `--model Qwen/Qwen2.5-7B-Instruct "
            "--engine vllm`)."
        )
    elif model:
        items.append(
            f"Instructions and scores come from `{model}`: their quality, topics and biases are that "
            "model's. Scores are model judgements, not human ratings."
        )
    else:
        items.append("The generator model was not recorded: treat instruction quality as unknown.")
    evaluator = settings.get("evaluator_model")
    if evaluator and model and evaluator == model:
        items.append(
            "The same model wrote and scored the instructions, so scores favour its own style "
            "(self-evaluation bias)."
        )
    items += [
        "Responses are web text: they can hold factual errors, boilerplate, offensive content or personal "
        "information that cleaning did not catch, and they reflect what the web says in each language.",
        "Instructions are in English only (the paper's cross-lingual format); target-language instructions "
        "are not part of the data.",
        "Language identification confuses Hindi with Nepali and Indonesian with Malay on some text, so a few "
        "responses can be in a neighbouring language.",
        "The topic analysis below uses a rule-based verb finder, not a syntactic parser: treat it as indicative.",
    ]
    small = [s.code for s in stats.values() if s.total < 1000]
    if small:
        items.append(f"Small configs ({', '.join(small)}: under 1,000 rows): statistics are noisy.")
    return items


def card_context(layout, build_info, stats, funnel_by_lang, verbs, figures, infos, repo_id) -> dict:
    from ...prompts import ANSWER

    settings = build_info.get("settings") or {}
    licence, licence_note = corpus_licence(settings)
    first_lang = layout.languages[0] if layout.languages else None
    audit = [
        {
            "name": n,
            "rows": sum(infos[n].splits[s].num_examples for s in infos[n].splits),
            "doc": AUDIT_DOCS.get(n, "an intermediate stage of the pipeline, for audit"),
            "schema": _schema(infos[n].features),
        }
        for n in layout.audit
    ]
    splits = ordered_splits({s for code in layout.languages for s in layout.configs[code]})
    empty = empty_languages(layout, build_info)
    return {
        "pretty_name": PRETTY_NAME,
        "repo_id": repo_id or PLACEHOLDER_REPO,
        "repo_known": bool(repo_id),
        "all_config": ALL_CONFIG,
        "default_config": ALL_CONFIG if len(layout.languages) != 1 else first_lang,
        "languages": [stats[c] for c in layout.languages],
        "total_rows": sum(s.total for s in stats.values()),
        "splits": splits,
        "heldout_splits": [s for s in splits if s != "train"],
        "audit": audit,
        "schema": _schema(infos[first_lang].features) if first_lang else [],
        "funnels": [funnel_by_lang[c] for c in layout.languages + empty if c in funnel_by_lang],
        "empty_languages": [
            {
                "code": c,
                "name": language_name(c),
                "summary": funnel_by_lang[c].summary if c in funnel_by_lang else NOT_RECORDED,
            }
            for c in empty
        ],
        "settings_rows": _settings_rows(settings),
        "sampling": pretty_json(settings["sampling"]) if settings.get("sampling") else None,
        "prompts": prompts_table(settings),
        "engine_stats": build_info.get("engine_stats") or {},
        "builder_version": build_info.get("builder_version") or NOT_RECORDED,
        "created": build_info.get("created") or NOT_RECORDED,
        "verbs": verbs,
        "figures": figures,
        "limitations": _limitations(settings, stats, build_info),
        "licence": licence,
        "citation": CITATION.rstrip(),
        "licence_note": licence_note,
        "generator_model": settings.get("model") or NOT_RECORDED,
        "embedded_model": is_embedded_model(settings.get("model")),
        "quality": quality_rows(build_info),
        "quality_warnings": quality_warnings(build_info),
        "answer_template": ANSWER.text,
        # A language registered only in the build's process has no name here: the card's own name for it.
        "answer_hint": ANSWER.format(
            instruction="", language=language_name(first_lang or "sw")
        ).strip(),
        "has_messages": first_lang is not None and "messages" in infos[first_lang].features,
    }


def quality_rows(build_info: dict) -> list[dict]:
    """Per language: each gate's AUC on matched vs mismatched pairs with its 95% interval (none
    below MIN_AUC_PAIRS pairs: the cell says so), the seeds' control of the encoder and the
    pairs below the seeds' floor, as card cells (builder/quality/report.py)."""
    from ...quality.report import auc_text

    def relevance(entry: dict | None) -> str:
        if not entry:
            return "-"
        cell = auc_text(entry)
        if entry.get("mean_matched") is not None and entry.get("mean_mismatched") is not None:
            cell += f" (mean {entry['mean_matched']} vs {entry['mean_mismatched']})"
        return cell

    def floor(entry: dict | None) -> str:
        below = (entry or {}).get("below_floor")
        if not below:
            return "-"
        if below["mode"] == "drop":
            return f"strength {entry['floor']:.2f}: {below['dropped']} of {entry['pairs']} pairs dropped"
        return f"strength {entry['floor']:.2f}: {below['kept']} kept, flagged ({entry['pairs']} pairs scored)"

    def rater(entry: dict | None) -> str:
        if not entry:
            return "-"
        cell = auc_text(entry)
        return cell + (
            f" (mean {entry['mean_matched']} vs {entry['mean_mismatched']})"
            if entry.get("auc") is not None and "too few" not in cell
            else ""
        )

    return [
        {
            "code": code,
            "name": language_name(code),
            "relevance": relevance(g.get("relevance")),
            "control": auc_text((g.get("relevance") or {}).get("control")),
            "floor": floor(g.get("relevance")),
            "rater": rater(g.get("rater")),
        }
        for code, g in (build_info.get("quality") or {}).items()
    ]


def quality_warnings(build_info: dict) -> list[str]:
    """The lines the build warned with (builder/quality/rater.py): shown as a banner at the top of the card."""
    from ...quality.report import report_lines

    return [
        line.removeprefix("WARNING ")
        for line in report_lines(build_info.get("quality") or {})
        if line.startswith("WARNING ")
    ]
