"""Train the person-name tagger of data_prep/pii_names.py on KazNERD valid ->
data_prep/assets/names/tagger.json.gz.

    python scripts/train_name_tagger.py [--data ../shared/data/kaznerd/IOB2_valid.txt] [--epochs 8]
        [--folds 5]
    python scripts/train_name_tagger.py --cv 5      # only cross-validate on valid, write nothing

KazNERD valid only (CC BY 4.0): its test half is kept for the score (scripts/eval_pii_names.py). A token is
a positive example when its tag is B-PERSON or I-PERSON; only candidates (pii_names.is_candidate) are
examples, because nothing else can be tagged at inference.

Two stages, both averaged perceptrons (Collins 2002) over the binary features of pii_names:
- stage 1 on stage1_features;
- stage 2 on stage1_features + stage2_extra_features, where the stage-1 scores come from models that did
  not see the sentence (--folds out-of-fold predictions, i.e. stacking), so stage 2 learns how far to
  trust stage 1 on unseen text rather than on its own training data.
Training is deterministic (fixed shuffles) and takes about half a minute on one core.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data_prep import pii_names  # noqa: E402

KAZNERD = REPO.parent / "shared" / "data" / "kaznerd"


def read_conll(path: Path) -> list[list[tuple[str, bool]]]:
    """Sentences of (token, is_person) from a KazNERD IOB2 file."""
    sents, cur = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            if cur:
                sents.append(cur)
                cur = []
        elif len(parts) == 2:
            cur.append((parts[0], parts[1].endswith("PERSON")))
    if cur:
        sents.append(cur)
    return sents


class AveragedPerceptron:
    def __init__(self) -> None:
        self.w: dict[str, float] = defaultdict(float)
        self._total: dict[str, float] = defaultdict(float)
        self._stamp: dict[str, int] = defaultdict(int)
        self._t = 0

    def score(self, feats: list[str]) -> float:
        w = self.w
        return sum(w.get(x, 0.0) for x in feats)

    def update(self, feats: list[str], y: int) -> None:
        self._t += 1
        for x in feats:
            self._total[x] += (self._t - self._stamp[x]) * self.w[x]
            self._stamp[x] = self._t
            self.w[x] += y

    def averaged(self, min_abs: float = 1e-4) -> dict[str, float]:
        out = {}
        for x, w in self.w.items():
            total = self._total[x] + (self._t - self._stamp[x]) * w
            avg = total / max(1, self._t)
            if abs(avg) >= min_abs:
                out[x] = round(avg, 5)
        return out


def fit(examples: list[tuple[list[str], int]], epochs: int, seed: int) -> dict[str, float]:
    model, rng = AveragedPerceptron(), random.Random(seed)
    examples = list(examples)
    for _ in range(epochs):
        rng.shuffle(examples)
        for feats, y in examples:
            if y * model.score(feats) <= 0:
                model.update(feats, y)
    return model.averaged()


def stage1_examples(sents):
    out = []
    for s in sents:
        toks = [t for t, _ in s]
        out += [
            (pii_names.stage1_features(toks, i), 1 if gold else -1)
            for i, (t, gold) in enumerate(s)
            if pii_names.is_candidate(t)
        ]
    return out


def stage1_scores(w1: dict[str, float], toks: list[str]) -> list[float]:
    return [
        sum(w1.get(x, 0.0) for x in pii_names.stage1_features(toks, i))
        if pii_names.is_candidate(t)
        else pii_names.NOT_CANDIDATE
        for i, t in enumerate(toks)
    ]


def lowercase_words(sents) -> frozenset[str]:
    """Every word the sentences write in lower case (a capitalised form of one is rarely a name)."""
    return frozenset(t for s in sents for t, _ in s if t[0].islower())


def train(sents, epochs: int, folds: int) -> pii_names.NameTagger:
    pii_names.use_lowercase_words(lowercase_words(sents))
    w1 = fit(stage1_examples(sents), epochs, seed=0)
    oof: list[list[float] | None] = [None] * len(sents)
    for k in range(folds):
        wk = fit(stage1_examples([s for i, s in enumerate(sents) if i % folds != k]), epochs, seed=k + 1)
        for i in range(k, len(sents), folds):
            oof[i] = stage1_scores(wk, [t for t, _ in sents[i]])
    examples = []
    for s, s1 in zip(sents, oof):
        toks = [t for t, _ in s]
        stems = [pii_names.stem(t.lower()) for t in toks]
        named = pii_names.named_stem_counts(stems, s1)
        examples += [
            (
                pii_names.stage1_features(toks, i)
                + pii_names.stage2_extra_features(toks, i, s1, named, stems),
                1 if gold else -1,
            )
            for i, (t, gold) in enumerate(s)
            if pii_names.is_candidate(t)
        ]
    w2 = fit(examples, epochs, seed=100)
    return pii_names.NameTagger(w1, w2)


def feature_scores(tagger: pii_names.NameTagger, toks: list[str]) -> list[float]:
    """Stage-2 scores summed from the feature lists, as training sees them (NameTagger.score must agree)."""
    s1 = stage1_scores(tagger.stage1, toks)
    stems = [pii_names.stem(t.lower()) for t in toks]
    named = pii_names.named_stem_counts(stems, s1)
    w2 = tagger.stage2
    return [
        sum(
            w2.get(x, 0.0)
            for x in pii_names.stage1_features(toks, i)
            + pii_names.stage2_extra_features(toks, i, s1, named, stems)
        )
        if pii_names.is_candidate(t)
        else pii_names.NOT_CANDIDATE
        for i, t in enumerate(toks)
    ]


def tally(counts: Counter, masked: list[bool], sent: list[tuple[str, bool]], changed: bool) -> None:
    """Add one sentence to `counts`: true/false positives and misses over its PERSON tokens, and, for a
    sentence that names nobody, whether the masking `changed` it."""
    counts["tp"] += sum(m and g for m, (_, g) in zip(masked, sent))
    counts["fp"] += sum(m and not g for m, (_, g) in zip(masked, sent))
    counts["fn"] += sum(g and not m for m, (_, g) in zip(masked, sent))
    if not any(g for _, g in sent):
        counts["clean_sentences"] += 1
        counts["clean_changed"] += changed


def rates(counts: Counter) -> dict[str, float]:
    """Precision, recall and the share of clean sentences changed, from `tally`'s counts."""
    return {
        "precision": counts["tp"] / max(1, counts["tp"] + counts["fp"]),
        "recall": counts["tp"] / max(1, counts["tp"] + counts["fn"]),
        "clean_changed": counts["clean_changed"] / max(1, counts["clean_sentences"]),
    }


