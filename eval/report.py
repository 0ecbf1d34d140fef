"""Readable outputs: report.md for one run, and `kazllm eval compare` across runs (checkpoints or models).

kazllm eval compare runs/a/eval runs/b/eval --out runs/compare [--significance]
-> compare.md, compare.json and one PNG bar chart per metric (tasks on the x axis, one bar per run, 95%
   error bars); warnings where runs differ in items, shots, prompts or data; with --significance a
   paired test of every run against the first on the items both scored
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kazllm.artifacts import iter_jsonl, read_json, write_json
from kazllm.errors import InputError
from kazllm.eval_metrics import LOWER_IS_BETTER


def headline_metrics(results: dict) -> dict[str, dict[str, float]]:
    """Numeric metrics per task (signatures and other strings left out)."""
    return {
        name: {k: v for k, v in t["metrics"].items() if isinstance(v, (int, float))}
        for name, t in results["tasks"].items()
    }


def ci95(task: dict, metric: str) -> float | None:
    """Half the width of the metric's 95% interval as results.json records it (1.96 stderr for a mean,
    sacrebleu's bootstrap for chrF++/BLEU), or None (perplexity, or a run from before intervals)."""
    entry = (task.get("confidence") or {}).get(metric)
    return entry["ci95"] if entry else None


def identity_line(ident: dict) -> str:
    """What was scored, labelled truthfully: a system's output file, a hub model at its commit,
    a directory."""
    for kind in ("hypotheses", "predictions"):
        if kind in ident:
            return f"{kind} file sha256 `{ident.get('sha256')}`"
    hub = f"hub id `{ident['hub_id']}` at commit `{ident.get('revision')}`, " if ident.get("hub_id") else ""
    return f"{hub}weights sha256 `{ident.get('sha256') or 'n/a'}`"


