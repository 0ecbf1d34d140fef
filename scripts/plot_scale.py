"""Draw the corpus-scale curves of scripts/bench_scale.py: seconds per GB of every stage, and peak memory per
process, against corpus size (docs/scaling.md shows the picture).

    python scripts/plot_scale.py [--results runs/bench_scale/results.json] [--out docs/img/scale.png]

Flat lines are the claim: a stage whose seconds per GB rise with size is not linear, a process whose memory
rises with size does not fit a worker of fixed size at the national corpus's scale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.bench_scale import per_gb_table  # noqa: E402  (one definition of a stage's seconds per GB)

# Stages that take under a second at every size are start-up only; plotting them would only show noise.
MIN_SECONDS_TO_PLOT = 1.0
MEMORY_RUNS = {
    "kazllm prep (largest worker)": ("kazllm", "prep"),
    "kazllm tokenizer train": ("kazllm", "tokenizer"),
    "kazllm pretokenize": ("kazllm", "pretokenize"),
    "datatrove stock prep": ("datatrove", None),
}


def plot(results: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    sizes = [r["size_gb"] for r in results]
    fig, (speed, memory) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
    tables = [per_gb_table(r) for r in results]
    for stage in tables[0]:
        seconds = [t.get(stage, float("nan")) * r["text_gb"] for t, r in zip(tables, results)]
        if max(seconds) < MIN_SECONDS_TO_PLOT:
            continue
        style = "--" if stage.startswith("datatrove") else "-"
        speed.plot(sizes, [t.get(stage, float("nan")) for t in tables], style, marker="o", label=stage)
    for side, style in (("kazllm", "-"), ("datatrove", "--")):
        wall = [
            (r["kazllm"]["prep"] if side == "kazllm" else r["datatrove"])["wall_s"] / r["text_gb"]
            for r in results
        ]
        speed.plot(
            sizes,
            wall,
            style,
            marker="s",
            linewidth=2.5,
            color="black" if side == "kazllm" else "grey",
            label=f"{side} prep, end to end",
        )
    speed.set(
        xscale="log",
        xlabel="corpus size, GB of text (log)",
        ylabel="seconds per GB (2 cores)",
        title="Time per GB by stage: flat = linear",
    )
    speed.set_ylim(bottom=0)
    speed.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for label, (side, run) in MEMORY_RUNS.items():
        rss = [(r[side][run] if run else r[side])["peak_rss_mb"] for r in results]
        memory.plot(sizes, rss, marker="o", label=label)
    memory.set(
        xscale="log",
        yscale="log",
        xlabel="corpus size, GB of text (log)",
        ylabel="peak RSS, MB (log)",
        title="Peak memory of the largest process",
    )
    memory.legend(fontsize=8)
    for axes in (speed, memory):  # the measured sizes as ticks, no log-scale minor labels between them
        axes.xaxis.set_minor_locator(NullLocator())
        axes.set_xticks(sizes, [f"{s:g}" for s in sizes])
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=REPO / "runs" / "bench_scale" / "results.json")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "scale.png")
    args = parser.parse_args()
    if not args.results.is_file():
        sys.exit(f"{args.results}: no results; run scripts/bench_scale.py first")
    print(plot(json.loads(args.results.read_text(encoding="utf-8")), args.out))


if __name__ == "__main__":
    main()