def token_counts(tagger: pii_names.NameTagger, sents, slow: bool = False) -> Counter:
    counts: Counter = Counter()
    for s in sents:
        toks = [t for t, _ in s]
        scores = feature_scores(tagger, toks) if slow else tagger.score(toks)
        pred = [x > tagger.threshold for x in scores]
        tally(counts, pred, s, any(pred))
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=KAZNERD / "IOB2_valid.txt")
    ap.add_argument("--out", type=Path, default=pii_names.MODEL_PATH)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--folds", type=int, default=5, help="out-of-fold stage-1 predictions for stage 2")
    ap.add_argument("--cv", type=int, default=0, help="only report K-fold cross-validation on --data")
    ap.add_argument(
        "--threshold",
        type=float,
        default=-2.0,
        help="score above which a token is a name (-2: the best precision/recall balance in --cv 5)",
    )
    ap.add_argument(
        "--slow", action="store_true", help="with --cv: score from the feature lists, not NameTagger"
    )
    args = ap.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data}: no such file (KazNERD valid lives in ../shared/data/kaznerd)")
    sents = read_conll(args.data)
    if args.cv:
        # Contiguous blocks, not shuffled sentences: KazNERD keeps an article's sentences together, and a
        # shuffled split puts the same people on both sides (much higher, misleading figures).
        total: Counter = Counter()
        size = -(-len(sents) // args.cv)
        for k in range(args.cv):
            held = sents[k * size : (k + 1) * size]
            tagger = train(sents[: k * size] + sents[(k + 1) * size :], args.epochs, args.folds)
            tagger.threshold = args.threshold
            total += token_counts(tagger, held, slow=args.slow)
            print(f"fold {k}: {dict(total)}", flush=True)
        r = rates(total)
        print(
            f"cv precision {r['precision']:.4f} recall {r['recall']:.4f} "
            f"clean changed {r['clean_changed']:.4f}"
        )
        return
    tagger = train(sents, args.epochs, args.folds)
    blob = {
        "format": 1,
        "trained_on": f"KazNERD {args.data.name}",
        "trained_on_sha256": hashlib.sha256(args.data.read_bytes()).hexdigest(),
        "licence_of_training_data": "CC BY 4.0 (KazNERD, IS2AI)",
        "epochs": args.epochs,
        "folds": args.folds,
        "threshold": args.threshold,
        "stage1": tagger.stage1,
        "stage2": tagger.stage2,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(args.out, "wb", mtime=0) as f:  # mtime=0: the same weights give the same bytes
        f.write(json.dumps(blob, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode())
    with gzip.GzipFile(pii_names.LOWERCASE_WORDS, "wb", mtime=0) as f:
        f.write("".join(w + "\n" for w in sorted(lowercase_words(sents))).encode())
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB; "
        f"{len(tagger.stage1)} + {len(tagger.stage2)} weights)"
    )


if __name__ == "__main__":
    main()
