"""Score person-name masking on KazNERD test (token level, PERSON tags), kazllm beside airlock-pii.

    python scripts/eval_pii_names.py [--data ../shared/data/kaznerd/IOB2_test.txt] [--show 0]

The tagger (data_prep/pii_names.py) is trained on KazNERD valid only (scripts/train_name_tagger.py); this
script reads the test half, which nothing was tuned on. Each sentence's tokens are joined with single
spaces (KazNERD ships tokens, not running text), the text is masked, and a token counts as masked when a
masked span overlaps it. Printed for each system:
- precision and recall over tokens tagged B-PERSON / I-PERSON;
- the share of sentences with no PERSON tag that the masking changed at all (names only, and for kazllm
  also the whole `full` policy, identifiers included);
- throughput of the name finder on that text, MB/s (UTF-8) on one core.
airlock-pii (Apache-2.0, `pip install airlock-pii==0.1.0`, the `bench-pii` extra) is the public package
for Kazakh PII; its PERSON entities are scored the same way. It is skipped with a note when not installed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data_prep.deidentify import Deidentifier  # noqa: E402
from data_prep.pii_names import find_names  # noqa: E402
from scripts.train_name_tagger import rates, read_conll, tally  # noqa: E402

KAZNERD_TEST = REPO.parent / "shared" / "data" / "kaznerd" / "IOB2_test.txt"
Finder = Callable[[str], list[tuple[int, int]]]


def sentence_text(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    offsets, pos = [], 0
    for t in tokens:
        offsets.append((pos, pos + len(t)))
        pos += len(t) + 1
    return " ".join(tokens), offsets


def score(finder: Finder, sents, show: int = 0, label: str = "") -> dict:
    counts: Counter = Counter()
    shown = 0
    for s in sents:
        text, offsets = sentence_text([t for t, _ in s])
        spans = finder(text)
        masked = [any(a < e and s0 < b for a, b in spans) for s0, e in offsets]
        tally(counts, masked, s, bool(spans))
        if shown < show and any(m != g for m, (_, g) in zip(masked, s)):
            shown += 1
            marks = " ".join(f"[{t}]" if m else t for m, (t, _) in zip(masked, s))
            gold = " ".join(f"<{t}>" if g else t for t, g in s)
            print(f"  {label} got : {marks}\n  {label} gold: {gold}")
    return {**counts, **rates(counts)}  # the share of clean sentences changed, not their count


def throughput(finder: Finder, texts: list[str]) -> float:
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    t0 = time.perf_counter()
    for t in texts:
        finder(t)
    return n_bytes / 1e6 / (time.perf_counter() - t0)


def kazllm_names(text: str) -> list[tuple[int, int]]:
    return [(a, b) for a, b, _ in find_names(text)]


_FULL = Deidentifier("full")


def kazllm_full(text: str) -> list[tuple[int, int]]:
    return [(a, b) for a, b, _ in _FULL.spans(text)]


def airlock_finder() -> Finder | None:
    try:
        import airlock_pii
    except ImportError:
        return None
    person = airlock_pii.EntityType.PERSON
    return lambda text: [(e.start, e.end) for e in airlock_pii.detect(text, types=person)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=KAZNERD_TEST)
    ap.add_argument("--show", type=int, default=0, help="print this many sentences kazllm got wrong")
    args = ap.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data}: no such file (KazNERD lives in ../shared/data/kaznerd)")
    sents = read_conll(args.data)
    n_person = sum(g for s in sents for _, g in s)
    print(f"KazNERD {args.data.name}: {len(sents)} sentences, {n_person} PERSON tokens")
    docs = [" ".join(t for s in sents[i : i + 20] for t, _ in s) for i in range(0, len(sents), 20)]
    rows = [("kazllm names", kazllm_names), ("kazllm full policy", kazllm_full)]
    airlock = airlock_finder()
    if airlock is not None:
        rows.append(("airlock-pii 0.1.0", airlock))
    print("| system | precision | recall | clean sentences changed | MB/s |\n|---|---|---|---|---|")
    for name, finder in rows:
        r = score(finder, sents, args.show if name == "kazllm names" else 0, name)
        mbs = throughput(finder, docs)
        print(
            f"| {name} | {r['precision']:.4f} | {r['recall']:.4f} | {r['clean_changed']:.4f} "
            f"({round(r['clean_changed'] * r['clean_sentences'])}/{r['clean_sentences']}) | {mbs:.2f} |",
            flush=True,
        )
    if airlock is None:
        print("airlock-pii not installed (pip install airlock-pii==0.1.0): its row is left out")


if __name__ == "__main__":
    main()
