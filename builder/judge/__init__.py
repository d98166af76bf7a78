"""The judge harness: pairwise LLM-judge evaluation against a reference, and language fidelity.

Modules: prompts (judge templates), parsing (raw judge text -> scores/verdict or a reason it
is invalid), aggregate (both orders -> win/tie/loss with bootstrap intervals), fidelity
(answers in the requested language), questions (question sets and answer files), judging
(asking the judge), harness (the end-to-end run), report (JSON, Markdown, PNG), cli.
The `evaluate` metric modules in eval/ call these same functions.
"""

from .aggregate import judge_pairs, pair_outcome, pairwise_summary, summarize
from .fidelity import answer_language, language_fidelity
from .parsing import Judgement, parse_judgement

__all__ = [
    "Judgement",
    "answer_language",
    "judge_pairs",
    "language_fidelity",
    "pair_outcome",
    "pairwise_summary",
    "parse_judgement",
    "summarize",
]
