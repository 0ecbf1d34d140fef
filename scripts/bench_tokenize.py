"""Benchmark: `kazllm pretokenize` vs the raw `tokenizers` batch encoder on the same text and cores,
and token-shard reading speed.

    python scripts/bench_tokenize.py [--mb 16] [--workers 2] [--repeats 3]

Text: real Kazakh, Russian and English from ../shared/data/text_mix (20-line documents, kk:ru:en
6:2:2), else the bundled sample corpus; `--mb` MiB of it as a prepared (kept) JSONL. A sentencepiece
tokenizer (vocab 8000) is trained on it first with `kazllm`'s own tokenizer stage (not timed).
- reference: raw `Tokenizer.encode_batch` (batches of 256, `.ids` taken) over the same documents with
  the same cores, texts already in memory, the best of two layouts: `--workers` processes with one
  thread each (timed from a common start to the last one done), and one process whose Rust thread
  pool has `--workers` threads.
- ours: the whole `run_pretokenize` path with `--workers` worker processes: plan units, start the
  processes, read and parse the JSONL, encode, write .bin/.idx/.grp shards with checksums, the manifest.
Each side runs `--repeats` times, interleaved, and its best time counts (the machine is shared).
Shard reading: tokens/s of one process reading random seq_len windows (`TokenShardReader.sequence`
into a fresh array), whole documents, and the training loader's micro-batches.
The last line is `ratio <ours/reference throughput>`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "text_mix"
sys.path.insert(0, str(REPO))


# ---------------------------------------------------------------------------------------------------
# The corpus and the tokenizer
# ---------------------------------------------------------------------------------------------------


def make_kept_corpus(path: Path, megabytes: float) -> int:
    """A kept JSONL of `megabytes` MiB of 20-line documents; returns the number of documents."""
    if SHARED.is_dir():
        sources = {
            lang: (SHARED / f"{lang}.txt").read_text(encoding="utf-8").split("\n")
            for lang in ("kk", "ru", "en")
        }
        plan = (("kk", 6), ("ru", 2), ("en", 2))
    else:
        lines = [
            ln
            for f in sorted((REPO / "data" / "sample" / "corpus").rglob("*"))
            if f.is_file()
            for ln in f.read_text(encoding="utf-8", errors="replace").split("\n")
            if ln.strip()
        ]
        sources, plan = {"kk": lines}, (("kk", 1),)
    path.parent.mkdir(parents=True, exist_ok=True)
    budget, size, i = int(megabytes * 2**20), 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while size < budget:
            for lang, weight in plan:
                lines = sources[lang]
                for _ in range(weight):
                    start = (i * 20) % max(1, len(lines) - 20)
                    rec = {
                        "id": f"{lang}-{i}",
                        "text": "\n".join(lines[start : start + 20]),
                        "metadata": {"source": f"text_mix_{lang}", "language": lang},
                    }
                    line = json.dumps(rec, ensure_ascii=False) + "\n"
                    f.write(line)
                    size += len(line.encode("utf-8"))
                    i += 1
    return i


def prepare_run(run_dir: Path, megabytes: float):
    from data_prep.tokenizer import run_tokenizer_train
    from kazllm.artifacts import write_stage_manifest
    from kazllm.config import load_config

    cfg = load_config(
        None,
        [
            f"run.out_dir={run_dir}",
            "tokenizer.vocab_size=8000",
            "tokenizer.max_sentences=20000",
            "tokenizer.parity_lines=200",
            "pretokenize.unit_mb=1",
            "pretokenize.val_fraction=0.01",
        ],
    )
    docs = make_kept_corpus(cfg.stage_dir("prep") / "kept" / "000_kept_00000.jsonl", megabytes)
    write_stage_manifest(cfg, "prep", note="bench_tokenize corpus", documents=docs)
    run_tokenizer_train(cfg)
    return cfg


# ---------------------------------------------------------------------------------------------------
# Reference: raw encode_batch on texts in memory
# ---------------------------------------------------------------------------------------------------


def _raw_worker(args) -> tuple[float, float, int]:
    tokenizer_path, texts, batch_size, start_at = args
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    while time.time() < start_at:  # everyone starts together, after loading
        time.sleep(0.001)
    t0 = time.time()
    n = 0
    for i in range(0, len(texts), batch_size):
        n += sum(len(e.ids) for e in tok.encode_batch(texts[i : i + batch_size], add_special_tokens=False))
    return t0, time.time(), n


def raw_processes(tokenizer_path: str, texts: list[str], workers: int, batch_size: int) -> tuple[float, int]:
    parts = [texts[i::workers] for i in range(workers)]
    with get_context("spawn").Pool(workers) as pool:
        start_at = time.time() + 3.0  # time to start the processes and ship the texts
        results = pool.map(_raw_worker, [(tokenizer_path, p, batch_size, start_at) for p in parts])
    return max(r[1] for r in results) - min(r[0] for r in results), sum(r[2] for r in results)


def raw_threads(tokenizer_path: str, texts: list[str], workers: int, batch_size: int) -> tuple[float, int]:
    """One process, the Rust thread pool on `workers` threads (set before the pool exists: see main)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    t0, n = time.perf_counter(), 0
    for i in range(0, len(texts), batch_size):
        n += sum(len(e.ids) for e in tok.encode_batch(texts[i : i + batch_size], add_special_tokens=False))
    return time.perf_counter() - t0, n


