r"""Tokenizer fertility on unseen news text: plain sentencepiece BPE (defaults) vs ours, at 48k.

    PYTHONPATH=. nice python scripts/tokenizer_fertility.py [--shared ../shared/data] [--variants]

Training text: ../shared/data text_mix kk/ru/en, the Tatoeba Kazakh sides, KazNERD sentences and
KazQAD contexts, with every NTREX-128 line removed (text_mix contains NTREX) and the WMT19 en-kk Kazakh
side too (a translation of the same news). Test text: NTREX-128 newstest2019-ref.kaz / ref.rus / src.eng.
Words are `\w+` runs. Both tokenizers see the same lines. With --variants it also trains the single-choice
variants we measured. The last line is `ratio <ours kk tokens/word / baseline kk tokens/word>`.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

import sentencepiece as spm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data_prep.tokenizer import WORD, run_tokenizer_train  # noqa: E402
from kazllm.config import load_config  # noqa: E402

TRAIN = {
    "kk": [
        "text_mix/kk.txt",
        "tatoeba_kaz_test/kaz-rus/tatoeba-test-v2021-08-07.kaz",
        "tatoeba_kaz_test/eng-kaz/tatoeba-test-v2021-08-07.kaz",
    ],
    "ru": ["text_mix/ru.txt"],
    "en": ["text_mix/en.txt"],
}
# More Kazakh: KazNERD sentences (rejoined from its token-per-line files) and KazQAD contexts.
KAZNERD = ["kaznerd/IOB2_test.txt", "kaznerd/IOB2_valid.txt"]
KAZQAD = "kazqad/reading-comprehension"
TEST = {
    "kk": "ntrex128/newstest2019-ref.kaz.txt",
    "ru": "ntrex128/newstest2019-ref.rus.txt",
    "en": "ntrex128/newstest2019-src.eng.txt",
}
HELD_OUT = [*TEST.values(), "wmt19_kk_en/en-kk/newstest2019.kk"]
# ours: what the measurements below chose (see docs/tokenizer.md)
# (since issue 11 these are the config defaults: OURS only sets the size)
OURS = ["tokenizer.vocab_size=48000", "tokenizer.parity_lines=3000"]
EARLIER = ["tokenizer.vocab_size=48000", "tokenizer.split_by_whitespace=true"]
VARIANTS = {
    "earlier defaults (script split, 0.9995)": [
        *EARLIER,
        "tokenizer.split_by_script=true",
        "tokenizer.character_coverage=0.9995",
    ],
    "+ split_by_script=false": [*EARLIER, "tokenizer.character_coverage=0.9995"],
    "+ split_by_script=false, coverage 1.0": EARLIER,
    "ours + max_piece_length 24": [*OURS, "tokenizer.max_piece_length=24"],
    "ours + ru/en upsampled x2": [*OURS, "tokenizer.max_upsample=2"],
    "ours balanced (9 MB sample, ru/en up to x2)": [
        *OURS,
        "tokenizer.max_bytes=9000000",
        "tokenizer.max_upsample=2",
    ],
    "ours balanced (9 MB sample, ru/en up to x3)": [
        *OURS,
        "tokenizer.max_bytes=9000000",
        "tokenizer.max_upsample=3",
    ],
}


def kaznerd_sentences(path: Path) -> list[str]:
    """KazNERD's IOB2 files hold one token per line: rejoin each sentence, punctuation attached."""
    sentences, tokens = [], []
    for line in open(path, encoding="utf-8"):
        if line.strip():
            tokens.append(line.rstrip("\n").rsplit(" ", 1)[0])
        elif tokens:
            text = re.sub(r"([(«]) ", r"\1", re.sub(r" ([.,!?;:)»])", r"\1", " ".join(tokens)))
            sentences.append(text)
            tokens = []
    return sentences


