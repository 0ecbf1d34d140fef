"""A Slurm CPU plan for the national corpus, extrapolated from the corpus-scale measurements.

    python scripts/plan_scale.py [--results runs/bench_scale/results.json] [--corpus-gb 10,100,1000]
                                 [--node-cores 64] [--hours 4]

From scripts/bench_scale.py's largest size: each stage's core-seconds per GB (its wall time per GB times the
workers that ran it at once: 2, or 1 for the single-task stages) and disk per GB. For each corpus size it
prints, per stage, the Slurm tasks, the nodes and the wall time, then the totals and the executor settings
(configs keys) that give them. Nodes are chosen so that prep's parallel stages take about --hours.

What the extrapolation assumes (docs/scaling.md says which measurement backs each):
- time per GB is constant in size (bench_scale's `linearity`), so core-seconds add up linearly;
- a parallel stage's tasks run at once on separate cores and read separate input files (datatrove gives
  each task whole files: the raw corpus must come in at least as many files as tasks);
- 6_minhash_buckets runs one task per bucket (prep.dedup.buckets, 14), 3_exact_find and 7_minhash_cluster
  one task: their wall time is their core time;
- tokenizer training reads the whole kept corpus once more (linear, fitted on the two largest sizes) and
  then trains on a sample whose size is fixed by tokenizer.max_bytes, not by the corpus;
- the filesystem keeps up (1 TB means reading 1 TB and writing about the disk figure below; on Lustre at
  1-2 GB/s that is hours in itself, so the plan's wall time is a lower bound there).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kazllm.config import DedupSection  # noqa: E402

SINGLE_TASK_STAGES = ("3_exact_find", "7_minhash_cluster")
BUCKET_STAGE = "6_minhash_buckets"
MINHASH_BUCKETS = DedupSection().buckets  # prep.dedup.buckets' default: the parallelism of the bucket stage


def core_seconds_per_gb(row: dict) -> dict[str, float]:
    """Core-seconds per GB of text of each kazllm stage at one measured size (2 workers: wall x 2)."""
    # results.json from before the bench recorded its --tasks ran the default, 2
    gb, ours, workers = row["text_gb"], row["kazllm"], row.get("tasks", 2)
    out = {}
    for stage, seconds in ours["prep"]["stages"].items():
        concurrency = 1 if stage in SINGLE_TASK_STAGES else workers
        out[stage] = seconds * concurrency / gb
    out["pretokenize"] = ours["pretokenize"]["wall_s"] * workers / gb
    return out


def tokenizer_fit(results: list[dict]) -> tuple[float, float]:
    """(seconds per GB of reading, seconds of training on the capped sample) from the two largest sizes,
    where the sample is the same size (tokenizer.max_bytes caps it); one size: all of it counts as reading."""
    points = [(r["text_gb"], r["kazllm"]["tokenizer"]["wall_s"]) for r in results[-2:]]
    if len(points) < 2 or points[1][0] <= points[0][0]:
        gb, seconds = points[-1]
        return seconds / gb, 0.0
    (g1, t1), (g2, t2) = points
    slope = max((t2 - t1) / (g2 - g1), 0.0)
    return slope, max(t1 - slope * g1, 0.0)


def plan(results: list[dict], corpus_gb: float, node_cores: int, hours: float) -> dict:
    """Tasks, nodes and wall time per stage for `corpus_gb` GB of raw text on nodes of `node_cores` cores."""
    row = results[-1]
    per_gb = core_seconds_per_gb(row)
    parallel_core_s = (
        sum(v for k, v in per_gb.items() if k not in (*SINGLE_TASK_STAGES, BUCKET_STAGE, "pretokenize"))
        * corpus_gb
    )
    nodes = max(1, math.ceil(parallel_core_s / (node_cores * hours * 3600)))
    tasks = nodes * node_cores
    stages = []
    for stage, core_s in per_gb.items():
        width = (
            1
            if stage in SINGLE_TASK_STAGES
            else min(MINHASH_BUCKETS, tasks)
            if stage == BUCKET_STAGE
            else tasks
        )
        stages.append({"stage": stage, "tasks": width, "wall_s": core_s * corpus_gb / width})
    read_s_per_gb, train_s = tokenizer_fit(results)
    stages.append(
        {"stage": "tokenizer train (one node)", "tasks": 1, "wall_s": read_s_per_gb * corpus_gb + train_s}
    )
    prep_stage_s = max(s["wall_s"] for s in stages if s["stage"] in row["kazllm"]["prep"]["stages"])
    disk_gb = (
        (row["kazllm"]["prep"]["disk_mb"] + row["kazllm"]["pretokenize"].get("disk_mb", 0))
        / 1e3
        / row["text_gb"]
    )
    return {
        "corpus_gb": corpus_gb,
        "nodes": nodes,
        "tasks": tasks,
        "stages": stages,
        "wall_s": sum(s["wall_s"] for s in stages),
        "disk_gb": disk_gb * corpus_gb,
        "node_hours": nodes * sum(s["wall_s"] for s in stages) / 3600,
        # the limit of every prep job (prep.executor.slurm.time): twice the longest stage, at least an hour
        "job_time_s": max(3600, math.ceil(2 * prep_stage_s / 3600) * 3600),
    }


def hms(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def render(plans: list[dict], node_cores: int, measured_gb: float) -> str:
    head = "| stage | " + " | ".join(f"{p['corpus_gb']:g} GB: tasks, wall h:mm" for p in plans) + " |"
    lines = [
        f"Extrapolated from {measured_gb:g} GB measured on 2 cores; nodes of {node_cores} cores.",
        "",
        head,
        "|---|" + "---|" * len(plans),
    ]
    for i, stage in enumerate(plans[0]["stages"]):
        cells = [f"{p['stages'][i]['tasks']}, {hms(p['stages'][i]['wall_s'])}" for p in plans]
        lines.append(f"| {stage['stage']} | " + " | ".join(cells) + " |")
    lines.append(
        "| **nodes / whole flow wall** | "
        + " | ".join(f"**{p['nodes']} / {hms(p['wall_s'])}**" for p in plans)
        + " |"
    )
    lines.append("| node-hours | " + " | ".join(f"{p['node_hours']:.1f}" for p in plans) + " |")
    lines.append(
        "| disk (prep/ with work/, shards/) | " + " | ".join(f"{p['disk_gb']:,.0f} GB" for p in plans) + " |"
    )
    lines.append(
        "| `prep.executor` | "
        + " | ".join(
            f'`tasks: {p["tasks"]}, slurm: {{time: "{hms(p["job_time_s"])}:00", '
            f"cpus_per_task: 1, mem_per_cpu_gb: 2}}`"
            for p in plans
        )
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=REPO / "runs" / "bench_scale" / "results.json")
    parser.add_argument("--corpus-gb", default="10,100,1000", help="raw text sizes to plan for, GB")
    parser.add_argument("--node-cores", type=int, default=64, help="cores per CPU node (default 64)")
    parser.add_argument("--hours", type=float, default=4.0, help="target wall time of prep's parallel stages")
    args = parser.parse_args()
    if not args.results.is_file():
        sys.exit(f"{args.results}: no results; run scripts/bench_scale.py first")
    results = json.loads(args.results.read_text(encoding="utf-8"))
    plans = [plan(results, float(g), args.node_cores, args.hours) for g in args.corpus_gb.split(",")]
    print(render(plans, args.node_cores, results[-1]["size_gb"]))


if __name__ == "__main__":
    main()