# ---------------------------------------------------------------------------------------------------
# Ours, and reading
# ---------------------------------------------------------------------------------------------------


def ours(cfg, workers: int) -> tuple[float, int]:
    from data_prep.pretokenize import run_pretokenize

    shutil.rmtree(cfg.stage_dir("shards"), ignore_errors=True)
    t0 = time.perf_counter()
    result = run_pretokenize(cfg, workers=workers)
    elapsed = time.perf_counter() - t0
    splits = result["splits"].values()
    # the reference encodes bare text: each document's EOS, and its BOS where the tokenizer has one, excluded
    added_per_document = 1 + (result.get("bos_id") is not None)
    return elapsed, sum(s["tokens"] - added_per_document * s["documents"] for s in splits)


def reading(shards_dir: Path, seq_len: int = 2048) -> dict[str, float]:
    import numpy as np

    from kazllm.data import SequenceLoader
    from kazllm.shards import TokenShardReader

    reader = TokenShardReader(shards_dir, "train")
    n = reader.num_sequences(seq_len)
    order = np.random.default_rng(0).permutation(n)
    out = {}
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        total = sum(len(np.array(reader.sequence(int(i), seq_len))) for i in order)
        best = max(best, total / (time.perf_counter() - t0))
    out["random windows"] = best
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        total = sum(len(np.array(reader.document(i))) for i in range(reader.num_documents))
        best = max(best, total / (time.perf_counter() - t0))
    out["documents"] = best
    for masking in (False, True):
        loader = SequenceLoader(reader, seq_len, 8, 0, 1, seed=0, document_masking=masking)
        steps = max(1, n // 8)
        loader.next_micro_batch()  # the torch import
        t0 = time.perf_counter()
        for _ in range(steps):
            loader.next_micro_batch()
        out[f"loader micro-batches{' + position_ids' if masking else ''}"] = (
            steps * 8 * (seq_len + 1) / (time.perf_counter() - t0)
        )
    return out


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: less disturbed by other jobs than wall time."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=16.0, help="MiB of kept JSONL to encode")
    ap.add_argument(
        "--workers", type=int, default=len(os.sched_getaffinity(0)), help="processes / cores on both sides"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the temporary run directory")
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.workers)  # the thread-pool layout of the reference
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from kazllm.artifacts import iter_jsonl

    tmp = Path(tempfile.mkdtemp(prefix="bench_tokenize_"))
    try:
        print(f"preparing {args.mb} MiB of kept documents and a tokenizer in {tmp} ...", flush=True)
        cfg = prepare_run(tmp / "run", args.mb)
        tok_path = str(cfg.stage_dir("tokenizer") / "hf" / "tokenizer.json")
        texts = [r["text"] for r in iter_jsonl(sorted((cfg.stage_dir("prep") / "kept").glob("*.jsonl")))]
        bs = cfg.pretokenize.batch_size
        best = {"raw processes": float("inf"), "raw threads": float("inf"), "ours": float("inf")}
        best_cpu = dict(best)
        tokens = {}
        for r in range(args.repeats):
            for name, fn in (
                ("raw processes", lambda: raw_processes(tok_path, texts, args.workers, bs)),
                ("raw threads", lambda: raw_threads(tok_path, texts, args.workers, bs)),
                ("ours", lambda: ours(cfg, args.workers)),
            ):
                cpu0 = cpu_seconds()
                elapsed, n = fn()
                cpu = cpu_seconds() - cpu0
                tokens[name] = n
                best[name] = min(best[name], elapsed)
                best_cpu[name] = min(best_cpu[name], cpu)
                print(
                    f"  repeat {r + 1}: {name:14s} {elapsed:7.2f} s  "
                    f"{n / elapsed / args.workers / 1e6:.3f} M tokens/s/core"
                    f"  ({cpu:.2f} CPU s, start-up included)",
                    flush=True,
                )
        assert len(set(tokens.values())) == 1, f"the sides encoded different token counts: {tokens}"
        n = tokens["ours"]
        ref_name = min(("raw processes", "raw threads"), key=best.get)
        per_core = {k: n / v / args.workers for k, v in best.items()}
        print(
            f"\n{len(texts)} documents, {args.mb} MiB, {n} tokens, {args.workers} cores, "
            f"best of {args.repeats}"
        )
        for k, v in per_core.items():
            print(f"{k:14s} {v / 1e6:8.3f} M tokens/s per core ({best[k]:.2f} s)")
        print(f"reference = {ref_name}")
        cpu_ref = min(("raw processes", "raw threads"), key=best_cpu.get)
        print(
            f"tokens per CPU second: ours {n / best_cpu['ours'] / 1e6:.3f} M, "
            f"{cpu_ref} {n / best_cpu[cpu_ref] / 1e6:.3f} M "
            f"-> CPU-time ratio {best_cpu[cpu_ref] / best_cpu['ours']:.3f}"
        )
        print("\nshard reading, one process (target >= 50 M tokens/s):")
        for k, v in reading(cfg.stage_dir("shards")).items():
            print(f"  {k:38s} {v / 1e6:9.1f} M tokens/s")
        print(f"ratio {per_core['ours'] / per_core[ref_name]:.3f}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