def kazqad_paragraphs(path: Path) -> list[str]:
    """Distinct KazQAD reading-comprehension contexts (Kazakh Wikipedia), one paragraph per line."""
    contexts = dict.fromkeys(json.loads(line).get("context", "") for line in open(path, encoding="utf-8"))
    return [p for c in contexts for p in c.split("\n") if p.strip()]


def extra_kazakh_lines(shared: Path) -> list[str]:
    lines = [s for rel in KAZNERD for s in kaznerd_sentences(shared / rel)]
    return lines + [p for path in sorted((shared / KAZQAD).glob("*.jsonl")) for p in kazqad_paragraphs(path)]


def build_training_files(shared: Path, work: Path) -> list[str]:
    held = set()
    for rel in HELD_OUT:
        held |= {line.strip() for line in open(shared / rel, encoding="utf-8") if line.strip()}
    specs = []
    for lang, files in TRAIN.items():
        lines = [line.rstrip("\n") for rel in files for line in open(shared / rel, encoding="utf-8")]
        if lang == "kk":
            lines += extra_kazakh_lines(shared)
        kept = [line for line in lines if line.strip() and line.strip() not in held]
        (work / f"{lang}.txt").write_text("\n".join(kept) + "\n", encoding="utf-8")
        specs.append(f"{lang}={work / f'{lang}.txt'}")
        print(
            f"train {lang}: {len(kept)} lines, {sum(len(x.encode()) for x in kept) / 1e6:.2f} MB", flush=True
        )
    return specs


def fertility(model: Path, shared: Path) -> dict[str, float]:
    sp = spm.SentencePieceProcessor(model_file=str(model))
    out = {}
    for lang, rel in TEST.items():
        lines = [line.rstrip("\n") for line in open(shared / rel, encoding="utf-8")]
        out[lang] = sum(len(x) for x in sp.encode(lines)) / sum(len(WORD.findall(x)) for x in lines)
    return out


def train_baseline(specs: list[str], work: Path) -> Path:
    """sentencepiece BPE with its defaults (nmt_nfkc, no byte fallback, digits merged), same lines."""
    text = work / "baseline_input.txt"
    with open(text, "w", encoding="utf-8") as f:
        for spec in specs:
            f.write(Path(spec.split("=", 1)[1]).read_text(encoding="utf-8"))
    spm.SentencePieceTrainer.train(
        input=str(text),
        model_prefix=str(work / "baseline"),
        model_type="bpe",
        vocab_size=48000,
        num_threads=2,
        minloglevel=2,
    )
    return work / "baseline.model"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--variants", action="store_true", help="also train the single-choice variants")
    ap.add_argument("--keep", metavar="DIR", help="keep our tokenizer in DIR (for `kazllm tokenizer report`)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    shared = Path(args.shared)
    if not (shared / "text_mix").is_dir():
        sys.exit(f"no ../shared corpora at {shared}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        specs = build_training_files(shared, work)
        t0 = time.perf_counter()
        rows["spm BPE defaults (baseline)"] = fertility(train_baseline(specs, work), shared)
        print(f"baseline trained in {time.perf_counter() - t0:.0f} s", flush=True)
        todo = {"ours": OURS, **(VARIANTS if args.variants else {})}
        for name, overrides in todo.items():
            cfg = load_config(None, overrides)
            out = Path(args.keep) if args.keep and name == "ours" else work / f"tok{len(rows)}"
            t0 = time.perf_counter()
            run_tokenizer_train(cfg, inputs=specs, out_dir=out)
            rows[name] = fertility(out / "spm.model", shared)
            print(f"{name}: trained + exported + parity in {time.perf_counter() - t0:.0f} s", flush=True)
    print("\n| tokenizer (48k, NTREX-128 tokens/word) | kk | ru | en |\n|---|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['kk']:.3f} | {r['ru']:.3f} | {r['en']:.3f} |")
    print(f"ratio {rows['ours']['kk'] / rows['spm BPE defaults (baseline)']['kk']:.4f}")


if __name__ == "__main__":
    main()
