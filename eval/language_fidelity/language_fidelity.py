"""Language fidelity metric: the share of answers written in the language that was asked for.

Load it by path: evaluate.load("eval/language_fidelity"). Language ID is the project's
(builder.languages.lid: langdetect plus script rules, offline), the same the judge harness reports.
"""

import datasets
import evaluate

from builder.judge.fidelity import language_fidelity
from builder.publish.citation import CITATION as _CITATION

_DESCRIPTION = """\
Does a model answer in the requested language? Each answer goes through offline language ID;
the metric is the share of answers in the expected language among those long enough to
decide, with a bootstrap interval. Answers too short to decide are counted as undecided (not
as failures); empty answers count as not in the language.
"""

_KWARGS_DESCRIPTION = """\
Args:
    answers (list of str): the model's answers.
    languages (list of str): the expected language code of each answer (e.g. "sw"); or pass
        lang="sw" for all of them.
    n_boot (int): bootstrap resamples, default 1000. seed (int): default 0.
    confidence (float): interval level, default 0.95.
Returns:
    fidelity (share in language among decided answers, None if none was decided), fidelity_ci,
    answers, decided, undecided, in_language, per_language (the same per code), and scores:
    per answer the detected language, its probability, the script and in_language
    (True, False, or None when undecided).
Examples:
    >>> fidelity = evaluate.load("eval/language_fidelity")
    >>> fidelity.compute(answers=["Habari ya asubuhi, rafiki yangu. Karibu nyumbani kwetu leo."], lang="sw")["fidelity"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class LanguageFidelity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"answers": datasets.Value("string"), "languages": datasets.Value("string")}
            ),
            reference_urls=["https://arxiv.org/abs/2405.19744"],
        )

    def compute(self, *, lang=None, **kwargs):
        """As evaluate.Metric.compute; `lang="sw"` stands for the same language for every answer."""
        if lang is not None:
            if kwargs.get("languages") is not None:
                raise ValueError(
                    "pass either lang= (one language for all answers) or languages= (one per answer)"
                )
            answers = kwargs.get("answers")
            if answers is None:
                raise ValueError("lang= needs answers= in the same call")
            kwargs["languages"] = [lang] * len(answers)
        return super().compute(**kwargs)

    def _compute(self, answers, languages, n_boot=1000, seed=0, confidence=0.95):
        return language_fidelity(
            answers, languages, n_boot=n_boot, seed=seed, confidence=confidence
        )
