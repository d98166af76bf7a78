"""Training callbacks that generate during training. The main one measures the signal
X-Instruction exists to move: does the model answer in the language it was asked to answer in?

Every N steps (and before the first and after the last step) the model answers a few held-out
prompts greedily; language ID (`builder.languages.lid`) checks each answer, and the callback logs, per
group (a language) and overall:

* `lang_share/<group>`: answers detected in the expected language / answers;
* `lang_undecided/<group>`: answers too short for language ID to tell / answers.

Undecided answers count against the share: an answer too short to identify is rarely a useful
answer. The same callback checks a backward model (train_generator.py), whose answers should
be English whatever the language of its input.

Generation follows TRL's own completion logging: under DeepSpeed ZeRO-3 the parameters are
gathered, under FSDP1 summoned, each process answers an equal slice of the prompts and the
answers are gathered, so every process logs the same numbers.

`ScoreAgreementCallback` does the same for the refine stage's rater (train_evaluator.py): how
many held-out judgements parse, and how many match the reference score.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import defaultdict

import torch
from transformers import GenerationConfig, Trainer, TrainerCallback

from ..languages.lid import detect, matches

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Probe:
    prompt: str | list  # raw text or chat messages, in the format the model is trained on
    expected: str  # language code the answer should be in
    group: str  # what the share is reported under (usually the target language)


def language_shares(answers: list[str], probes: list[Probe]) -> dict[str, float]:
    """{"lang_share/<group>", "lang_undecided/<group>", "lang_share", "lang_undecided"} for the answers."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # matched, undecided, total
    for answer, probe in zip(answers, probes, strict=True):
        verdict = matches(detect(answer), probe.expected)
        for key in (probe.group, None):
            counts[key][0] += verdict is True
            counts[key][1] += verdict is None
            counts[key][2] += 1
    logs = {}
    for key, (matched, undecided, total) in counts.items():
        suffix = "" if key is None else f"/{key}"
        logs[f"lang_share{suffix}"] = matched / total
        logs[f"lang_undecided{suffix}"] = undecided / total
    return logs


def _encode(tokenizer, prompt) -> list[int]:
    """Token ids exactly as SFTTrainer tokenised the training prompts. A conversation ending with
    an assistant message is continued (the refine stage pre-fills "Score:"), as the engines do."""
    if isinstance(prompt, str):
        return tokenizer(prompt)["input_ids"]
    prefill = prompt[-1]["role"] == "assistant"
    text = tokenizer.apply_chat_template(
        prompt, tokenize=False, add_generation_prompt=not prefill, continue_final_message=prefill
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _eos_ids(model, tokenizer) -> list[int]:
    ids = set()
    for source in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if source is not None:
            ids.update(source if isinstance(source, (list, tuple)) else [source])
    return sorted(ids)


@torch.no_grad()
def generate_answers(
    model, tokenizer, prompts: list, max_new_tokens: int, batch_size: int
) -> list[str]:
    """Greedy answers, batched with left padding (so every row ends where generation starts)."""
    eos = _eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=pad,
        eos_token_id=eos,
        use_cache=True,
    )
    device = next(model.parameters()).device
    answers = []
    for start in range(0, len(prompts), batch_size):
        encoded = [_encode(tokenizer, p) for p in prompts[start : start + batch_size]]
        width = max(len(ids) for ids in encoded)
        input_ids = torch.tensor(
            [[pad] * (width - len(ids)) + ids for ids in encoded], device=device
        )
        attention = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=device
        )
        output = model.generate(
            input_ids=input_ids, attention_mask=attention, generation_config=config
        )
        for row in output[:, width:].tolist():
            cut = next((i for i, tok in enumerate(row) if tok in eos), len(row))
            answers.append(tokenizer.decode(row[:cut], skip_special_tokens=True))
    return answers


