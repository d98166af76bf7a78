"""Relevance through the CLI on small builds (issue 19): a relevance of stated resolution for a
language with a few pairs, no AUC below MIN_AUC_PAIRS, and the seeds' floor dropping or flagging
pairs, visible in the summary, build_info.json and the card."""

from __future__ import annotations

import json

import pytest
from _cli_build import build_args, cli, published, read_json, udhr_corpus
from _scripted_engine import ScriptedEngine, last_user

# Four paragraphs of the embedded Swahili demo corpus and the English question each answers
# (written for benchmarks/data/relevance_labels.jsonl, not by the generator).
ANSWERS = {
    "sw-004": "How do I cook beef pilau for four people?",
    "sw-010": "How can I protect my family from malaria?",
    "sw-012": "Describe the wildebeest migration in the Serengeti.",
    "sw-016": "Why are maize farmers complaining about prices this season?",
}


def _four_paragraphs(folder) -> tuple[str, dict[str, str]]:
    """A `sw.jsonl` corpus of the four paragraphs; returns its spec and {text: question}."""
    from builder.corpus import embedded

    rows = [
        json.loads(line)
        for line in (embedded.data_root() / "corpus" / "sw.jsonl").read_text("utf-8").splitlines()
    ]
    texts = {r["id"]: r["text"] for r in rows if r["id"] in ANSWERS}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sw.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in texts.values()), encoding="utf-8"
    )
    return str(folder / "{lang}.jsonl"), {texts[k]: q for k, q in ANSWERS.items()}


def _instead(instructions: dict[str, str], questions: dict[str, str]) -> dict[str, str]:
    """{text: the instruction given for its paragraph id}, in place of the question it answers."""
    ids = {q: k for k, q in ANSWERS.items()}
    return {text: instructions[ids[answer]] for text, answer in questions.items()}


def _answering_writer(questions: dict[str, str]):
    """A writer whose instruction is the question its text answers; a judge that accepts every pair."""

    def reply(prompt, params, k):
        if prompt[-1]["role"] == "assistant":
            return " 5\nReason: answers it."
        asked = last_user(prompt)
        found = [q for text, q in questions.items() if text[:60] in asked]
        assert len(found) == 1, asked  # every text of the build is one of the four
        return found[0]

    return reply


def _cli_with(writer, args, capsys):
    import builder.pipeline.runner
    from builder.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            builder.pipeline.loaded_models, "create_engine", lambda *a, **kw: ScriptedEngine(writer)
        )
        code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_four_paragraph_swahili_build_keeps_pairs_whose_text_answers_them(tmp_path, capsys):
    corpus, questions = _four_paragraphs(tmp_path / "corpus")
    args = build_args(tmp_path, corpus, "sw", "--relevance-floor", "drop", "--target-size", "4")
    code, out, err = _cli_with(_answering_writer(questions), args, capsys)
    assert code == 0, out + err
    info = read_json(tmp_path / "out" / "build_info.json")
    relevance = info["quality"]["sw"]["relevance"]
    # four pairs: each still compared with the seeds' 50 instructions and the other pairs' two sides
    assert relevance["pairs"] == 4 and relevance["pool"] == 50
    assert relevance["resolution"] == round(1 / (50 + 2 * 3), 4)
    assert (
        relevance["auc"] is None and "sw: relevance: 4 pairs: too few for an AUC (need 10)" in out
    )
    assert info["funnel"]["sw"]["dropped"] == {}  # neither off_topic nor below the seeds' floor
    rows = published(tmp_path / "out")
    assert sorted(r["instruction"] for r in rows) == sorted(ANSWERS.values())
    assert all(r["relevance"] == 1.0 for r in rows)  # each beats all 56 mismatched pairings


