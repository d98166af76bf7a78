"""The dataset card: YAML the viewer reads, the body's numbers, the plots, the verb heuristic."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import DatasetCard

from builder.publish.card import CARD_MARKER, render_card, template_text
from builder.publish.card.verbs import top_verbs, verb_object
from builder.publish.export import export_local
from tests._hub_fixture import synthetic_build

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = [
    "## Configs",
    "## How to load",
    "## How to use",
    "## Schema",
    "## Statistics",
    "## Yield funnel",
    "## Generation settings",
    "## Instruction topics",
    "## Known limitations",
    "## Licence",
    "## Citation",
]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """An export shaped like the embedded build (SmolLM2 via the transformers engine)."""
    build = synthetic_build(["sw", "bn", "th"], rows=30, heldout=4)
    out = export_local(tmp_path_factory.mktemp("card") / "x", build.configs, build.build_info)
    return build, out


def test_card_renders_for_the_embedded_build_with_its_plots(embedded):
    build, out = embedded
    card = DatasetCard.load(out / "README.md")
    assert card.content.split("\n---\n", 1)[1].lstrip().startswith(CARD_MARKER)
    for section in SECTIONS:
        assert section in card.text, section
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card.text)
    assert sorted(images) == [
        "plots/funnel.png",
        "plots/lengths-bn.png",
        "plots/lengths-sw.png",
        "plots/lengths-th.png",
        "plots/verbs.png",
    ]
    for image in images:
        data = (out / image).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, image
    assert "> [!WARNING]\n> **Built with the embedded demo model**" in card.text
    assert "self-evaluation bias" in card.text


def test_card_numbers_are_the_data(embedded):
    build, out = embedded
    text = (out / "README.md").read_text(encoding="utf-8")
    for lang in ("sw", "bn", "th"):
        rows = build.configs[lang]["train"].to_list() + build.configs[lang]["test"].to_list()
        instr = np.array([len(r["instruction"]) for r in rows], dtype=float)
        output = np.array([len(r["output"]) for r in rows], dtype=float)
        row = next(
            line for line in text.splitlines() if line.startswith("| ") and f"(`{lang}`)" in line
        )
        scores = ", ".join(
            f"{v}: {sum(r['score'] == v for r in rows)}" for v in sorted({r["score"] for r in rows})
        )
        clusters = len({r["cluster"] for r in rows})
        assert row.endswith(
            f"| {len(rows):,} | {instr.mean():.1f} ± {instr.std(ddof=1):.1f} | "
            f"{output.mean():.1f} ± {output.std(ddof=1):.1f} | {scores} | {clusters} |"
        )
        funnel = build.build_info["funnel"][lang]
        yield_pct = 100 * funnel["rows_out"] / funnel["rows_in"]
        assert (
            f"| `{lang}` | {funnel['rows_in']} | {funnel['rows_out']} | {yield_pct:.1f} % |" in text
        )
    for name, prompt in build.build_info["settings"]["prompts"].items():
        assert f"| `{name}` | {prompt['version']} | `{prompt['hash']}` |" in text
    assert json.dumps(build.build_info["settings"]["sampling"], indent=2, sort_keys=True) in text
    assert "| refinement rounds (at most) | 2 |" in text and "| seed | 0 |" in text
    # the row-level source, per language
    assert "HuggingFaceFW/fineweb-2 / swh_Latn / train" in text


def test_card_survives_a_build_info_without_optional_keys(embedded, tmp_path):
    build, _ = embedded
    out = export_local(tmp_path / "x", {"sw": build.configs["sw"]}, {})
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "| generator model | not recorded |" in text
    assert "The build recorded no funnel" in text
    assert "The generator model was not recorded" in text
    data = DatasetCard.load(out / "README.md").data.to_dict()
    assert data["license"] == "other" and "source_datasets" not in data


def test_the_funnel_is_recounted_from_the_audit_table_when_not_recorded(embedded, tmp_path):
    build, _ = embedded
    info = {k: v for k, v in build.build_info.items() if k != "funnel"}
    out = export_local(
        tmp_path / "x", {"sw": build.configs["sw"], "candidates": build.configs["candidates"]}, info
    )
    audit = [r for r in build.configs["candidates"]["train"].to_list() if r["lang"] == "sw"]
    kept = sum(r["dropped"] is None for r in audit)
    assert (
        f"| `sw` | {len(audit)} | {kept} | {100 * kept / len(audit):.1f} % |"
        in (out / "README.md").read_text()
    )


def test_template_ships_as_package_data_and_dataset_card_links_it():
    assert template_text() == (ROOT / "builder" / "data" / "card_template.md").read_text(
        encoding="utf-8"
    )
    assert (ROOT / "dataset_card" / "template.md").resolve() == (
        ROOT / "builder" / "data" / "card_template.md"
    )


def test_render_script_rerenders_an_export(embedded, capsys):
    build, out = embedded
    spec = importlib.util.spec_from_file_location("render", ROOT / "dataset_card" / "render.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    before = (out / "README.md").read_text(encoding="utf-8")
    assert render.main([str(out), "--repo-id", "someone/x-instruction", "--no-plots"]) == 0
    after = (out / "README.md").read_text(encoding="utf-8")
    assert 'load_dataset("someone/x-instruction", "all", split="train")' in after
    assert (
        before.replace("<org>/x-instruction", "someone/x-instruction")
        .split("## Configs")[1]
        .split("## How to load")[0]
        == after.split("## Configs")[1].split("## How to load")[0]
    )
    assert render.main([str(out.parent / "missing")]) == 1
    assert "is not an export folder" in capsys.readouterr().err
    assert render_card(out, repo_id="someone/x-instruction", plots=False) == after


@pytest.mark.parametrize(
    "instruction, expected",
    [
        ("Please write a short story about a lost cat.", ("write", "story")),
        ("Can you explain how vaccines work?", ("explain", None)),
        ("How do I apply for a small business loan?", ("apply", None)),
        ("How can farmers protect their crops from pests?", ("protect", "crop")),
        ("Summarise the recent news on rice farming.", ("summarize", "news")),
        ("List five facts about the national football team.", ("list", "fact")),
        ("Describe the history of coastal tourism in Kenya.", ("describe", "history")),
        ("Why did the government ban plastic bags?", ("ban", "bag")),
        ("Give me tips on saving money.", ("give", "tip")),
        ("What is the capital of Tanzania?", None),
        ("The following text is about football.", None),
        ("", None),
    ],
)
def test_verb_object_heuristic(instruction, expected):
    assert verb_object(instruction) == expected


def test_top_verbs_ranks_by_count_then_name():
    summary = top_verbs(
        [
            "Write a poem.",
            "Write a story.",
            "Write a poem about rain.",
            "Explain rain.",
            "Describe rain.",
            "What is rain?",
        ],
        n_verbs=2,
        n_objects=1,
    )
    assert summary.total == 6 and summary.parsed == 5
    assert summary.verbs == [("write", 3, [("poem", 2)]), ("describe", 1, [("rain", 1)])]


def test_card_shows_the_quality_gates_their_banner_and_the_relevance_plot(tmp_path):
    build = synthetic_build(["sw", "th"], rows=12)
    audit = build.configs["candidates"]["train"]
    relevance = [round(0.05 + 0.9 * (i % 10) / 9, 3) for i in range(len(audit))]
    build.configs["candidates"]["train"] = audit.add_column("relevance", relevance)
    quality = {
        "sw": {
            "relevance": {"auc": 0.97, "mean_matched": 0.91, "mean_mismatched": 0.48, "pairs": 12},
            "rater": {"auc": 0.52, "mean_matched": 4.9, "mean_mismatched": 4.8, "pairs": 12},
        },
        "th": {
            "relevance": {"auc": None, "note": "not enough rows to calibrate", "pairs": 1},
            "rater": {"auc": 0.88, "mean_matched": 4.1, "mean_mismatched": 2.0, "pairs": 12},
        },
    }
    info = {
        **build.build_info,
        "quality": quality,
        "settings": {**build.build_info["settings"], "min_relevance": 0.8},
    }
    out = export_local(tmp_path / "x", build.configs, info)
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "### Quality gates" in text
    # every AUC with its 95% interval and the pairs it rests on (builder/quality/report.py)
    assert (
        "| Swahili (`sw`) | 0.97 [0.71, 1.00], 12 pairs (mean 0.91 vs 0.48) | - | - | "
        "0.52 [0.27, 0.76], 12 pairs (mean 4.9 vs 4.8) |" in text
    )
    assert (
        "| Thai (`th`) | not enough rows to calibrate | - | - | 0.88 [0.60, 0.97], 12 pairs (mean 4.1 vs 2.0) |"
        in text
    )
    banner = text.split("> **The quality gates warn about this build**", 1)[1].split("\n\n")[0]
    assert (
        "sw: the rater gate" in banner
        and "AUC 0.52 [0.27, 0.76], 12 pairs; < 0.6" in banner
        and "th:" not in banner
    )
    assert "![Relevance of the scored pairs per language](plots/relevance.png)" in text
    assert (out / "plots" / "relevance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_column_a_build_publishes_has_a_meaning_on_the_card():
    from builder.core.schema import DIVERSIFIED, PUBLISHED
    from builder.publish.card.metadata import FIELD_DOCS

    assert [name for name in {**DIVERSIFIED, **PUBLISHED} if not FIELD_DOCS.get(name)] == []


def test_how_to_use_shows_trl_sft_and_the_builders_script_on_messages(embedded):
    _, out = embedded
    text = (out / "README.md").read_text(encoding="utf-8")
    use = text.split("## How to use", 1)[1].split("## Schema", 1)[0]
    assert "trl sft --model_name_or_path" in use and "--dataset_config bn" in use
    assert "accelerate launch trl_scripts/sft.py" in use and "--languages bn,sw,th" in use
    assert (
        "every other column, config and split is unchanged" in use and "Answer in Bengali." in use
    )
    # no code of this package needed
    assert "rows.map" not in text and "import answer_prompt" not in text
    assert (
        "| `messages` | `list[struct{role: string, content: string}]` | the pair as a chat" in text
    )


def test_an_export_without_messages_says_how_to_get_them(tmp_path):
    """An older builder's export (no `messages`): the card does not show commands that would fail on it."""
    build = synthetic_build(["sw"], rows=4)
    old = {
        name: {
            split: ds.remove_columns("messages") if "messages" in ds.column_names else ds
            for split, ds in splits.items()
        }
        for name, splits in build.configs.items()
    }
    out = export_local(tmp_path / "x", old, build.build_info)
    use = (
        (out / "README.md")
        .read_text(encoding="utf-8")
        .split("## How to use", 1)[1]
        .split("## Schema", 1)[0]
    )
    assert "older than 0.2.0 and has no `messages` column" in use and "trl sft --" not in use


def test_the_funnel_chart_is_the_same_whatever_the_hash_seed(tmp_path):
    # Two drop reasons tie: their order (and so their colours) used to follow a set's order,
    # which changes with PYTHONHASHSEED, so two runs of one build drew different charts.
    script = (
        "import sys; from pathlib import Path\n"
        "from builder.publish.card.plots import funnel_chart\n"
        "from builder.publish.card.stats import LanguageFunnel\n"
        "f = {c: LanguageFunnel(c, 6, 2, {'off_topic': 2, 'no_valid_instruction': 2, 'too_short': 1,"
        " 'low_score': 1}, [], 'build_info') for c in ('sw', 'fi')}\n"
        "funnel_chart(f, Path(sys.argv[1]))\n"
    )
    charts = []
    for seed in range(6):
        out = tmp_path / f"funnel-{seed}.png"
        env = {**os.environ, "PYTHONHASHSEED": str(seed), "MPLBACKEND": "Agg"}
        subprocess.run([sys.executable, "-c", script, str(out)], env=env, check=True, timeout=120)
        charts.append(out.read_bytes())
    assert len(set(charts)) == 1
