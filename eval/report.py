"""Readable outputs: report.md for one run, and `kazllm eval compare` across runs (checkpoints or models).

    kazllm eval compare runs/a/eval runs/b/eval --out runs/compare
    -> compare.md, compare.json and one PNG bar chart per metric (tasks on the x axis, one bar per run)
"""

from __future__ import annotations

import re
from pathlib import Path

from kazllm.artifacts import read_json, write_json
from kazllm.errors import InputError

# Higher is better for every metric except these (shown in the tables so nobody has to guess).
LOWER_IS_BETTER = {"bits_per_byte", "token_perplexity", "word_perplexity", "tokens_per_byte"}


def headline_metrics(results: dict) -> dict[str, dict[str, float]]:
    """Numeric metrics per task (signatures and other strings left out)."""
    return {name: {k: v for k, v in t["metrics"].items() if isinstance(v, (int, float))}
            for name, t in results["tasks"].items()}


def identity_line(ident: dict) -> str:
    """What was scored, labelled truthfully: a system's hypotheses file, a hub model at its commit, a directory."""
    if "hypotheses" in ident:
        return f"hypotheses file sha256 `{ident.get('sha256')}`"
    hub = f"hub id `{ident['hub_id']}` at commit `{ident.get('revision')}`, " if ident.get("hub_id") else ""
    return f"{hub}weights sha256 `{ident.get('sha256') or 'n/a'}`"


def render_report(results: dict) -> str:
    lines = [f"# Evaluation of `{results['model']}`", "",
             f"Created {results['created']}, seed {results.get('seed')}, {identity_line(results.get('model_identity', {}))}.", "",
             "| task | type | n | shots | metric | value |", "|---|---|---|---|---|---|"]
    for name, scores in headline_metrics(results).items():
        t = results["tasks"][name]
        for metric, value in scores.items():
            arrow = " (lower is better)" if metric in LOWER_IS_BETTER else ""
            lines.append(f"| {name} | {t['type']} | {t['n']} | {t.get('num_fewshot', 0)} | {metric}{arrow} | {value:.4f} |")
    sigs = [(n, t["signatures"]) for n, t in results["tasks"].items() if t.get("signatures")]
    if sigs:
        lines += ["", "## sacrebleu signatures", ""]
        lines += [f"- {n} {metric}: `{sig}`" for n, s in sigs for metric, sig in s.items()]
    lines += ["", "Every item's prompt, prediction, reference and score is in samples.jsonl; data and model",
              "hashes, versions and timings are in results.json.", ""]
    return "\n".join(lines)


# -- compare ---------------------------------------------------------------------------------------------
def _load_run(path: Path) -> dict:
    path = Path(path)
    file = path if path.suffix == ".json" else path / "results.json"
    if not file.is_file():
        raise InputError(f"{path}: no results.json (is it a `kazllm eval` output directory?)")
    return read_json(file)


def _labels(paths: list[Path]) -> list[str]:
    """Short, unique run labels: the directory name, or its parent's for a run's eval/ directory."""
    labels = []
    for p in paths:
        p = Path(p).resolve()
        p = p.parent if p.name == "results.json" else p
        p = p.parent if p.name == "eval" else p
        label, k = p.name, 2
        while label in labels:
            label, k = f"{p.name}#{k}", k + 1
        labels.append(label)
    return labels


def compare_runs(run_dirs: list[Path], out_dir: Path) -> dict:
    """Table (Markdown + JSON) of every task/metric across runs and one bar chart per metric."""
    if not run_dirs:
        raise InputError("eval compare needs at least one run directory")
    runs = [_load_run(p) for p in run_dirs]
    labels = _labels(run_dirs)
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for label, res in zip(labels, runs):
        for task, scores in headline_metrics(res).items():
            for metric, value in scores.items():
                rows.setdefault((task, metric), {})[label] = value
    table = [{"task": t, "metric": m, "lower_is_better": m in LOWER_IS_BETTER, "values": v}
             for (t, m), v in rows.items()]
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"runs": [{"label": lb, "path": str(Path(p).resolve()), "model": r["model"],
                         "model_sha256": r.get("model_sha256")} for lb, p, r in zip(labels, run_dirs, runs)],
               "table": table}
    write_json(out_dir / "compare.json", summary)
    md = ["# kazllm eval compare", "", *[f"- **{r['label']}**: `{r['model']}` ({r['path']})" for r in summary["runs"]],
          "", "| task | metric | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for row in table:
        arrow = " ↓" if row["lower_is_better"] else ""
        cells = [f"{row['values'][lb]:.4f}" if lb in row["values"] else "–" for lb in labels]
        md.append(f"| {row['task']} | {row['metric']}{arrow} | " + " | ".join(cells) + " |")
    md += ["", "↓: lower is better. Charts: " + ", ".join(f"`{c}`" for c in _charts(table, labels, out_dir)), ""]
    (out_dir / "compare.md").write_text("\n".join(md), encoding="utf-8")
    return summary


def chart_name(metric: str) -> str:
    return "metric_" + re.sub(r"[^A-Za-z0-9]+", "_", metric.replace("++", "pp")).strip("_") + ".png"


def _charts(table: list[dict], labels: list[str], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    names = []
    for metric in dict.fromkeys(r["metric"] for r in table):
        rows = [r for r in table if r["metric"] == metric]
        width = 0.8 / len(labels)
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(rows) * max(1, len(labels)) / 2 + 2), 3.6))
        for k, label in enumerate(labels):
            xs = [i + (k - (len(labels) - 1) / 2) * width for i in range(len(rows))]
            ax.bar(xs, [r["values"].get(label, 0.0) for r in rows], width, label=label)
        ax.set_xticks(range(len(rows)), [r["task"] for r in rows], rotation=20, ha="right", fontsize=8)
        ax.set_title(metric + (" (lower is better)" if metric in LOWER_IS_BETTER else ""))
        ax.legend(fontsize=7)
        fig.tight_layout()
        names.append(chart_name(metric))
        fig.savefig(out_dir / names[-1], dpi=110)
        plt.close(fig)
    return names
