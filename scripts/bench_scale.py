"""Benchmark at corpus scale: the whole data flow on gigabytes, stage by stage,
against datatrove's stock pipeline.

    python scripts/bench_scale.py [--sizes 0.25,0.5,1,2] [--work runs/bench_scale] [--tasks 2]

Per size (GB of generated text, scripts/make_scale_corpus.py, seeded, generated once and kept in --work):
- kazllm: `kazllm prep` (read -> normalise -> language ID -> quality -> de-personalise -> exact dedup ->
  MinHash -> write), `kazllm tokenizer train` on the kept text, `kazllm pretokenize`; each a real CLI run in
  a fresh process, `--tasks` workers.
- reference: datatrove's stock pipeline on the same corpus and cores: JsonlReader -> GopherRepetition +
  GopherQuality + FineWebQuality at FineWeb-2 kaz_Cyrl thresholds (scripts/bench_prep.py's reference, given
  kazllm's Kazakh word tokenizer, since datatrove's downloads at run time) -> JsonlWriter, then its four
  MinHash stages with MinhashConfig defaults; and raw `tokenizers` `encode_batch` over the kept text with the
  same tokenizer (scripts/bench_tokenize.py's reference) for pretokenise.
Measured per run: wall time, CPU time, peak RSS of the largest process, disk used, documents/s, and seconds
per GB of each stage (prep's own per-stage wall times, prep/logs/stage_seconds.json). Near duplicates: the
share of planted pairs (truth.jsonl) of which exactly one document survives, and the false merges (documents
dropped as duplicates that no plant put there).

Prints a table per size, then `linearity <largest relative deviation of any stage's seconds per GB from its
value at the smallest size>` and, last, `ratio <kazllm / datatrove end-to-end prep throughput at the largest
size>`. Results also go to --work/results.json. The sizes the issue names take hours here: the default is
them, and `--sizes 0.01` is a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "text_mix"
sys.path.insert(0, str(REPO))


def measure(cmd: list[str], log: Path, env: dict | None = None, every: float = 0.2) -> dict:
    """Run `cmd` (output to `log`), sampling its whole process tree: wall time, CPU time summed over every
    process seen, and the peak RSS of the largest one. Sampled with psutil (a DeepSpeed dependency), since
    the kernel's RUSAGE_CHILDREN misses pool workers that are never waited for, and only ever grows."""
    import psutil

    cpu: dict[int, float] = {}
    peak = 0
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for p in tree:
                try:
                    with p.oneshot():
                        t = p.cpu_times()
                        cpu[p.pid] = t.user + t.system
                        peak = max(peak, p.memory_info().rss)
                except psutil.NoSuchProcess:
                    pass
            time.sleep(every)
        rc = proc.wait()
    if rc != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        sys.exit(
            f"{' '.join(map(str, cmd[:4]))} ... failed (exit {rc}); last lines of {log}:\n" + "\n".join(tail)
        )
    return {"wall_s": time.perf_counter() - started, "cpu_s": sum(cpu.values()), "peak_rss_mb": peak / 1e6}


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6 if path.exists() else 0.0


# ---------------------------------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------------------------------
def corpus_for(work: Path, size_gb: float, seed: int, data: Path) -> Path:
    out = work / f"corpus_{size_gb:g}gb"
    manifest = out / "manifest.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        if m.get("size_gb") == size_gb and m.get("seed") == seed:
            return out
    shutil.rmtree(out, ignore_errors=True)
    from scripts.make_scale_corpus import generate

    shard_mb = max(8, min(128, int(size_gb * 1000 / 16)))  # at least 16 files, so every task has work
    print(f"generating {size_gb} GB corpus in {out} ...", file=sys.stderr)
    generate(out, size_gb, seed=seed, shard_mb=shard_mb, data=data, progress=False)
    return out