class GenerationCheckCallback(TrainerCallback):
    """Every `every_steps` steps (and before the first and after the last), the model answers
    `prompts` greedily and `evaluate(answers)` turns the answers into logged numbers."""

    name = "generation check"
    key = "generation"  # prefix of the timing entry

    def __init__(
        self,
        trainer: Trainer,
        prompts: list,
        every_steps: int,
        max_new_tokens: int = 128,
        batch_size: int = 8,
        at_start: bool = True,
    ):
        if not prompts:
            raise ValueError(f"the {self.name} needs at least one held-out prompt")
        if every_steps < 1:
            raise ValueError(f"every_steps must be >= 1, got {every_steps}")
        self.trainer = trainer
        self.prompts = prompts
        self.every_steps = every_steps
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.at_start = at_start
        # (step, logs), for tests and the model card
        self.history: list[tuple[int, dict[str, float]]] = []
        self._last_step = -1

    def evaluate(self, answers: list[str]) -> dict[str, float]:
        raise NotImplementedError

    def on_train_begin(self, args, state, control, **kwargs):
        if self.at_start and state.global_step == 0:
            self.measure(state)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every_steps == 0:
            self.measure(state)

    def on_train_end(self, args, state, control, **kwargs):
        self.measure(state)  # the final number, whatever the step

    def measure(self, state) -> dict[str, float] | None:
        if state.global_step == self._last_step:
            return None
        self._last_step = state.global_step
        start = time.perf_counter()
        logs = self.evaluate(self._answers())
        logs[f"{self.key}_check_seconds"] = round(time.perf_counter() - start, 3)
        self.history.append((state.global_step, dict(logs)))
        # Trainer.log, not SFTTrainer.log: TRL's override would flush its running train metrics
        # (token accuracy, entropy) into this entry and reset their averages mid-interval. Logging
        # also clears `should_log`, which the trainer set for its own log of this step: keep it.
        control = self.trainer.control
        should_log = control.should_log
        Trainer.log(self.trainer, logs)
        self.trainer.control.should_log = should_log
        return logs

    def _answers(self) -> list[str]:
        from accelerate.utils import gather_object
        from trl.distributed import DistributedBackend
        from trl.models import unwrap_model_for_generation

        trainer = self.trainer
        accelerator = trainer.accelerator
        tokenizer = trainer.processing_class
        prompts = self.prompts
        model = trainer.model_wrapped
        was_training = model.training
        model.eval()
        try:
            # apply_padding: every process must run the same number of generate calls, or the
            # collective ops of ZeRO-3/FSDP inside them would wait forever.
            with (
                accelerator.split_between_processes(prompts, apply_padding=True) as shard,
                unwrap_model_for_generation(
                    model,
                    accelerator,
                    gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs,
                ) as unwrapped,
                DistributedBackend(accelerator).summon_full_params(model, recurse=False),
            ):
                answers = generate_answers(
                    unwrapped, tokenizer, list(shard), self.max_new_tokens, self.batch_size
                )
            answers = gather_object(answers)[: len(prompts)]
        finally:
            model.train(was_training)
        return answers


class LanguageShareCallback(GenerationCheckCallback):
    """Logs the share of answers in the expected language (see the module docstring).

    Usage:
        trainer.add_callback(LanguageShareCallback(trainer, probes, every_steps=100))
    """

    name = "language check"
    key = "lang"

    def __init__(self, trainer: Trainer, probes: list[Probe], every_steps: int, **kwargs):
        super().__init__(trainer, [p.prompt for p in probes], every_steps, **kwargs)
        self.probes = probes

    def evaluate(self, answers: list[str]) -> dict[str, float]:
        return language_shares(answers, self.probes)


class ScoreAgreementCallback(GenerationCheckCallback):
    """For the refine stage's rater: how often its held-out judgements parse and match the reference.

    Logs `score_parsed` (replies the refine stage can read), `score_exact` and `score_within_1`."""

    name = "score check"
    key = "score"

    def __init__(
        self, trainer: Trainer, prompts: list, references: list[int], every_steps: int, **kwargs
    ):
        super().__init__(trainer, prompts, every_steps, **kwargs)
        self.references = references

    def evaluate(self, answers: list[str]) -> dict[str, float]:
        from ..stages.refine import parse_score_reply

        scores = [parse_score_reply(answer)[0] for answer in answers]
        n = len(scores)
        return {
            "score_parsed": sum(s is not None for s in scores) / n,
            "score_exact": sum(s == r for s, r in zip(scores, self.references)) / n,
            "score_within_1": sum(
                s is not None and abs(s - r) <= 1 for s, r in zip(scores, self.references)
            )
            / n,
        }