def test_two_pairs_print_no_auc_and_no_relevance_warning(tmp_path, shared_data, capsys):
    corpus = udhr_corpus(tmp_path / "corpus", shared_data)
    run = cli(
        build_args(
            tmp_path, corpus, "sw", "--max-docs", "2", "--min-tokens", "1", "--accept-score", "1"
        ),
        capsys,
    )
    assert run.code == 0, run.out + run.err
    assert "sw: relevance: 2 pairs: too few for an AUC (need 10)" in run.out, run.out
    assert "rater: 2 pairs: too few for an AUC (need 10)" in run.out
    assert "AUC 0.00" not in run.out and "relevance gate" not in run.out
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "2 pairs: too few for an AUC (need 10)" in card


def test_the_seeds_floor_flags_kept_pairs_in_the_summary_card_and_build_info(
    tmp_path, shared_data, capsys
):
    # the scripted writer names a random topic for each text: below the seeds' floor
    corpus = udhr_corpus(tmp_path / "corpus", shared_data)
    run = cli(build_args(tmp_path, corpus, "sw", "--relevance-floor", "flag"), capsys)
    assert run.code == 0, run.out + run.err
    info = read_json(tmp_path / "out" / "build_info.json")
    below = info["quality"]["sw"]["relevance"]["below_floor"]
    ids = {r["id"] for r in published(tmp_path / "out")}
    assert below["mode"] == "flag" and below["dropped"] == 0 and below["kept"] >= 1
    assert set(below["kept_ids"]) <= ids and len(below["kept_ids"]) == below["kept"]
    assert (
        "kept, flagged" in run.out
        and "the generator is weak: use a stronger --model or a trained --generator" in run.out
    )
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert f"{below['kept']} kept, flagged" in card and "encoder control (seeds)" in card


def test_dropping_below_the_floor_names_the_reason_and_the_generator(tmp_path, shared_data, capsys):
    corpus = udhr_corpus(tmp_path / "corpus", shared_data)
    run = cli(build_args(tmp_path, corpus, "sw", "--relevance-floor", "drop"), capsys)
    info_path = tmp_path / "out" / "build_info.json"
    text = run.out + run.err
    assert "below_seed_floor" in text
    if run.code == 0:  # some pair cleared the floor
        below = read_json(info_path)["quality"]["sw"]["relevance"]["below_floor"]
        assert below["mode"] == "drop" and below["dropped"] >= 1 and below["kept"] == 0
    else:  # every pair fell below it: the funnel says so, in one place
        assert run.code == 1 and "every row was filtered out" in run.err


def test_an_unknown_floor_mode_is_one_line_naming_the_choices(tmp_path, shared_data, capsys):
    corpus = udhr_corpus(tmp_path / "corpus", shared_data)
    run = cli(build_args(tmp_path, corpus, "sw", "--relevance-floor", "sometimes"), capsys)
    assert run.code == 2
    assert "--relevance-floor 'sometimes': choose one of: auto, drop, flag, off" in run.err


# The original failure (issue 19): a four-paragraph Swahili build whose instructions came from the
# embedded demo model, barely related to their text ("What is the meaning of nadharia in
# Swahili?" for a text on relativity). The old relevance compared each pair with the 3 other
# pairs only (relevance 0, 1/3, 2/3 or 1) and its 0.8 gate meant "beat all of them". These
# instructions are of that kind: each asks about one word its text happens to use.
WEAK = {
    "sw-004": "What is the meaning of the word nyama in Swahili?",
    "sw-010": "What is the meaning of the word usiku in Swahili?",
    "sw-012": "What is the meaning of the word maji in Swahili?",
    "sw-016": "What is the meaning of the word gunia in Swahili?",
}