def kazllm_runs(corpus: Path, run_dir: Path, tasks: int, logs: Path) -> dict:
    """kazllm prep, tokenizer train and pretokenize on `corpus`, each through the real CLI."""
    shutil.rmtree(run_dir, ignore_errors=True)
    kazllm = [sys.executable, "-m", "kazllm.cli"]
    common = [
        f"run.out_dir={run_dir}",
        f"prep.inputs=[{{path: {corpus / 'corpus'}, format: jsonl, name: scale}}]",
        f"prep.executor.tasks={tasks}",
        f"prep.executor.workers={tasks}",
        f"pretokenize.workers={tasks}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = {"prep": measure([*kazllm, "prep", *common], logs / "kazllm_prep.log", env)}
    stats = json.loads((run_dir / "prep" / "stats.json").read_text())
    out["prep"]["stages"] = json.loads((run_dir / "prep" / "logs" / "stage_seconds.json").read_text())
    out["prep"]["documents_in"], out["prep"]["documents_kept"] = (
        stats["documents_in"],
        stats["documents_kept"],
    )
    out["prep"]["disk_mb"] = disk_mb(run_dir / "prep")
    out["tokenizer"] = measure([*kazllm, "tokenizer", "train", *common], logs / "kazllm_tokenizer.log", env)
    out["pretokenize"] = measure([*kazllm, "pretokenize", *common], logs / "kazllm_pretokenize.log", env)
    out["pretokenize"]["disk_mb"] = disk_mb(run_dir / "shards")
    return out


def datatrove_stock(corpus: Path, out: Path, tasks: int) -> dict[str, float]:
    """The reference pipeline, stage by stage (run in its own process by `--datatrove-run`)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from data_prep.kk_words import KazakhWordTokenizer
    from scripts.bench_prep import reference_pipeline

    mh = MinhashConfig()
    filtered, logs = out / "filtered", out / "logs"
    stages = [
        ("1_filter", reference_pipeline(corpus / "corpus", filtered), tasks),
        (
            "2_minhash_signatures",
            [
                JsonlReader(str(filtered)),
                MinhashDedupSignature(str(out / "sigs"), mh, language=KazakhWordTokenizer()),
            ],
            tasks,
        ),
        (
            "3_minhash_buckets",
            [MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=mh)],
            mh.num_buckets,
        ),
        (
            "4_minhash_cluster",
            [MinhashDedupCluster(str(out / "buckets"), str(out / "clusters"), config=mh)],
            1,
        ),
        (
            "5_minhash_filter",
            [
                JsonlReader(str(filtered)),
                MinhashDedupFilter(str(out / "clusters")),
                JsonlWriter(str(out / "kept"), compression=None),
            ],
            tasks,
        ),
    ]
    seconds = {}
    for name, pipeline, n in stages:
        t = time.perf_counter()
        LocalPipelineExecutor(
            pipeline=pipeline,
            tasks=n,
            workers=min(n, tasks),
            logging_dir=str(logs / name),
            skip_completed=False,
        ).run()
        seconds[name] = time.perf_counter() - t
    return seconds


def reference_runs(corpus: Path, out: Path, tasks: int, logs: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    run = measure(
        [sys.executable, __file__, "--datatrove-run", str(corpus), str(out), str(tasks)],
        logs / "datatrove.log",
        {**os.environ, "OMP_NUM_THREADS": "1"},
    )
    run["stages"] = json.loads((out / "stages.json").read_text())
    run["disk_mb"] = disk_mb(out)
    return run


def raw_encode(run_dir: Path, tasks: int) -> float:
    """Seconds for raw encode_batch over the kept text with the run's tokenizer
    (bench_tokenize's reference)."""
    from scripts.bench_tokenize import raw_processes

    texts = [
        json.loads(line)["text"]
        for f in sorted((run_dir / "prep" / "kept").glob("*.jsonl"))
        for line in f.open(encoding="utf-8")
    ]
    seconds, _ = raw_processes(str(run_dir / "tokenizer" / "hf" / "tokenizer.json"), texts, tasks, 256)
    return seconds


def near_duplicates(corpus: Path, run_dir: Path) -> dict:
    """Planted duplicate pairs with exactly one survivor, and dedup drops that no plant explains."""
    truth = [json.loads(line) for line in (corpus / "truth.jsonl").open(encoding="utf-8")]
    dropped: dict[str, str] = {}
    for f in (run_dir / "prep" / "rejected").glob("*.jsonl"):
        for line in f.open(encoding="utf-8"):
            row = json.loads(line)
            dropped[row["id"]] = (row.get("metadata") or {}).get("filter_reason", "")
    pairs = [t for t in truth if t["kind"] == "near_dup"]
    planted = {t["id"] for t in truth if t["kind"] in ("near_dup", "exact_dup")} | {
        t["of"] for t in truth if t["kind"] in ("near_dup", "exact_dup")
    }
    bands: dict[str, list[int]] = {label: [0, 0] for label, _ in JACCARD_BANDS}
    for t in pairs:
        a, b = dropped.get(t["of"], ""), dropped.get(t["id"], "")
        if (a and not a.startswith("dedup")) or (b and not b.startswith("dedup")):
            continue  # one of the two went for another reason (a junk original, a quality drop)
        label = next(label for label, low in JACCARD_BANDS if t["jaccard"] >= low)
        bands[label][0] += 1
        bands[label][1] += bool(a) != bool(b)
    dedup_drops = [i for i, reason in dropped.items() if reason.startswith("dedup")]
    false = [i for i in dedup_drops if i not in planted]
    judged, found = sum(n for n, _ in bands.values()), sum(f for _, f in bands.values())
    at_target = [bands[label] for label, low in JACCARD_BANDS if low >= NEAR_DUP_TARGET_JACCARD]
    n_target, f_target = sum(n for n, _ in at_target), sum(f for _, f in at_target)
    return {
        "near_pairs": judged,
        "near_found": found / judged if judged else None,
        "near_pairs_at_target": n_target,
        "near_found_at_target": f_target / n_target if n_target else None,
        "bands": {
            label: {"pairs": n, "found": f / n if n else None, "lsh_probability": lsh_probability(low)}
            for (label, low), (n, f) in zip(JACCARD_BANDS, bands.values())
        },
        "false_merges": len(false),
        "false_merge_share": len(false) / max(1, len(dedup_drops)),
    }


# Recall is judged per band of the copy's measured word 5-gram Jaccard similarity (truth.jsonl), since
# MinHash finds a pair with a probability that depends on it (lsh_probability); the target (>= 95%) is on
# pairs at or above NEAR_DUP_TARGET_JACCARD.
JACCARD_BANDS = [
    ("J >= 0.9", 0.9),
    ("0.85 <= J < 0.9", 0.85),
    ("0.8 <= J < 0.85", 0.8),
    ("0.75 <= J < 0.8", 0.75),
    ("J < 0.75", 0.0),
]
NEAR_DUP_TARGET_JACCARD = 0.8


def lsh_probability(jaccard: float) -> float:
    """Chance that prep's MinHash LSH (prep.dedup buckets x hashes_per_bucket) pairs two documents of this
    Jaccard similarity: 1 - (1 - J^r)^b."""
    from kazllm.config import DedupSection

    d = DedupSection()
    return 1 - (1 - jaccard**d.hashes_per_bucket) ** d.buckets


# ---------------------------------------------------------------------------------------------------
def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--datatrove-run":  # the reference, in its own measured process
        corpus, out, tasks = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
        (out / "stages.json").write_text(json.dumps(datatrove_stock(corpus, out, tasks)))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="0.25,0.5,1,2", help="corpus sizes in GB, comma-separated")
    parser.add_argument(
        "--work", type=Path, default=REPO / "runs" / "bench_scale", help="corpora, runs, logs"
    )
    parser.add_argument("--tasks", type=int, default=2, help="workers per stage = cores used")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data", type=Path, default=SHARED, help="folder with kk.txt, ru.txt, en.txt (the corpus' source)"
    )
    args = parser.parse_args()
    if not (args.data / "kk.txt").is_file():
        sys.exit(f"needs {args.data}/kk.txt (the shared text_mix corpus; see --data)")
    sizes = sorted(float(x) for x in args.sizes.split(",") if x.strip())
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in sizes:
        corpus = corpus_for(args.work, size, args.seed, args.data)
        logs = args.work / f"logs_{size:g}gb"
        logs.mkdir(exist_ok=True)
        ours = kazllm_runs(corpus, args.work / f"kazllm_{size:g}gb", args.tasks, logs)
        ref = reference_runs(corpus, args.work / f"datatrove_{size:g}gb", args.tasks, logs)
        gb = json.loads((corpus / "manifest.json").read_text())["text_bytes"] / 1e9
        encode_s = raw_encode(args.work / f"kazllm_{size:g}gb", args.tasks)
        row = {
            "size_gb": size,
            "tasks": args.tasks,
            "text_gb": gb,
            "kazllm": ours,
            "datatrove": ref,
            "raw_encode_s": encode_s,
            "dedup": near_duplicates(corpus, args.work / f"kazllm_{size:g}gb"),
        }
        results.append(row)
        print_size(row)
    (args.work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    reference, reference_where = linearity(results, side="datatrove")
    print(f"datatrove's largest growth of seconds per GB: {reference:.3f} ({reference_where})")
    worst, where = linearity(results)
    print(f"largest growth of seconds per GB: {where}")
    print(f"linearity {worst:.3f}")
    last = results[-1]
    print(f"ratio {last['datatrove']['wall_s'] / last['kazllm']['prep']['wall_s']:.3f}")


def per_gb_table(row: dict) -> dict[str, float]:
    """Seconds per GB of every stage of both sides (the stages linearity is judged on)."""
    gb, ours = row["text_gb"], row["kazllm"]
    out = {f"kazllm prep {k}": v / gb for k, v in ours["prep"]["stages"].items()}
    out["kazllm tokenizer train"] = ours["tokenizer"]["wall_s"] / gb
    out["kazllm pretokenize"] = ours["pretokenize"]["wall_s"] / gb
    out.update({f"datatrove {k}": v / gb for k, v in row["datatrove"]["stages"].items()})
    return out


def linearity(results: list[dict], side: str = "kazllm") -> tuple[float, str]:
    """The largest growth of any of `side`'s stages' seconds per GB over its value at the smallest size, and
    the stage. The verdict is on kazllm's stages (the issue's target); datatrove's are printed beside it.

    Growth is what non-linear cost looks like (a quadratic step, memory pressure); a stage whose time per GB
    falls with size is paying a fixed start-up once (sub-second stages at the smallest size), which is not."""
    first = per_gb_table(results[0])
    worst, where = 0.0, "-"
    for row in results[1:]:
        for stage, value in per_gb_table(row).items():
            if stage.startswith(side) and first.get(stage) and value / first[stage] - 1 > worst:
                worst, where = value / first[stage] - 1, f"{stage} at {row['size_gb']:g} GB"
    return worst, where


def print_size(row: dict) -> None:
    gb, ours, ref = row["text_gb"], row["kazllm"], row["datatrove"]
    prep = ours["prep"]
    print(f"\n## {row['size_gb']:g} GB ({gb:.3f} GB of text, {prep['documents_in']:,} documents)")
    print("| run | wall s | CPU s | peak RSS MB | disk MB | docs/s |")
    print("|---|---|---|---|---|---|")
    for name, r in (
        ("kazllm prep", prep),
        ("kazllm tokenizer train", ours["tokenizer"]),
        ("kazllm pretokenize", ours["pretokenize"]),
        ("datatrove stock prep", ref),
    ):
        docs = f"{prep['documents_in'] / r['wall_s']:,.0f}" if "prep" in name else ""
        print(
            f"| {name} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | "
            f"{r.get('disk_mb', 0):.0f} | {docs} |"
        )
    print(f"| raw encode_batch (reference of pretokenize) | {row['raw_encode_s']:.1f} | | | | |")
    print("\n| stage | s/GB |\n|---|---|")
    for stage, value in per_gb_table(row).items():
        print(f"| {stage} | {value:.1f} |")
    d = row["dedup"]
    found = f"{d['near_found']:.3f}" if d["near_found"] is not None else "n/a"
    print(
        f"\nnear duplicates found {found} of {d['near_pairs']} planted pairs; "
        f"false merges {d['false_merges']} ({d['false_merge_share']:.4f} of dedup drops)"
    )
    if d.get("bands"):
        at = d["near_found_at_target"]
        print(
            f"at Jaccard >= {NEAR_DUP_TARGET_JACCARD}: found {at if at is None else round(at, 4)} of "
            f"{d['near_pairs_at_target']} pairs"
        )
        print(
            "| measured Jaccard | pairs | found | MinHash LSH probability at the band's floor |\n"
            "|---|---|---|---|"
        )
        for label, band in d["bands"].items():
            f = "n/a" if band["found"] is None else f"{band['found']:.3f}"
            print(f"| {label} | {band['pairs']} | {f} | {band['lsh_probability']:.3f} |")
    print(
        f"prep end to end: kazllm {gb / prep['wall_s'] * 1000:.1f} MB/s "
        f"vs datatrove {gb / ref['wall_s'] * 1000:.1f} MB/s; "
        f"pretokenize {row['raw_encode_s'] / ours['pretokenize']['wall_s']:.3f}x raw encode_batch"
    )


if __name__ == "__main__":
    main()
