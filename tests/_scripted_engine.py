"""A real `Engine` subclass whose replies are chosen by a test, for exercising stage logic
(round-robin of candidates, retries, rewrites) deterministically. The stages also run on the
tiny random Llama and the embedded SmolLM2 in other tests; this one pins down control flow."""

from __future__ import annotations

from builder.engines.base import Completion, Engine, SamplingParams


class ScriptedEngine(Engine):
    name = "scripted"

    def __init__(self, reply):
        """`reply(prompt, params, k) -> str` gives the k-th sample for a prompt."""
        super().__init__("scripted-model", "r1")
        self.reply = reply
        self.prompts: list = []

    def _generate(self, prompts, params: SamplingParams):
        self.prompts.extend(prompts)
        out = []
        for prompt in prompts:
            texts = [self.reply(prompt, params, k) for k in range(params.n)]
            out.append(
                Completion(
                    texts, ["stop"] * params.n, prompt_tokens=10, completion_tokens=5 * params.n
                )
            )
        return out

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def last_user(prompt) -> str:
    return [m["content"] for m in prompt if m["role"] == "user"][-1]
