"""The checks on a generated instruction (builder/stages/instructions.py), against its text."""

from __future__ import annotations

from builder.stages.instructions import instruction_problem


def test_a_run_of_six_words_copied_from_its_own_text_is_caught_and_no_other_text_is_mixed_in():
    """Each text is normalised once for all its candidates (a small cache by text): the verdict
    must still come from the text asked about, whatever was asked just before."""
    copied = "Explain why everyone has the right to life, liberty and security."
    source = "Article 3.  Everyone has THE right to life,\nliberty and security of person."
    other = "Kila mtu ana haki ya kuishi, haki ya uhuru na usalama wa maisha yake."
    # each text again after the other: the cache must not answer for the wrong one
    for _ in range(2):
        assert instruction_problem(copied, source) == "repeats_text"
        assert instruction_problem(copied, other) is None
    # five words in a row are allowed; a run split across the text's line break still counts
    assert instruction_problem("Why does everyone has the right matter here?", source) is None
    assert instruction_problem("What does to life, liberty and security of mean?", source) == (
        "repeats_text"
    )
