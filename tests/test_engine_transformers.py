"""The transformers engine on a tiny random Llama (fast) and on the embedded SmolLM2 (slow)."""

from __future__ import annotations

import pytest
import torch
from _engine_helpers import PROMPTS, build_tiny_llama

from builder.engines import EngineError, PromptTooLongError, SamplingParams
from builder.engines.transformers_engine import TransformersEngine

GREEDY = SamplingParams(max_new_tokens=16)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, embedded_model_dir):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-chaotic"), embedded_model_dir)


@pytest.fixture(scope="module")
def engine(tiny_dir):
    return TransformersEngine("tiny-llama", model_path=str(tiny_dir), progress=False)


def one_by_one(engine, prompts, params):
    return [engine.generate([p], params)[0] for p in prompts]


def test_tiny_model_output_depends_on_padding(engine):
    """Control for the next test: attending to left padding changes this model's output, so
    a batch that got padding wrong could not match the one-by-one run."""
    tok = engine.tokenizer
    short = tok("Hello")["input_ids"]
    pad = [tok.pad_token_id] * 12
    with torch.inference_mode():
        alone = engine.model.generate(torch.tensor([short]), max_new_tokens=8, do_sample=False)[
            0, -8:
        ]
        # Same padding, but the mask says "attend to it": what a missing attention mask does.
        padded = torch.tensor([pad + short])
        leaked = engine.model.generate(
            padded, attention_mask=torch.ones_like(padded), max_new_tokens=8, do_sample=False
        )[0, -8:]
    assert alone.tolist() != leaked.tolist()


def test_batched_greedy_equals_one_by_one(engine):
    batched = engine.generate(PROMPTS, GREEDY)
    single = one_by_one(engine, PROMPTS, GREEDY)
    assert len({c.prompt_tokens for c in batched}) == len(PROMPTS)  # every row padded differently
    assert len({c.text for c in batched}) == len(PROMPTS)  # output follows the prompt
    assert [c.texts for c in batched] == [c.texts for c in single]
    assert [c.finish_reasons for c in batched] == [c.finish_reasons for c in single]
    assert [c.completion_tokens for c in batched] == [c.completion_tokens for c in single]


def test_small_batch_size_splits_and_keeps_order(tiny_dir, engine):
    small = TransformersEngine(
        "tiny-llama",
        model_obj=engine.model,
        tokenizer=engine.tokenizer,
        batch_size=2,
        progress=False,
    )
    assert [c.texts for c in small.generate(PROMPTS, GREEDY)] == [
        c.texts for c in engine.generate(PROMPTS, GREEDY)
    ]


def test_n_samples_per_prompt(engine):
    params = SamplingParams(max_new_tokens=12, temperature=1.0, n=3, seed=7)
    completions = engine.generate(PROMPTS[:3], params)
    for c in completions:
        assert len(c.texts) == len(c.finish_reasons) == 3
        assert len(set(c.texts)) == 3, c.texts  # three different samples, not one repeated
        assert c.finish_reasons == ["length"] * 3
        assert c.completion_tokens == 3 * 12


def test_same_seed_reproduces_whatever_the_batch(engine):
    params = SamplingParams(max_new_tokens=12, temperature=0.9, top_p=0.95, n=2, seed=11)
    first = engine.generate(PROMPTS, params)
    again = engine.generate(PROMPTS, params)
    reordered = engine.generate(PROMPTS[::-1], params)[::-1]
    alone = one_by_one(engine, PROMPTS[:2], params)
    assert [c.texts for c in first] == [c.texts for c in again] == [c.texts for c in reordered]
    assert [c.texts for c in first[:2]] == [c.texts for c in alone]
    other = engine.generate(
        PROMPTS, SamplingParams(max_new_tokens=12, temperature=0.9, top_p=0.95, n=2, seed=12)
    )
    assert [c.texts for c in first] != [c.texts for c in other]


def test_seed_none_draws_fresh_samples(engine):
    params = SamplingParams(max_new_tokens=12, temperature=1.0, seed=None)
    assert (
        engine.generate(PROMPTS[:2], params)[0].texts
        != engine.generate(PROMPTS[:2], params)[0].texts
    )


