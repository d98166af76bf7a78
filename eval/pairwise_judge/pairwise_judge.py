"""Pairwise LLM-judge metric: win/tie/loss of system A against system B, both orders judged.

Load it by path: evaluate.load("eval/pairwise_judge"). The maths lives in builder.judge (the
harness uses the same functions), so a report written by `x-instruction eval` and this
metric computed over the report's records.jsonl give the same numbers.
"""

import datasets
import evaluate

from builder.judge.aggregate import PARTIAL, RULES, pairwise_summary
from builder.judge.judging import judge_params, pair_prompts, run_judge
from builder.judge.prompts import check_format
from builder.publish.citation import CITATION as _CITATION

_DESCRIPTION = """\
Pairwise judgement of two systems' answers by an LLM judge, as in the X-Instruction paper
(answers scored 0-10 in <score1>/<score2> tags) or with a verdict ([[1]], [[2]], [[tie]]).
Every pair is judged twice with the answers' order swapped; the two judgements are combined
by a documented tie rule, invalid judgements are counted and excluded (never scored), and
win/tie/loss rates come with percentile-bootstrap intervals.
"""

_KWARGS_DESCRIPTION = """\
Args:
    questions (list of str): the questions.
    answers_a (list of str): answers of system A (the system whose win rate is reported).
    answers_b (list of str): answers of system B (the reference).
    judgements (list of str): the judge's raw outputs with A's answer in position 1.
    judgements_swapped (list of str): the judge's raw outputs with B's answer in position 1.
    judge (callable or builder Engine, optional): instead of judgements, a judge to ask: a
        function from a list of chat prompts to a list of output texts, or an engine from
        builder.engines.create_engine. Needs `lang`. Only with compute(), not add_batch().
    lang (str or list of str): the language the answers should be in (for the judge's prompt).
    contexts_a, contexts_b (list, optional; judge mode): for later turns of a conversation
        (MT-Bench), the earlier turns each answer continues, one list of [user message,
        answer] pairs per pair (empty for a first turn), as `context_a`/`context_b` in the
        harness's records.jsonl. The judge then sees each system's conversation.
    judge_format (str): "scores" (default), "scores-reasoned" or "verdict".
    prefill (bool): start the judge's reply with the format's opening tag (judge mode only).
    rule (str): "sum" (default; the orders add up, disagreement is a tie) or "agree" (a win
        needs both orders).
    partial (str): "exclude" (default; a pair with an invalid judgement is left out) or
        "single" (the valid order decides).
    groups (list, optional): one group id per pair (e.g. question id) to bootstrap by group.
    n_boot (int): bootstrap resamples, default 1000. seed (int): default 0.
    confidence (float): interval level, default 0.95.
Returns:
    win_rate, tie_rate, loss_rate, score (= win + tie/2), each with a `_ci` interval (None when
    no pair is valid); pairs, valid_pairs, excluded_pairs, judgements, invalid_judgements,
    invalid_by_status; consistency (pairs whose orders agree); position1_preference;
    mean_score_a / mean_score_b (score formats); length (mean characters, win/tie/loss by
    length ratio, a length-controlled score with its interval).
Examples:
    >>> judge = evaluate.load("eval/pairwise_judge")
    >>> judge.compute(questions=["Q"], answers_a=["a"], answers_b=["b"],
    ...               judgements=["<score1>8</score1><score2>5</score2>"],
    ...               judgements_swapped=["<score1>5</score1><score2>8</score2>"])["win_rate"]
    1.0
"""

_FEATURES = datasets.Features(
    {
        "questions": datasets.Value("string"),
        "answers_a": datasets.Value("string"),
        "answers_b": datasets.Value("string"),
        "judgements": datasets.Value("string"),
        "judgements_swapped": datasets.Value("string"),
    }
)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PairwiseJudge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_FEATURES,
            reference_urls=[
                "https://arxiv.org/abs/2405.19744",
                "https://github.com/ZNLP/X-Instruction",
            ],
        )

    def compute(
        self,
        *,
        judge=None,
        lang=None,
        prefill=False,
        batch_size=64,
        judge_max_tokens=None,
        contexts_a=None,
        contexts_b=None,
        **kwargs,
    ):
        """As evaluate.Metric.compute, plus judge mode: pass `judge` (and `lang`) instead of
        `judgements` / `judgements_swapped` and the judge is asked both orders first."""
        if judge is not None:
            kwargs.update(
                self._ask_judge(
                    judge,
                    lang,
                    prefill,
                    batch_size,
                    judge_max_tokens,
                    kwargs,
                    contexts_a,
                    contexts_b,
                )
            )
        elif contexts_a is not None or contexts_b is not None:
            raise ValueError(
                "contexts_a/contexts_b are shown to a judge: pass judge= too, or leave them out"
            )
        return super().compute(**kwargs)

    @staticmethod
    def _ask_judge(
        judge, lang, prefill, batch_size, judge_max_tokens, kwargs, contexts_a=None, contexts_b=None
    ) -> dict:
        if kwargs.get("judgements") is not None or kwargs.get("judgements_swapped") is not None:
            raise ValueError(
                "pass either the judge's outputs (judgements, judgements_swapped) or a judge, not both"
            )
        if lang is None:
            raise ValueError(
                "judge mode needs lang= (the language the answers should be in), e.g. lang='sw'"
            )
        questions, answers_a, answers_b = (
            kwargs.get("questions"),
            kwargs.get("answers_a"),
            kwargs.get("answers_b"),
        )
        if questions is None or answers_a is None or answers_b is None:
            raise ValueError("judge mode needs questions, answers_a and answers_b")
        fmt = check_format(kwargs.get("judge_format", "scores"))
        langs = [lang] * len(questions) if isinstance(lang, str) else list(lang)
        ab, ba = pair_prompts(
            questions, answers_a, answers_b, langs, fmt, prefill, contexts_a, contexts_b
        )
        outputs = run_judge(
            judge, ab + ba, fmt, prefill, judge_params(fmt, judge_max_tokens), None, batch_size
        )
        n = len(questions)
        return {
            "judgements": [o.text for o in outputs[:n]],
            "judgements_swapped": [o.text for o in outputs[n:]],
        }

    def _compute(
        self,
        questions,
        answers_a,
        answers_b,
        judgements,
        judgements_swapped,
        judge_format="scores",
        rule="sum",
        partial="exclude",
        groups=None,
        n_boot=1000,
        seed=0,
        confidence=0.95,
    ):
        if rule not in RULES or partial not in PARTIAL:
            raise ValueError(
                f"rule must be one of {RULES} and partial one of {PARTIAL}; got {rule!r}, {partial!r}"
            )
        return pairwise_summary(
            judgements,
            judgements_swapped,
            check_format(judge_format),
            rule,
            partial,
            lengths_a=[len(a) for a in answers_a],
            lengths_b=[len(b) for b in answers_b],
            groups=groups,
            n_boot=n_boot,
            seed=seed,
            confidence=confidence,
        )