def test_a_four_paragraph_swahili_build_with_weak_instructions_no_longer_drops_every_pair(
    tmp_path, capsys
):
    """Default gates (no --relevance-floor, no --min-relevance), as the original build ran. On
    61684dc's tree this build kept 3 of the 4 and printed "relevance AUC 0.75" for 4 pairs. Now
    each pair is compared with the seeds' 50 instructions and the other pairs' sides as well, so
    a pair leaves for a reason of known resolution and no AUC is printed for 4 pairs. (Which weak
    pairs stay depends on the encoder; that some of them stay, unflagged and without a warning,
    is a known gap: see the issue note.)"""
    corpus, questions = _four_paragraphs(tmp_path / "corpus")
    weak = _instead(WEAK, questions)
    # the default gates: --relevance-floor auto is the default, named so build_args adds no flag
    args = build_args(tmp_path, corpus, "sw", "--relevance-floor", "auto", "--target-size", "4")
    code, out, err = _cli_with(_answering_writer(weak), args, capsys)
    assert code == 0 and "internal error" not in out + err, out + err
    assert (
        "sw: relevance: 4 pairs: too few for an AUC (need 10)" in out and "resolution 0.0179" in out
    ), out
    assert "AUC 0." not in out + err and "AUC 1." not in out + err
    info = read_json(tmp_path / "out" / "build_info.json")
    relevance = info["quality"]["sw"]["relevance"]
    assert relevance["pairs"] == 4 and relevance["pool"] == 50 and relevance["resolution"] == 0.0179
    dropped = info["funnel"]["sw"]["dropped"]
    assert set(dropped) <= {"off_topic", "below_seed_floor"} and 1 <= sum(dropped.values()) < 4, (
        dropped
    )
    # what is published is what the gates kept, and each dropped pair's reason is in the summary
    rows = published(tmp_path / "out")
    assert len(rows) == 4 - sum(dropped.values()) and all(
        r["instruction"] in WEAK.values() for r in rows
    )
    assert all(f"{reason} {n}" in out for reason, n in dropped.items()), out


# The demo model's worst kind: a word from ANOTHER text of the build ("kamba" for a Kilimanjaro
# text), so each instruction is closer to some other paragraph than to its own.
CROSSED = {
    "sw-004": "What is the meaning of the word mbu in Swahili?",  # the malaria text's mosquito
    "sw-010": "What is the meaning of the word nyumbu in Swahili?",  # the Serengeti text's wildebeest
    "sw-012": "What is the meaning of the word mahindi in Swahili?",  # the maize text's maize
    "sw-016": "What is the meaning of the word mdalasini in Swahili?",  # the pilau text's cinnamon
}


def test_a_four_paragraph_swahili_build_whose_instructions_fit_other_texts_drops_them_with_reasons(
    tmp_path, capsys
):
    """The original failure. On 61684dc's tree this build exited 1 with `off_topic 4`: each pair
    had lost to one of 3 mismatches, and build_info.json recorded a relevance AUC of 0.06 for 4
    pairs. Now the gates still drop every pair (precision first: none is answered by its text),
    each against 56 comparisons, for a reason that says which bar it missed, with no AUC."""
    corpus, questions = _four_paragraphs(tmp_path / "corpus")
    crossed = _instead(CROSSED, questions)
    # the default gates: --relevance-floor auto is the default, named so build_args adds no flag
    args = build_args(tmp_path, corpus, "sw", "--relevance-floor", "auto", "--target-size", "4")
    code, out, err = _cli_with(_answering_writer(crossed), args, capsys)
    assert code == 1 and "every row was filtered out" in err and "internal error" not in err, (
        out + err
    )
    # the advice names the gates that dropped the pairs, not the rater's --accept-score
    assert "lower --min-relevance" in err and "--relevance-floor flag" in err
    assert "accept-score" not in err
    assert "AUC 0." not in out + err and "AUC 1." not in out + err
    work = read_json(tmp_path / "work" / "build_info.json")
    relevance = work["quality"]["sw"]["relevance"]
    assert relevance["pairs"] == 4 and relevance["pool"] == 50 and relevance["resolution"] == 0.0179
    assert relevance["auc"] is None
    # every pair left, each for a reason measured against 56 comparisons: below the percentile
    # gate (off_topic) or below what 9 in 10 of the seeds' true pairs reach (below_seed_floor)
    dropped = work["funnel"]["sw"]["dropped"]
    assert set(dropped) <= {"off_topic", "below_seed_floor"} and sum(dropped.values()) == 4, dropped
    assert (
        dropped.get("below_seed_floor", 0) >= 1
        and f"below_seed_floor {dropped['below_seed_floor']}" in err
    )