def test_token_counts_add_up(tiny_dir):
    fresh = TransformersEngine("tiny-llama", model_path=str(tiny_dir), progress=False)
    params = SamplingParams(max_new_tokens=10, temperature=1.0, n=2, seed=1)
    completions = fresh.generate(PROMPTS, params)
    for prompt, c in zip(PROMPTS, completions):
        rendered = fresh.render(prompt)
        # Raw text gets the tokenizer's special tokens, chat text is already templated.
        expected = len(
            fresh.tokenizer(rendered, add_special_tokens=isinstance(prompt, str))["input_ids"]
        )
        assert c.prompt_tokens == expected
        assert c.completion_tokens == 2 * 10
    stats = fresh.stats
    assert stats.calls == len(PROMPTS)
    assert stats.prompt_tokens == sum(c.prompt_tokens for c in completions)
    assert stats.completion_tokens == sum(c.completion_tokens for c in completions)
    assert stats.wall_s > 0
    fresh.generate(PROMPTS[:1], params)
    assert fresh.stats.calls == len(PROMPTS) + 1


def test_stops_at_eos_while_the_rest_of_the_batch_runs_on(tiny_dir, engine):
    """Make a token the greedy output reaches at step 5 an EOS: that row must end there with
    reason "stop" and 6 tokens counted (EOS included), and its batch mates must be unaffected."""
    prompt = PROMPTS[1]
    ids = engine.tokenizer(prompt)["input_ids"]
    with torch.inference_mode():
        out = engine.model.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False)[
            0, len(ids) :
        ].tolist()
    step = next(i for i in range(5, len(out)) if out[i] not in out[:i])
    stopper = TransformersEngine("tiny-llama", model_path=str(tiny_dir), progress=False)
    stopper.model.generation_config.eos_token_id = [engine.tokenizer.eos_token_id, out[step]]
    stopper._eos_ids = stopper._collect_eos_ids()

    batched = stopper.generate(PROMPTS, GREEDY)
    target = batched[1]
    assert target.finish_reasons == ["stop"]
    assert target.completion_tokens == step + 1
    assert target.text == engine.tokenizer.decode(out[:step], skip_special_tokens=True)
    single = one_by_one(stopper, PROMPTS, GREEDY)
    assert [(c.texts, c.finish_reasons, c.completion_tokens) for c in batched] == [
        (c.texts, c.finish_reasons, c.completion_tokens) for c in single
    ]


