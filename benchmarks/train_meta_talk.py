"""Train the meta-talk classifier (builder/quality/meta_talk.py) and write
builder/data/meta_talk_classifier.json.

    python benchmarks/train_meta_talk.py [--C 3.0] [--rounds 3] [--out PATH]

Rows: the labelled sets v1, v2 and v3 of benchmarks/data/meta_talk_heldout.jsonl (chat talk and
human web text in 15 languages), the calibration file's rows, and as human text the embedded
corpus and the seed responses, plus the English PROTOTYPES (chat talk) and CONTRASTS (web text)
of the detector module. Set v4 is never read: it is the unseen benchmark.

Each text is cut into the detector's snippets (its ends); the encoder embeds each. A human text's
snippets are all negatives. A chat-talk text holds its talk in one end only and which one is not
labelled, so training goes in rounds: round 1 takes the end most like the prototypes (minus the
contrasts) as the positive, each later round the end the previous model scored highest. The model
is scikit-learn's LogisticRegression (L2, inverse strength C, classes balanced).

The threshold comes from cross-validation by language: for each language (the calibration file
counts as one, "en"), a model trained without it scores its texts. The threshold is the highest
score any human text got that way, rounded up to the next 0.01: no seen human text would have
been flagged by a model that had not seen its language. The same cross-validated scores give the
recall printed below (seen data, so an estimate; v4 in bench_meta_talk.py is the unseen figure).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from builder.languages import PAPER_LANGUAGES  # noqa: E402
from builder.quality.meta_talk import CLASSIFIER, CONTRASTS, ENCODER, PROTOTYPES, VERSION, WORD_WINDOWS, snippets  # noqa: E402
from builder.quality.relevance import load_encoder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
TRAIN_SETS = ("v1", "v2", "v3")  # never v4


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def training_rows() -> list[dict]:
    """{group, label (1 chat talk, 0 human), text, source}; group is the language, held out together."""
    rows = [{"group": r["lang"], "label": int(r["label"] == "meta"), "text": r["text"], "source": r["set"]}
            for r in read_jsonl(DATA / "meta_talk_heldout.jsonl") if r["set"] in TRAIN_SETS]
    rows += [{"group": "en", "label": int(r["label"] == "meta"), "text": r["text"], "source": "calibration"}
             for r in read_jsonl(DATA / "meta_talk_calibration.jsonl")]
    for lang in PAPER_LANGUAGES:
        rows += [{"group": lang, "label": 0, "text": r["text"], "source": "corpus"}
                 for r in read_jsonl(ROOT / "builder/data/corpus" / f"{lang}.jsonl")]
        rows += [{"group": lang, "label": 0, "text": r["output"], "source": "seeds"}
                 for r in read_jsonl(ROOT / "builder/data/seeds" / f"{lang}.jsonl")]
    return rows


def fit(vectors: list[np.ndarray], labels: np.ndarray, index: np.ndarray, anchors: tuple[np.ndarray, np.ndarray],
        c: float, rounds: int):
    """A LogisticRegression on the snippets of the rows `index` (see module doc)."""
    from sklearn.linear_model import LogisticRegression

    meta, plain = anchors
    positives = [i for i in index if labels[i] == 1]
    negatives = np.vstack([vectors[i] for i in index if labels[i] == 0] + [plain])
    contrast = {i: (vectors[i] @ meta.T).max(axis=1) - (vectors[i] @ plain.T).max(axis=1) for i in positives}
    chosen = {i: int(np.argmax(contrast[i])) for i in positives}
    model = None
    for _ in range(rounds):
        pos = np.vstack([vectors[i][chosen[i]] for i in positives] + [meta])
        x = np.vstack([pos, negatives])
        y = np.r_[np.ones(len(pos)), np.zeros(len(negatives))]
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y)
        chosen = {i: int(np.argmax(model.decision_function(vectors[i]))) for i in positives}
    return model


def text_scores(model, vectors: list[np.ndarray]) -> np.ndarray:
    return np.array([model.decision_function(v).max() if len(v) else -np.inf for v in vectors])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--C", type=float, default=3.0, help="inverse L2 strength (chosen by the cross-validation below)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=CLASSIFIER)
    args = parser.parse_args()

    rows = training_rows()
    encoder = load_encoder(ENCODER)
    parts = [snippets(r["text"]) for r in rows]
    flat = [s for p in parts for s in p]
    print(f"{len(rows)} texts, {len(flat)} snippets: embedding with {ENCODER}...", flush=True)
    embedded = encoder.instructions(flat)
    vectors, start = [], 0
    for p in parts:
        vectors.append(embedded[start:start + len(p)])
        start += len(p)
    anchors = (encoder.instructions(list(PROTOTYPES)), encoder.instructions(list(CONTRASTS)))
    labels = np.array([r["label"] for r in rows])
    groups = np.array([r["group"] for r in rows])

    held_out = np.zeros(len(rows))
    for group in sorted(set(groups)):
        test = np.where(groups == group)[0]
        model = fit(vectors, labels, np.where(groups != group)[0], anchors, args.C, args.rounds)
        held_out[test] = text_scores(model, [vectors[i] for i in test])
    threshold = math.ceil(held_out[labels == 0].max() * 100 + 1e-9) / 100

    counts = defaultdict(lambda: [0, 0, 0, 0])  # source: chat talk n, caught, human n, flagged
    for r, score in zip(rows, held_out):
        c = counts[r["source"]]
        c[0 if r["label"] else 2] += 1
        c[1 if r["label"] else 3] += bool(score >= threshold)
    print(f"cross-validated by language (each text scored by a model that never saw its language), threshold {threshold}:")
    for source, (m, caught, h, flagged) in counts.items():
        print(f"- {source}: chat talk {caught}/{m}, human flagged {flagged}/{h}")

    model = fit(vectors, labels, np.arange(len(rows)), anchors, args.C, args.rounds)
    full = text_scores(model, vectors)
    print(f"final model on its own training texts: chat talk {int((full[labels == 1] >= threshold).sum())}/"
          f"{int((labels == 1).sum())}, human flagged {int((full[labels == 0] >= threshold).sum())}/{int((labels == 0).sum())}")
    out = {
        "version": VERSION, "encoder": ENCODER, "role": "query", "word_windows": list(WORD_WINDOWS),
        "C": args.C, "rounds": args.rounds, "threshold": threshold,
        "trained_on": {s: {"chat_talk": c[0], "human": c[2]} for s, c in counts.items()},
        "cross_validated": {s: {"chat_talk_caught": c[1], "human_flagged": c[3]} for s, c in counts.items()},
        "bias": round(float(model.intercept_[0]), 6),
        "weights": [round(float(w), 6) for w in model.coef_[0]],
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