def render_report(results: dict) -> str:
    lines = [
        f"# Evaluation of `{results['model']}`",
        "",
        f"Created {results['created']}, seed {results.get('seed')}, "
        f"{identity_line(results.get('model_identity', {}))}.",
        "",
        "| task | type | n | shots | metric | value | ± 95% | stderr |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, scores in headline_metrics(results).items():
        t = results["tasks"][name]
        for metric, value in scores.items():
            arrow = " (lower is better)" if metric in LOWER_IS_BETTER else ""
            half, se = ci95(t, metric), (t.get("stderr") or {}).get(metric)
            lines.append(
                f"| {name} | {t['type']} | {t['n']} | {t.get('num_fewshot', 0)} | {metric}{arrow} "
                f"| {value:.4f} | {_num(half)} | {_num(se)} |"
            )
    lines += [
        "",
        "± 95%: half the width of the 95% interval; acc, acc_norm, exact_match, f1: 1.96 × the standard",
        "error lm-evaluation-harness reports (stderr); chrF++, BLEU: sacrebleu's bootstrap (`--confidence`).",
    ]
    sigs = [(n, t["signatures"]) for n, t in results["tasks"].items() if t.get("signatures")]
    if sigs:
        lines += ["", "## sacrebleu signatures", ""]
        lines += [f"- {n} {metric}: `{sig}`" for n, s in sigs for metric, sig in s.items()]
        boots = [
            (n, m, c)
            for n, t in results["tasks"].items()
            for m, c in (t.get("confidence") or {}).items()
            if c.get("method") == "bootstrap"
        ]
        lines += [
            f"- {n} {m} interval: μ = {c['mean']:.4f} ± {c['ci95']:.4f}, `{c['signature']}`"
            for n, m, c in boots
        ]
    lines += [
        "",
        "Every item's prompt, prediction, reference and score is in samples.jsonl; data and model",
        "hashes, versions and timings are in results.json.",
        "",
    ]
    return "\n".join(lines)


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


# -- compare ---------------------------------------------------------------------------------------------
def _results_file(path: Path) -> Path:
    path = Path(path)
    return path if path.suffix == ".json" else path / "results.json"


def _load_run(path: Path) -> dict:
    file = _results_file(path)
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


def _data_hashes(task: dict) -> tuple:
    """The data a task read, independent of where the files lay: their sha256s and any dataset id."""
    data = task.get("data") or {}
    return tuple(sorted((data.get("files_sha256") or {}).values())), json.dumps(
        data.get("dataset"), sort_keys=True
    )


# What a run records about a task that must agree for two scores to be comparable, and how to show it.
COMPARABLE = (
    ("n", "n", lambda t: t.get("n"), lambda v: str(v)),
    (
        "shots",
        "few-shot examples",
        lambda t: (t.get("num_fewshot"), t.get("fewshot_indices")),
        lambda v: f"{v[0]} {v[1]}",
    ),
    ("prompt", "prompts (prompts_sha256)", lambda t: t.get("prompts_sha256"), lambda v: str(v)[:12]),
    ("data", "data sha256", _data_hashes, lambda v: ",".join(h[:12] for h in v[0]) or v[1]),
)


def comparability_warnings(labels: list[str], runs: list[dict]) -> list[dict]:
    """One warning per task and property (n, shots, prompt, data) on which the runs that scored the task
    differ; a property a run does not record (an older results.json) is not compared."""
    warnings = []
    tasks = dict.fromkeys(name for r in runs for name in r["tasks"])
    for task in tasks:
        having = [(lb, r["tasks"][task]) for lb, r in zip(labels, runs) if task in r["tasks"]]
        for key, what, get, show in COMPARABLE:
            values = {lb: get(t) for lb, t in having}
            if key == "prompt":
                values = {lb: v for lb, v in values.items() if v}
            if len({json.dumps(v, sort_keys=True) for v in values.values()}) > 1:
                warnings.append(
                    {
                        "task": task,
                        "differs": key,
                        "values": values,
                        "message": f"{task}: the runs differ in {what}: "
                        + ", ".join(f"{lb} {show(v)}" for lb, v in values.items()),
                    }
                )
    return warnings


def _samples(path: Path, task: str) -> dict[int, dict]:
    file = _results_file(path).parent / "samples.jsonl"
    if not file.is_file():
        raise InputError(
            f"{path}: no samples.jsonl beside results.json (the significance test needs every item)"
        )
    return {s["index"]: s for s in iter_jsonl([file]) if s.get("task") == task}


def significance_tests(
    run_dirs: list[Path], labels: list[str], runs: list[dict]
) -> tuple[list[dict], list[str]]:
    """Every run against the first (the baseline) on each task both scored, item by item: translation by
    sacrebleu's paired bootstrap of chrF++ and BLEU; acc, acc_norm, exact_match and f1 by the same paired
    bootstrap of the per-item scores, and the 0/1 ones by exact McNemar too. Only on the same items with
    the same references; otherwise the task is skipped with a note. Perplexity is not tested."""
    from eval.metrics import mcnemar_exact, paired_bootstrap_mean, paired_bootstrap_translation

    rows, notes = [], []
    base_dir, base_label, base = run_dirs[0], labels[0], runs[0]
    for run_dir, label, run in zip(run_dirs[1:], labels[1:], runs[1:]):
        for task, t in run["tasks"].items():
            if task not in base["tasks"]:
                continue
            if t["type"] == "perplexity":
                notes.append(f"{task}: perplexity is not tested for significance")
                continue
            a, b = _samples(base_dir, task), _samples(run_dir, task)
            if sorted(a) != sorted(b) or any(
                json.dumps(a[i]["reference"]) != json.dumps(b[i]["reference"]) for i in a
            ):
                notes.append(
                    f"{task}: {base_label} and {label} did not score the same items with the same "
                    "references; not tested"
                )
                continue
            order = sorted(a)
            common = {"task": task, "baseline": base_label, "system": label, "n": len(order)}
            if t["type"] == "translation":
                tests = paired_bootstrap_translation(
                    [a[i]["prediction"] for i in order],
                    [b[i]["prediction"] for i in order],
                    [a[i]["reference"] for i in order],
                )
                for metric, res in tests.items():
                    rows.append(
                        {
                            **common,
                            "metric": metric,
                            "baseline_value": base["tasks"][task]["metrics"][metric],
                            "system_value": t["metrics"][metric],
                            "test": "sacrebleu paired bootstrap",
                            **res,
                        }
                    )
                continue
            for metric in t["metrics"]:
                if metric not in a[order[0]]["score"] or metric not in b[order[0]]["score"]:
                    continue
                xs, ys = [a[i]["score"][metric] for i in order], [b[i]["score"][metric] for i in order]
                res = paired_bootstrap_mean(xs, ys)
                row = {
                    **common,
                    "metric": metric,
                    "baseline_value": base["tasks"][task]["metrics"][metric],
                    "system_value": t["metrics"][metric],
                    "test": "paired bootstrap",
                    **res,
                }
                if metric != "f1":  # 0/1 per item
                    row["mcnemar_p_value"] = mcnemar_exact(xs, ys)
                rows.append(row)
    return rows, notes


def compare_runs(run_dirs: list[Path], out_dir: Path, significance: bool = False) -> dict:
    """Table (Markdown + JSON) of every task/metric across runs with n and 95% intervals, warnings where
    runs are not comparable, one bar chart per metric with error bars, and with `significance` paired
    tests of every run against the first."""
    if not run_dirs:
        raise InputError("eval compare needs at least one run directory")
    if significance and len(run_dirs) < 2:
        raise InputError("eval compare --significance needs two runs or more (the first is the baseline)")
    runs = [_load_run(p) for p in run_dirs]
    labels = _labels(run_dirs)
    rows: dict[tuple[str, str], dict] = {}
    for label, res in zip(labels, runs):
        for task, scores in headline_metrics(res).items():
            t = res["tasks"][task]
            for metric, value in scores.items():
                row = rows.setdefault((task, metric), {"values": {}, "ci95": {}, "n": {}})
                row["values"][label], row["ci95"][label], row["n"][label] = value, ci95(t, metric), t.get("n")
    table = [
        {"task": t, "metric": m, "lower_is_better": m in LOWER_IS_BETTER, **v} for (t, m), v in rows.items()
    ]
    warnings = comparability_warnings(labels, runs)
    tests, notes = significance_tests(run_dirs, labels, runs) if significance else ([], [])
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "runs": [
            {
                "label": lb,
                "path": str(Path(p).resolve()),
                "model": r["model"],
                "model_sha256": r.get("model_sha256"),
            }
            for lb, p, r in zip(labels, run_dirs, runs)
        ],
        "table": table,
        "warnings": warnings,
        **({"significance": tests, "significance_notes": notes} if significance else {}),
    }
    write_json(out_dir / "compare.json", summary)
    md = [
        "# kazllm eval compare",
        "",
        *[f"- **{r['label']}**: `{r['model']}` ({r['path']})" for r in summary["runs"]],
        "",
    ]
    if warnings:
        md += [
            "**Warning: some scores are not comparable.**",
            "",
            *[f"- {w['message']}" for w in warnings],
            "",
        ]
    md += ["| task | metric | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for row in table:
        arrow = " ↓" if row["lower_is_better"] else ""
        cells = [_cell(row, lb) for lb in labels]
        md.append(f"| {row['task']} | {row['metric']}{arrow} | " + " | ".join(cells) + " |")
    md += [
        "",
        "Cells: value ± half the 95% interval (1.96 × stderr for means, "
        "sacrebleu's bootstrap for chrF++/BLEU),",
        "n = items scored. ↓: lower is better. Charts: "
        + ", ".join(f"`{c}`" for c in _charts(table, labels, out_dir)),
        "",
    ]
    if significance:
        md += _significance_md(tests, notes, labels[0])
    (out_dir / "compare.md").write_text("\n".join(md), encoding="utf-8")
    return summary


def _cell(row: dict, label: str) -> str:
    if label not in row["values"]:
        return "–"
    half = row["ci95"].get(label)
    return (
        f"{row['values'][label]:.4f}"
        + (f" ± {half:.4f}" if half is not None else "")
        + f" (n {row['n'][label]})"
    )


def _significance_md(tests: list[dict], notes: list[str], baseline: str) -> list[str]:
    md = [
        f"## Paired significance against {baseline}",
        "",
        "| task | metric | system | baseline | system value | Δ | p (paired bootstrap) | p (McNemar) | n |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in tests:
        delta = r["system_value"] - r["baseline_value"]
        mark = " *" if r["p_value"] < 0.05 else ""
        mc = f"{r['mcnemar_p_value']:.4f}" if "mcnemar_p_value" in r else "–"
        md.append(
            f"| {r['task']} | {r['metric']} | {r['system']} | {r['baseline_value']:.4f} "
            f"| {r['system_value']:.4f} | {delta:+.4f} | {r['p_value']:.4f}{mark} | {mc} | {r['n']} |"
        )
    md += [
        "",
        "Paired bootstrap: 1000 resamples of the items (sacrebleu's `--paired-bs` for chrF++/BLEU; the same",
        "resampling of per-item scores for the others), seed 12345 (SACREBLEU_SEED); * p < 0.05. "
        "McNemar: exact,",
        "two-sided, for 0/1 per-item scores.",
        *[f"- {n}" for n in notes],
        "",
    ]
    return md


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
            errors = [r["ci95"].get(label) or 0.0 for r in rows]  # 95% interval half-widths
            ax.bar(
                xs, [r["values"].get(label, 0.0) for r in rows], width, label=label, yerr=errors, capsize=2
            )
        ax.set_xticks(range(len(rows)), [r["task"] for r in rows], rotation=20, ha="right", fontsize=8)
        ax.set_title(metric + (" (lower is better)" if metric in LOWER_IS_BETTER else ""))
        ax.legend(fontsize=7)
        fig.tight_layout()
        names.append(chart_name(metric))
        fig.savefig(out_dir / names[-1], dpi=110)
        plt.close(fig)
    return names
