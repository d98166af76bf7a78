"""The paper's topic analysis: the top verbs of the English instructions and their direct objects.

The paper (like Self-Instruct) parses each instruction and keeps the verb closest to the root
and its first direct noun object. No parser model can be downloaded at run time here, so this
is a heuristic, stated as such on the card: strip politeness and question frames ("please",
"can you", "how do I", "what should we"), take the first word that is a known verb (a list of
verbs common in instructions plus suffix rules), reduce it to its base form, then take the next
noun phrase's head (its last word, after articles, pronouns and frequent adjectives) as the object.
Instructions with no such verb ("What is the capital of Kenya?") count as unparsed.
"""

from __future__ import annotations

import collections
import dataclasses
import re

VERBS = set(
    """
accept add adjust advise affect allow analyze answer apply argue arrange ask assess assign avoid
ban become borrow breed build buy calculate call cancel cause celebrate change check choose
clarify classify clean collect combine compare compile complete compose compute conclude conduct
connect consider construct contact continue convert cook correct count create critique debate
decide define delete demonstrate describe design detect determine develop diagnose discuss draft
draw earn eat edit elaborate eliminate enable encourage enhance ensure enumerate estimate
evaluate examine explain explore express extract feed feel fill find fix follow form formulate
gather generate get give grow guess handle harvest help highlight identify illustrate imagine
implement improve include increase install interpret introduce invest investigate join justify
keep know learn lend list live locate look lose maintain make manage map measure mention modify
name note obtain offer order organize outline paraphrase pay perform pick plan plant play
predict prepare present prevent produce promote propose protect prove provide publish put raise
rank rate read recommend reduce reflect register remove rename reorder repair rephrase replace
report request research respond restate review revise rewrite run save say schedule select sell
send share show simplify solve sort specify spend start state stop study suggest summarize
support take talk teach tell test think train transform translate travel treat try turn
understand update use verify visit volunteer vote want watch win write
""".split()
)

_IRREGULAR = {
    "wrote": "write",
    "written": "write",
    "gave": "give",
    "given": "give",
    "made": "make",
    "told": "tell",
    "took": "take",
    "taken": "take",
    "found": "find",
    "got": "get",
    "chose": "choose",
    "chosen": "choose",
    "built": "build",
    "bought": "buy",
    "sold": "sell",
    "thought": "think",
    "taught": "teach",
    "said": "say",
    "knew": "know",
    "known": "know",
    "ran": "run",
    "kept": "keep",
    "sent": "send",
    "drew": "draw",
}

# Frames that come before the verb of an instruction or question; longest first.
_FRAMES = [
    r"(?:please|kindly)",
    r"(?:can|could|would|will) (?:you|we|i|someone)(?: please)?",
    r"i (?:want|need|would like|'d like) (?:you )?to",
    r"help me(?: to)?",
    r"let'?s",
    r"try to",
    r"(?:how|why|when|where|what|which|who) (?:do|does|did|can|could|should|would|will|might|must) "
    r"(?:i|you|we|they|people|one|someone|he|she|it|the \w+|\w+)",
    r"how to",
    r"is it possible to",
    r"in (?:a|one|two|three|\d+) (?:sentences?|words|paragraphs?),?",
    r"(?:briefly|quickly|carefully|concisely)",
]
_FRAME = re.compile(r"^(?:" + "|".join(_FRAMES) + r")\b[\s,:]*", re.I)

# Words between the verb and its object (articles, pronouns, quantities, frequent adjectives).
_SKIP_BEFORE_OBJECT = set(
    """
a an the me us him her them it my your our their his its this that these those some any all each
every few several many much more most brief short long detailed simple quick new good best main key
important possible different common following given same other own recent latest current basic
general major one two three four five six seven eight nine ten
""".split()
)
# Words that end the noun phrase holding the object ("the history | of ...", "tips | on ...").
_BOUNDARY = set(
    """
about above after against among and around as at before behind below between but by during for
from how if in including into like near of off on or over since so than that then through to
toward towards under until up upon using via what when where whether which while who why with
within without is are was were be been being
""".split()
)
_MAX_PHRASE = 4  # the object is the last word of a noun phrase of at most this many words

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*|[^\sA-Za-z]")


# Nouns that end in "s" in the singular.
_INVARIANT_NOUNS = {
    "news",
    "series",
    "species",
    "means",
    "mathematics",
    "physics",
    "economics",
    "politics",
}


def _known_verb(word: str) -> str | None:
    if word in VERBS:
        return word
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for suffix, repl in (
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ied", "y"),
        ("ed", ""),
        ("ed", "e"),
        ("ing", ""),
        ("ing", "e"),
    ):
        if word.endswith(suffix) and word[: -len(suffix)] + repl in VERBS:
            return word[: -len(suffix)] + repl
    return None


def _base_form(word: str) -> str | None:
    word = word.lower()
    found = _known_verb(word)
    # British: summarise, analyse
    if found is None and re.search(r"(?:is(?:e|ed|es|ing)|yse)$", word):
        found = _known_verb(re.sub(r"is(e|ed|es|ing)$", r"iz\1", word).replace("yse", "yze"))
    # digitize, classify, ... not listed
    if found is None and re.fullmatch(r"[a-z]{3,}(?:ize|ify)", word):
        found = word
    return found


def _noun_base(word: str) -> str:
    word = word.lower().strip("'-")
    if word in _INVARIANT_NOUNS:
        return word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ics")):
        return word[:-1]
    return word


def verb_object(instruction: str) -> tuple[str, str | None] | None:
    """("write", "story") for "Please write a short story about ..."; None when no verb is found."""
    text = instruction.strip().lstrip("\"'“‘([-*•0123456789. ").lower()
    for _ in range(3):  # frames can stack: "Please, can you ..."
        stripped = _FRAME.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    tokens = _TOKEN.findall(text)
    if not tokens or not tokens[0][0].isalpha():
        return None
    verb = _base_form(tokens[0])
    if verb is None:
        return None
    rest = tokens[1:]
    while rest and rest[0] in _SKIP_BEFORE_OBJECT:
        rest = rest[1:]
    phrase = []
    for token in rest:
        if not token[0].isalpha() or token in _BOUNDARY or len(phrase) == _MAX_PHRASE:
            break
        phrase.append(token)
    # The head of an English noun phrase is its last word: "rice farming" -> "farming".
    return verb, (_noun_base(phrase[-1]) if phrase else None)


@dataclasses.dataclass
class VerbSummary:
    total: int
    parsed: int
    verbs: list[tuple[str, int, list[tuple[str, int]]]]  # (verb, rows, [(object, rows), ...])

    @property
    def parsed_pct(self) -> str:
        return f"{100 * self.parsed / self.total:.0f} %" if self.total else "–"


def top_verbs(instructions, n_verbs: int = 16, n_objects: int = 4) -> VerbSummary:
    verb_counts: collections.Counter = collections.Counter()
    objects: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    total = parsed = 0
    for instruction in instructions:
        total += 1
        found = verb_object(instruction or "")
        if found is None:
            continue
        parsed += 1
        verb, obj = found
        verb_counts[verb] += 1
        if obj:
            objects[verb][obj] += 1
    # Ties broken alphabetically so that the card is the same on every run.
    ranked = sorted(verb_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n_verbs]
    verbs = [
        (verb, n, sorted(objects[verb].items(), key=lambda kv: (-kv[1], kv[0]))[:n_objects])
        for verb, n in ranked
    ]
    return VerbSummary(total, parsed, verbs)