def test_stop_strings_cut_the_text_and_count_the_same_in_a_batch(engine):
    full = engine.generate(PROMPTS, GREEDY)
    words = full[1].text.split()
    stop = words[len(words) // 2]
    params = SamplingParams(max_new_tokens=16, stop=[stop])
    batched = engine.generate(PROMPTS, params)
    single = one_by_one(engine, PROMPTS, params)
    assert batched[1].text == full[1].text[: full[1].text.find(stop)]
    assert batched[1].finish_reasons == ["stop"]
    assert batched[1].completion_tokens < full[1].completion_tokens
    assert [(c.texts, c.finish_reasons, c.completion_tokens) for c in batched] == [
        (c.texts, c.finish_reasons, c.completion_tokens) for c in single
    ]


def test_model_generation_config_does_not_leak_into_output(tmp_path, tiny_dir, engine):
    """A checkpoint's shipped generation_config (here: repetition penalty, no repeated
    unigrams, sampling on) must not change what SamplingParams asked for."""
    import json
    import shutil

    shipped = shutil.copytree(tiny_dir, tmp_path / "opinionated")
    config = json.loads((shipped / "generation_config.json").read_text())
    config.update(
        do_sample=True, temperature=0.3, top_k=3, repetition_penalty=1.8, no_repeat_ngram_size=1
    )
    (shipped / "generation_config.json").write_text(json.dumps(config))
    opinionated = TransformersEngine("tiny-opinionated", model_path=str(shipped), progress=False)
    for params in (GREEDY, SamplingParams(max_new_tokens=16, temperature=1.0, seed=2)):
        assert [c.texts for c in opinionated.generate(PROMPTS, params)] == [
            c.texts for c in engine.generate(PROMPTS, params)
        ]


def test_prompt_longer_than_context_raises_by_default(engine):
    long_prompt = "word " * 400  # the tiny model's context is 256 tokens
    with pytest.raises(PromptTooLongError, match="truncate_prompt='left'"):
        engine.generate(["short", long_prompt], GREEDY)


def test_truncate_left_keeps_the_end_and_flags_it(engine):
    long_prompt = "word " * 400 + "the end"
    params = SamplingParams(max_new_tokens=16, truncate_prompt="left")
    short, cut = engine.generate(["short", long_prompt], params)
    assert not short.truncated and cut.truncated
    assert cut.prompt_tokens == 256 - 16
    assert cut.completion_tokens == 16
    kept = engine.tokenizer(long_prompt)["input_ids"][-(256 - 16) :]
    assert cut.text == engine.generate([engine.tokenizer.decode(kept)], GREEDY)[0].text


def test_max_new_tokens_beyond_the_context_raises(engine):
    with pytest.raises(PromptTooLongError, match="lower max_new_tokens|no room"):
        engine.generate(["hi"], SamplingParams(max_new_tokens=256))


def test_bad_prompt_lists(engine):
    calls = engine.stats.calls
    assert engine.generate([], GREEDY) == []
    assert engine.stats.calls == calls
    with pytest.raises(ValueError, match="prompt 1 is an empty string"):
        engine.generate(["ok", ""], GREEDY)
    with pytest.raises(ValueError, match="prompt 0 must be"):
        engine.generate([[{"text": "no role"}]], GREEDY)
    with pytest.raises(TypeError, match="list of prompts"):
        engine.generate("not a list", GREEDY)


def test_chat_prompt_without_a_chat_template_is_refused(tiny_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    tokenizer.chat_template = None
    bare = TransformersEngine(
        "tiny-base", model_path=str(tiny_dir), tokenizer=tokenizer, progress=False
    )
    with pytest.raises(ValueError, match="no chat template"):
        bare.generate([[{"role": "user", "content": "hi"}]], GREEDY)


def test_closed_engine_says_so(tiny_dir):
    closed = TransformersEngine("tiny-llama", model_path=str(tiny_dir), progress=False)
    closed.close()
    with pytest.raises(EngineError, match="closed"):
        closed.generate(["hi"], GREEDY)


# ----- the embedded SmolLM2 -----


@pytest.fixture(scope="module")
def smollm(embedded_model_dir):
    return TransformersEngine("smollm2", model_path=str(embedded_model_dir), progress=False)


@pytest.mark.slow
def test_smollm_batched_greedy_equals_one_by_one(smollm):
    params = SamplingParams(max_new_tokens=24)
    batched = smollm.generate(PROMPTS, params)
    single = one_by_one(smollm, PROMPTS, params)
    assert [c.texts for c in batched] == [c.texts for c in single]
    assert [c.completion_tokens for c in batched] == [c.completion_tokens for c in single]
    assert "Paris" in batched[2].text
    # The chat answers are short: they end on the model's own EOS, inside a padded batch.
    assert batched[2].finish_reasons == ["stop"] and batched[2].completion_tokens < 24


@pytest.mark.slow
def test_smollm_samples_are_seeded(smollm):
    params = SamplingParams(max_new_tokens=16, temperature=0.8, n=3, seed=5)
    prompts = PROMPTS[2:]
    first = smollm.generate(prompts, params)
    assert [c.texts for c in first] == [
        c.texts for c in smollm.generate(prompts[::-1], params)[::-1]
    ]
    for c in first:
        at_length = c.finish_reasons.count("length")
        assert len(c.texts) == 3
        assert 16 * at_length + (3 - at_length) <= c.completion_tokens <= 3 * 16
    # The prompts above are near-deterministic for SmolLM2 (counting, a capital city): its
    # samples may all agree. An open request at temperature 1 shows the n samples are drawn apart.
    story = [{"role": "user", "content": "Write one sentence about a cat."}]
    open_params = SamplingParams(max_new_tokens=16, temperature=1.0, n=4, seed=5)
    assert len(set(smollm.generate([story], open_params)[0].texts)) > 1


def test_shared_prefill_for_n_samples_matches_single_sampling(engine):
    """With n > 1 each prompt is encoded once and its cache copied; sample k must still be the
    sample a separate n=1 call draws with the same seed (sample 0 uses the same generator)."""
    many = engine.generate(PROMPTS, SamplingParams(max_new_tokens=10, temperature=0.9, n=3, seed=5))
    single = engine.generate(
        PROMPTS, SamplingParams(max_new_tokens=10, temperature=0.9, n=1, seed=5)
    )
    assert [c.texts[0] for c in many] == [c.texts[0] for c in single]
    assert all(len(set(c.texts)) > 1 for c in many)
