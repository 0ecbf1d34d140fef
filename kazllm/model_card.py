"""The model card of an export (README.md): Hub metadata and text, written by `kazllm export`, refreshed by
eval.

    write_model_card(cfg, export_dir, meta, results)  # kazllm export (results: eval/results.json, optional)
    update_model_card(export_dir, results)            # kazllm eval --update-card EXPORT_DIR
    set_card_repo_id(export_dir, "ORG/NAME")          # kazllm push --repo ORG/NAME
    card_license_problem(ModelCard.load(readme))      # why kazllm push refuses, or None

The card is a `huggingface_hub.ModelCard` built from `ModelCardData` and `EvalResult`s, never hand-made
YAML. Every figure comes from a file the run wrote (docs/hub.md lists which): checkpoints/manifest.json
and metrics.jsonl (training, compute), prep/datasheet.json (training data), shards/manifest.json (exact
tokens), tokenizer/manifest.json, checkpoints/init_from.json (base model) and eval's results.json
(model-index). The parts that later commands rewrite sit between HTML comment markers (<!-- kazllm:load -->,
<!-- kazllm:evaluation -->), so the rest of the text stays byte-identical.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from kazllm import __version__
from kazllm.artifacts import file_sha256, read_json, read_metrics, write_json, write_text_atomic
from kazllm.config import KazllmConfig, PrepSection, load_config
from kazllm.errors import ConfigError, InputError
from kazllm.eval_metrics import LOWER_IS_BETTER
from kazllm.hardware import GPUS
from kazllm.placeholders import PERSON, PLACEHOLDERS
from kazllm.plan import gpu_type, measured_mfu, power_per_gpu_kw

CARD_FILE = "README.md"
DEFAULT_LICENSE_NAME = "training-data-licences"
"""license_name of the placeholder licence (`license: other`) a card gets when export.license is empty."""
SOURCE_NAME = "kazllm eval"
LOAD_MARKERS = ("<!-- kazllm:load -->", "<!-- /kazllm:load -->")
EVAL_MARKERS = ("<!-- kazllm:evaluation -->", "<!-- /kazllm:evaluation -->")
# results.json task type -> Hub task id; results.json metric key -> Hub metric id (metric_name keeps the key).
TASK_TYPES = {
    "perplexity": "text-generation",
    "translation": "translation",
    "qa_extractive": "question-answering",
    "multiple_choice": "multiple-choice",
}
METRIC_TYPES = {
    "token_perplexity": "perplexity",
    "word_perplexity": "perplexity",
    "chrf++": "chrf",
    "acc": "accuracy",
    "acc_norm": "accuracy",
}
FORMAT_KINDS = {
    "warc": "web crawl (WARC)",
    "wikipedia": "Wikipedia dump",
    "pdf": "documents (PDF)",
    "docx": "documents (DOCX)",
}
DEMO_PARAMETERS = 50_000_000
"""Below this size the card says the model is a pipeline demo, not a language model to use."""


def default_repo_id(cfg: KazllmConfig) -> str:
    """export.repo_id, else kazllm/<export.model_name> (the config's documented default)."""
    return cfg.export.repo_id or f"kazllm/{cfg.export.model_name}"


def _optional_json(path: Path) -> dict:
    return read_json(path) if path.is_file() else {}


def _between(text: str, markers: tuple[str, str]) -> tuple[int, int] | None:
    """(start, end) of the text between a marker pair (markers excluded), or None when absent."""
    start, end = text.find(markers[0]), text.find(markers[1])
    if start < 0 or end < start:
        return None
    return start + len(markers[0]), end


def _replace_between(text: str, markers: tuple[str, str], inner: str) -> str:
    span = _between(text, markers)
    if span is None:
        raise InputError(f"the model card has no {markers[0]} ... {markers[1]} section to rewrite")
    return text[: span[0]] + inner + text[span[1] :]


# ---------------------------------------------------------------------------------------------------
# Model-index: results.json -> EvalResult, one per (task, numeric metric)
# ---------------------------------------------------------------------------------------------------


def _tasks(results: dict) -> dict[str, dict]:
    """results.json's tasks; a {task: {metric: value}} dict (eval.report.headline_metrics) also works."""
    if "tasks" in results:
        return results["tasks"]
    return {name: {"metrics": metrics} for name, metrics in results.items()}


def _dataset_fields(name: str, task: dict) -> dict:
    """A `datasets` source is named by its hub id, config, split and revision; local files by the task name,
    with a sha256 over the files' own digests as the revision (the exact data scored)."""
    data = task.get("data") or {}
    ds = data.get("dataset") or {}
    if ds.get("path"):
        return {
            "dataset_type": ds["path"],
            "dataset_name": ds["path"] + (f" ({ds['name']})" if ds.get("name") else ""),
            "dataset_config": ds.get("name") or None,
            "dataset_split": ds.get("split") or None,
            "dataset_revision": ds.get("revision") or None,
        }
    digests = list((data.get("files_sha256") or {}).values())
    revision = hashlib.sha256("\n".join(digests).encode()).hexdigest() if digests else None
    return {"dataset_type": name, "dataset_name": name, "dataset_revision": revision}


def _is_score(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def eval_results_of(results: dict, repo_id: str) -> list[EvalResult]:
    """One EvalResult per (task, numeric metric): task_name = the kazllm task, metric_name = the results.json
    key, metric_value = its value exactly, metric_config = the sacrebleu signature of a translation metric."""
    out = []
    for name, task in _tasks(results).items():
        signatures = task.get("signatures") or {}
        for metric, value in task["metrics"].items():
            if not _is_score(value):
                continue
            out.append(
                EvalResult(
                    task_type=TASK_TYPES.get(task.get("type"), "text-generation"),
                    task_name=name,
                    **_dataset_fields(name, task),
                    metric_type=METRIC_TYPES.get(metric, metric),
                    metric_name=metric,
                    metric_value=value,
                    metric_config=signatures.get(metric),
                    source_name=SOURCE_NAME,
                    source_url=f"https://huggingface.co/{repo_id}",
                )
            )
    return out


def _format_value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4f}"


def _evaluation_lines(results: dict) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Table rows and sacrebleu signature lines of the Evaluation section, per task."""
    rows: dict[str, list[str]] = {}
    sigs: dict[str, list[str]] = {}
    date = str(results.get("created", ""))[:10] or "n/a"
    for name, task in _tasks(results).items():
        for metric, value in task["metrics"].items():
            if _is_score(value):
                arrow = " (lower is better)" if metric in LOWER_IS_BETTER else ""
                rows.setdefault(name, []).append(
                    f"| {name} | {task.get('type', 'n/a')} | {task.get('n', 'n/a')} "
                    f"| {task.get('num_fewshot', 0)} "
                    f"| {metric}{arrow} | {_format_value(value)} | {date} |"
                )
        sigs[name] = [f"- {name} {metric}: `{sig}`" for metric, sig in (task.get("signatures") or {}).items()]
    return rows, sigs


def _existing_evaluation_lines(inner: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Read back the rows and signature lines this module wrote (first cell / first word = the task)."""
    rows: dict[str, list[str]] = {}
    sigs: dict[str, list[str]] = {}
    for line in inner.splitlines():
        if line.startswith("| ") and not line.startswith(("| task |", "|---")):
            rows.setdefault(line.split(" | ")[0][2:], []).append(line)
        elif line.startswith("- ") and "`" in line:
            sigs.setdefault(line[2:].split(" ")[0], []).append(line)
    return rows, sigs


def render_evaluation(rows: dict[str, list[str]], sigs: dict[str, list[str]]) -> str:
    """The text between the evaluation markers."""
    if not rows:
        return (
            "\nNot evaluated yet. `kazllm eval --update-card EXPORT_DIR` writes the scores here and into the "
            "card's `model-index`.\n"
        )
    lines = [
        "",
        "Scored with `kazllm eval` (tasks in eval/tasks/*.yaml, docs/eval.md); the card's `model-index` "
        "holds the same values unrounded. *items* is the number scored (a `--limit` run scores a subset); "
        "the `sample_*` tasks are smoke tests on the bundled sample, not benchmarks.",
        "",
        "| task | type | items | shots | metric | value | evaluated |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [row for task_rows in rows.values() for row in task_rows]
    signature_lines = [line for task in rows for line in sigs.get(task, [])]
    if signature_lines:
        lines += ["", "sacrebleu signatures:", "", *signature_lines]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------
# Facts of the run: base model, tokenizer, compute
# ---------------------------------------------------------------------------------------------------


def base_model_record(cfg: KazllmConfig) -> dict | None:
    """{"display", "repo_id", "revision"} of the base a continued run started from
    (checkpoints/init_from.json)."""
    record = _optional_json(cfg.stage_dir("checkpoints") / "init_from.json")
    if not record:
        return (
            {"display": cfg.model.init_from, "repo_id": None, "revision": None}
            if cfg.model.init_from
            else None
        )
    name = record.get("repo_id") or record.get("init_from")
    display = f"{name} (revision {record['revision']})" if record.get("revision") else name
    return {"display": display, "repo_id": record.get("repo_id"), "revision": record.get("revision")}


def tokenizer_description(tok: dict) -> str:
    """The tokenizer row: our sentencepiece tokenizer, or the base's tokenizer (extended or not)."""
    tpw = tok.get("kk_tokens_per_word")
    if tok.get("extended_from"):
        base = tok["extended_from"].get("repo_id") or tok["extended_from"].get("source")
        before = f" (base {tok['kk_tokens_per_word_base']})" if tok.get("kk_tokens_per_word_base") else ""
        return (
            f"{tok.get('model_type', 'bpe (extended)')}: the tokenizer of {base} with "
            f"{tok.get('added', 0):,} Kazakh pieces added (every old id kept), {tok['vocab_size']:,} tokens; "
            f"Kazakh tokens/word {tpw}{before}"
        )
    if tok.get("spm_model"):
        return (
            f"sentencepiece {tok['model_type']} with byte fallback, {tok['vocab_size']} pieces; "
            f"Kazakh tokens/word {tpw}"
        )
    return (
        f"{tok.get('model_type', 'the base model')} tokenizer, {tok['vocab_size']:,} tokens; "
        f"Kazakh tokens/word {tpw}"
    )


def compute_summary(cfg: KazllmConfig) -> dict:
    """Hardware, measured training-loop time, throughput, MFU and the energy estimate of the run.

    Time is the sum of the logged windows of metrics.jsonl (tokens in the window / its tokens_per_s): the
    training loop with validation, without start-up and checkpoint saves, and summed over resumed jobs.
    Energy = GPUs x kazllm.plan's power per GPU x hours x plan.pue, the formula `kazllm plan` uses.
    """
    ckpt_dir = cfg.stage_dir("checkpoints")
    summary = read_json(ckpt_dir / "manifest.json")["summary"]
    metrics_path = ckpt_dir / "metrics.jsonl"
    rows = [r for r in read_metrics(metrics_path) if "val_loss" not in r and r.get("tokens_per_s")]
    seconds, seen = 0.0, 0
    for row in rows:
        seconds += (row["tokens_seen"] - seen) / row["tokens_per_s"]
        seen = row["tokens_seen"]
    steady = rows[1:] or rows  # the first window holds compilation and warm-up
    device, count = summary.get("device"), int(summary.get("world_size", 1))
    out = {
        "device": device,
        "device_name": summary.get("device_name"),
        "count": count,
        "precision": summary.get("precision"),
        "hours": seconds / 3600,
        "gpu_type": None,
        "mfu": None,
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in steady) if steady else None,
        "gpu_hours": None,
        "energy_kwh": None,
        "kw_per_gpu": None,
        "pue": cfg.plan.pue,
    }
    if device != "cuda":
        return out
    out["gpu_type"] = gpu_type(out["device_name"] or "")
    out["gpu_hours"] = count * out["hours"]
    logged = [r["mfu"] for r in steady if _is_score(r.get("mfu")) and r["mfu"] > 0]
    if logged:
        out["mfu"] = statistics.median(logged)
    elif out["gpu_type"] and rows:
        out["mfu"] = measured_mfu(metrics_path, GPUS[out["gpu_type"]].peak_bf16_tflops)
    if out["gpu_type"] or cfg.plan.node_power_kw:
        out["kw_per_gpu"] = power_per_gpu_kw(cfg.plan, out["gpu_type"])
        out["energy_kwh"] = count * out["kw_per_gpu"] * out["hours"] * cfg.plan.pue
    return out


def render_compute(c: dict, base: dict | None) -> str:
    hours = f"{c['hours']:.3g} h ({c['hours'] * 3600:,.0f} s)"
    time_row = (
        f"| Training time | {hours} measured in the training loop (metrics.jsonl; start-up and checkpoint "
        "saves excluded) |"
    )
    throughput = f"{c['tokens_per_s']:,.0f} tokens/s" if c["tokens_per_s"] else "n/a"
    if c["device"] == "cuda":
        per_gpu = f" ({c['tokens_per_s'] / c['count']:,.0f} per GPU)" if c["tokens_per_s"] else ""
        kind = f" ({c['gpu_type']})" if c["gpu_type"] else ""
        mfu = f"{c['mfu']:.1%}" if c["mfu"] else "not measured"
        rows = [
            (
                f"| Hardware | {c['count']} x {c['device_name']}{kind}, "
                f"{c['precision'] or 'precision not recorded'} |"
            ),
            time_row,
            f"| GPU-hours | {c['gpu_hours']:.3g} ({c['count']} GPUs x {c['hours']:.3g} h) |",
            f"| Throughput | {throughput}{per_gpu}, median of the logged windows |",
            f"| MFU | {mfu} (model FLOPs 6N + attention over the GPU's peak dense bf16 FLOP/s) |",
        ]
        if c["energy_kwh"] is not None:
            rows.append(
                f"| Energy (estimate) | {c['energy_kwh']:.3g} kWh = {c['count']} GPUs x "
                f"{c['kw_per_gpu']:.4g} kW x {c['hours']:.3g} h x PUE {c['pue']}: an upper bound at the "
                "system's maximum power per GPU (kazllm.hardware.GPUS, the table `kazllm plan` uses), "
                "not a measurement |"
            )
        else:
            rows.append(
                f"| Energy (estimate) | none: {c['device_name']} has no power figure in "
                "kazllm.hardware.GPUS (set plan.node_power_kw to estimate it) |"
            )
    elif c["device"] == "cpu":
        rows = [
            f"| Hardware | trained on {c['count']} CPU processes; no GPU energy estimate |",
            time_row,
            f"| Throughput | {throughput} (all processes) |",
            "| MFU | n/a on CPU |",
        ]
    else:
        rows = [
            (
                f"| Hardware | not recorded ({c['count']} rank(s); the checkpoints manifest predates the "
                "device fields) |"
            ),
            time_row,
            f"| Throughput | {throughput} |",
        ]
    note = f"\n\nThe compute of {base['display']}'s own pretraining is not included." if base else ""
    return "| | |\n|---|---|\n" + "\n".join(rows) + note


# ---------------------------------------------------------------------------------------------------
# Training data: the datasheet, in the shape of the EU AI Act's public training-data summary
# ---------------------------------------------------------------------------------------------------


def _prep_section(cfg: KazllmConfig) -> PrepSection:
    """The prep settings that made the data: prep/resolved_config.yaml, else the run config's."""
    resolved = cfg.stage_dir("prep") / "resolved_config.yaml"
    try:
        return load_config(resolved).prep if resolved.is_file() else cfg.prep
    except ConfigError:  # written by another kazllm version: the run config describes the same stage
        return cfg.prep


def language_shares(sheet: dict, shards: dict) -> dict[str, float]:
    """Share of training tokens per language (shards/manifest.json), else of kept bytes (the datasheet)."""
    counts = {
        lang: row["tokens"]
        for lang, row in shards.get("splits", {}).get("train", {}).get("by_language", {}).items()
    }
    if not any(counts.values()):
        counts = {}
        for row in sheet.get("volume", []):
            counts[row["language"]] = counts.get(row["language"], 0) + row["bytes_kept"]
    total = sum(counts.values()) or 1
    shares = {lang: n / total for lang, n in counts.items() if n and re.fullmatch(r"[a-z]{2,3}", lang)}
    return dict(sorted(shares.items(), key=lambda kv: (kv[0] != "kk", -kv[1])))


def _counts(counts: dict, prefix: str = "") -> str:
    """'k n, k n' of a counter (of the reasons under `prefix:` when given), or 'none'."""
    hits = {k: v for k, v in counts.items() if not prefix or k.split(":")[0] == prefix}
    return ", ".join(f"{k} {v:,}" for k, v in hits.items()) or "none"


def pii_policies(prep: PrepSection) -> dict[str, str]:
    """Input name (as the datasheet's sources list it) -> its de-personalisation policy."""
    return {i.name or Path(i.path).name: prep.pii_policy(i) for i in prep.inputs}


def _pii_line(prep: PrepSection, sheet: dict) -> str:
    policies = pii_policies(prep)
    if not any(p != "none" for p in policies.values()):
        return "- De-personalisation: off (policy none for every source); personal data was not masked."
    pseudonyms = {i.name or Path(i.path).name for i in prep.inputs if i.pii.pseudonymise}
    per_source = ", ".join(
        f"{name} {p}{' with pseudonyms' if name in pseudonyms and p == 'full' else ''}"
        for name, p in policies.items()
    )
    fakes = any(policies[name] == "full" for name in pseudonyms)
    names = (
        ""
        if "full" not in policies.values()
        else f"; person names in sources under policy full by {PERSON}"
        + (" (or, with pseudonyms, a fake name, the same one throughout a document)" if fakes else "")
    )
    kept = " Sources under policy identifiers keep their names." if "identifiers" in policies.values() else ""
    return (
        f"- De-personalisation, with a policy per source ({per_source}; docs/pii.md): identifiers replaced "
        f"by {', '.join(PLACEHOLDERS.values())}{names}. Masked in kept documents: "
        f"{_counts(sheet.get('pii_masked') or {})}. Rule-based and imperfect: identifiers in unusual formats "
        f"and names the tagger misses stay in the text.{kept}"
    )


def _processing_lines(prep: PrepSection, sheet: dict) -> list[str]:
    """Section 3: each prep step with its settings and what it removed or changed."""
    reasons, q, d, decon = sheet["rejected_by_reason"], prep.quality, prep.dedup, prep.decontamination
    langid = (
        f"- Language identification: documents in {', '.join(prep.keep_languages)} with confidence >= "
        f"{prep.min_language_score} kept; rejected {_counts(reasons, 'language')}."
    )
    if prep.drop_foreign_lines:
        langid += (
            " Lines in other languages removed from kept documents: "
            f"{_counts(sheet.get('foreign_lines_removed_from_kept') or {})}."
        )
    if prep.transliterate_latin:
        langid += " Latin-script Kazakh was transliterated to Cyrillic first."
    lines = [
        langid,
        f"- Quality filters (Kazakh-tuned from FineWeb-2's kaz_Cyrl thresholds, e.g. >= {q.min_words} words "
        f"and <= {q.max_duplicate_line_ratio} duplicate lines; boilerplate lines "
        f"{'removed first' if q.remove_boilerplate else 'kept'}): "
        f"rejected {_counts(reasons, 'quality')}; repetition {_counts(reasons, 'repetition')}; "
        f"URL blocklist {_counts(reasons, 'url')}.",
        f"- Unreadable input (broken records, binary files): {_counts(reasons, 'unreadable')}.",
        f"- Deduplication, exact {'on' if d.exact else 'off'} and near (MinHash over {d.ngram}-word "
        f"shingles, {d.buckets} x {d.hashes_per_bucket} hashes) {'on' if d.minhash else 'off'}: "
        f"rejected {_counts(reasons, 'dedup')}.",
    ]
    lines.append(_pii_line(prep, sheet))
    if decon.eval_sets:
        names = ", ".join(e.name or Path(e.path).stem for e in decon.eval_sets)
        lines.append(
            f"- Decontamination: documents sharing a {decon.ngram}-word n-gram with an evaluation set "
            f"({names}) rejected: {_counts(reasons, 'decontam')}."
        )
    else:
        lines.append(
            "- Decontamination: no evaluation sets configured (prep.decontamination.eval_sets), so the "
            "scores below may be inflated by overlap."
        )
    lines += [
        (
            "- Text normalisation repairs in kept documents: "
            f"{_counts(sheet.get('normalisation_repairs_in_kept') or {})}."
        ),
        "- Rights reservations (text-and-data-mining opt-outs, robots.txt): kazllm does not check them; each "
        "source is declared with its licence in the prep config by whoever assembled it.",
    ]
    return lines


def render_training_data(
    prep: PrepSection, sheet: dict, shards: dict, tokens_seen: int, base: dict | None
) -> str:
    """The datasheet in the order of the EU AI Act's public training-data summary."""
    if not sheet:
        return "prep/datasheet.json was not found: this run's training data is not described here."
    t, splits = sheet["totals"], shards.get("splits", {})
    train_tokens, val_tokens = splits.get("train", {}).get("tokens"), splits.get("val", {}).get("tokens")
    size = (
        f"{t['documents_kept']:,} of {t['documents_in']:,} documents read were kept, "
        f"{t['bytes_kept'] / 1e6:,.2f} MB of text"
    )
    if train_tokens:
        size += (
            f"; {train_tokens:,} training and {val_tokens:,} validation tokens with this model's tokenizer; "
            f"{tokens_seen:,} tokens seen in training ({tokens_seen / train_tokens:.2f} passes over the "
            "training split)"
        )
    shares = (
        ", ".join(f"{lang} {share:.1%}" for lang, share in language_shares(sheet, shards).items())
        or "not recorded"
    )
    lines = [
        "Laid out like the EU AI Act's public summary of the content used to train a general-purpose AI "
        "model (Art. 53(1)(d), the Commission's template): general information, data sources, data "
        "processing. The figures are this run's `kazllm prep` datasheet (prep/datasheet.json) and token "
        "shards (shards/manifest.json).",
        "",
        "### 1. General information",
        "",
        "- Modality: text.",
        f"- Size: {size}.",
        f"- Languages (ISO 639 code: share of training tokens): {shares}.",
        f"- Prepared on {sheet.get('created', 'n/a')[:10]} by `kazllm prep`.",
    ]
    if base:
        lines.append(
            f"- Continued pretraining: the weights start from {base['display']}, whose own training data "
            "its provider describes, not this card."
        )
    lines += [
        "",
        "### 2. Data sources",
        "",
        "kazllm prep read these sources only; it collects no user data and generates no synthetic data.",
        "",
        "| source | kind | licence | where from | retrieved |",
        "|---|---|---|---|---|",
    ]
    inputs = {i.name or Path(i.path).name: i for i in prep.inputs}
    for s in sheet["sources"]:
        spec = inputs.get(s["name"])
        kind = FORMAT_KINDS.get(s["format"], f"files ({s['format']})")
        lines.append(
            f"| {s['name']} | {kind} | {s['licence']} | {(spec and spec.url) or 'local files'} "
            f"| {(spec and spec.retrieved) or 'n/a'} |"
        )
    tokens_by = {
        (g["source"], g["language"]): row["tokens"]
        for g, row in zip(shards.get("groups", []), splits.get("train", {}).get("by_group", []))
    }
    lines += [
        "",
        "Volume by source and language (a source's documents may name their own sub-source):",
        "",
        "| source | language | documents read | documents kept | MB kept | training tokens |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['source']} | {r['language']} | {r['documents_in']:,} | {r['documents_kept']:,} "
        f"| {r['bytes_kept'] / 1e6:.3f} "
        f"| {tokens_by.get((r['source'], r['language']), 0):,} |"
        for r in sheet["volume"]
    ]
    return "\n".join([*lines, "", "### 3. Data processing", "", *_processing_lines(prep, sheet)])


def render_licence(license_id: str, sheet: dict, base: dict | None) -> str:
    by_licence: dict[str, list[str]] = {}
    for s in sheet.get("sources", []):
        by_licence.setdefault(s["licence"], []).append(s["name"])
    inherited = (
        "; ".join(f"{lic} ({', '.join(names)})" for lic, names in by_licence.items()) or "not recorded"
    )
    base_note = f", and the licence of the base model {base['display']}" if base else ""
    if license_id:
        return (
            f"Released under `{license_id}` (export.license). The training data's licences: "
            f"{inherited}{base_note}; the model's licence must respect them."
        )
    return (
        f"No model licence was chosen (export.license is empty), so the metadata says `license: other` with "
        f"`license_name: {DEFAULT_LICENSE_NAME}`: the model inherits the terms of its training data, "
        f"{inherited}{base_note}. Set export.license to a Hub licence id and export again before publishing; "
        "`kazllm push` refuses this placeholder."
    )


# ---------------------------------------------------------------------------------------------------
# Use, limitations, loading
# ---------------------------------------------------------------------------------------------------


USE_TEXT = """## Intended use

{demo}A base (pretrained-only) language model for research on Kazakh: continued pretraining, fine-tuning
(instruction tuning, domain adaptation), scoring text (perplexity, bits per byte) and few-shot prompting as
in the Evaluation section. Languages: {languages}.

## Out-of-scope use

- Chat or following instructions: the model is not instruction-tuned; it continues text.
- Anything that needs safety behaviour: there is no safety tuning (no refusals, no toxicity training);
  only the prep filters (quality rules, URL blocklist) touched the data.
- Decisions about people (legal, medical, financial, hiring, public services), or facts without checking:
  it writes fluent, false statements.
- Identifying or profiling people, or recovering masked personal data.
- Languages other than those above.

## Limitations and biases

- Public Kazakh text is mostly web pages, news and state/official documents: formal and bureaucratic
  registers and official viewpoints are over-represented; colloquial, spoken and regional Kazakh, and the
  Kazakh of China, Mongolia and the diaspora, are under-represented. Stereotypes in the source text (gender,
  ethnicity, region) were not removed.
- Scripts and code-switching: Kazakh is written in Cyrillic, in the Latin alphabets of 2017-2021 and in
  Arabic script. {scripts} The model can mix scripts, and the Kazakh-Russian code-switching and Russian
  calques of its training text show in its output.
- {pii}
- Decontamination is word n-gram overlap against the evaluation sets named under Training data only;
  other benchmarks may overlap the training data.
- The evaluation covers the listed tasks only; small item counts have wide confidence intervals."""


def render_use(prep: PrepSection, params: int, steps: int, languages: list[str]) -> str:
    demo = ""
    if params < DEMO_PARAMETERS:
        demo = (
            f"**A demo-sized model**: {params / 1e6:.2f}M parameters trained for {steps:,} steps. It shows "
            "that the pipeline runs end to end and writes mostly broken Kazakh; use it to test tooling, "
            "nothing else.\n\n"
        )
    scripts = (
        "Latin-script Kazakh was transliterated to Cyrillic before training."
        if prep.transliterate_latin
        else "The training text is in whatever script its sources used (mostly Cyrillic)."
    )
    policies = set(pii_policies(prep).values())
    if policies <= {"none"}:
        pii = (
            "Personal data was not masked (de-personalisation policy none for every source): the model may "
            "reproduce it."
        )
    else:
        masked = (
            "identifiers (IIN/BIN with their checksums, phone numbers, emails, IBANs, payment cards, IP "
            "addresses and the like)"
            + (" and, in sources under policy full, person names" if "full" in policies else "")
        )
        kept = [
            x
            for x, on in (
                ("names in sources under policy identifiers", "identifiers" in policies),
                ("everything in sources under policy none", "none" in policies),
            )
            if on
        ]
        pii = (
            f"Personal data was masked automatically, with a policy per source: {masked}. The rules and the "
            "name tagger miss some names, addresses and numbers in unusual formats"
            + (f", and {' and '.join(kept)} were kept" if kept else "")
            + ", so the model may still reproduce personal data of its training text."
        )
    return USE_TEXT.format(demo=demo, languages=", ".join(languages), scripts=scripts, pii=pii)


def render_load(repo_id: str) -> str:
    """The text between the load markers: rewritten by set_card_repo_id."""
    return f"""
```python
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("{repo_id}")  # revision="<commit>" pins a version
tokenizer = AutoTokenizer.from_pretrained("{repo_id}")
ids = tokenizer("Қазақстан — ", return_tensors="pt").input_ids
print(tokenizer.decode(model.generate(ids, max_new_tokens=40)[0], skip_special_tokens=True))
```

Evaluate it again with `kazllm eval --model {repo_id} --tasks belebele_kaz_Cyrl,ntrex_kk_en`. Before it is
pushed, the same code loads the local export directory in place of `{repo_id}`.
"""


LOAD_REPO = re.compile(r'from_pretrained\("([^"]+)"\)')


def card_repo_id(card: ModelCard) -> str | None:
    """The repo id the card's loading example names."""
    span = _between(card.text, LOAD_MARKERS)
    match = LOAD_REPO.search(card.text[span[0] : span[1]]) if span else None
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------------
# The card
# ---------------------------------------------------------------------------------------------------


def _card_data(
    cfg: KazllmConfig, languages: list[str], base: dict | None, eval_results: list[EvalResult]
) -> ModelCardData:
    license_id = cfg.export.license
    tags = ["kazakh", "kazllm", "llama", "causal-lm"] + (["continued-pretraining"] if base else [])
    return ModelCardData(
        language=languages,
        license=license_id or "other",
        license_name=None if license_id else DEFAULT_LICENSE_NAME,
        datasets=list(cfg.export.datasets) or None,
        base_model=(base or {}).get("repo_id"),
        tags=tags,
        pipeline_tag="text-generation",
        library_name="transformers",
        model_name=cfg.export.model_name if eval_results else None,
        eval_results=eval_results or None,
    )


def build_model_card(
    cfg: KazllmConfig, export_dir: Path, meta: dict, eval_results: dict | None = None
) -> ModelCard:
    """The export's card. `meta` is the checkpoint's kazllm_checkpoint.json; `eval_results` a results.json
    dict (or None: the card then says how to add them). export_dir may be a temporary folder: nothing in the
    card names it (the loading example names export.repo_id)."""
    ckpt_dir = cfg.stage_dir("checkpoints")
    summary = read_json(ckpt_dir / "manifest.json")["summary"]
    tok = read_json(cfg.stage_dir("tokenizer") / "manifest.json")
    sheet = _optional_json(cfg.stage_dir("prep") / "datasheet.json")
    shards = _optional_json(cfg.stage_dir("shards") / "manifest.json")
    exported = _optional_json(Path(export_dir) / "config.json")
    mc, t, repo_id = meta["model_config"], cfg.train, default_repo_id(cfg)
    base = base_model_record(cfg)
    tokens_seen = summary["steps"] * t.tokens_per_step(summary["world_size"])
    prep = _prep_section(cfg)
    languages = list(language_shares(sheet, shards)) or list(prep.keep_languages)
    languages = ["kk"] + [lang for lang in languages if lang != "kk"]
    val = summary.get("val_loss")
    compute = compute_summary(cfg)
    precision = compute["precision"] or "precision not recorded"
    rows, sigs = _evaluation_lines(eval_results) if eval_results else ({}, {})
    origin = f" by continued pretraining of {base['display']}" if base else ""
    base_row = f"| Base model | {base['display']}: continued pretraining |\n" if base else ""
    heads = (
        f"{mc['num_attention_heads']} heads ({mc.get('num_key_value_heads') or mc['num_attention_heads']} KV)"
    )
    body = f"""
# {cfg.export.model_name}

A Llama-style causal language model trained{origin} with kazllm, an open training stack for Kazakh language
models (data preparation, tokenizer, DeepSpeed pretraining, export, evaluation).

## Model details

| | |
|---|---|
| Architecture | LlamaForCausalLM, {summary["parameters"] / 1e6:.2f}M parameters, \
{mc["num_hidden_layers"]} layers, hidden {mc["hidden_size"]}, {heads}, vocab {mc["vocab_size"]}, \
context {mc.get("max_position_embeddings", "n/a")} |
{base_row}| Training | {summary["steps"]:,} steps, ZeRO-{meta.get("zero_stage", t.zero_stage)} on \
{summary["world_size"]} rank(s), {precision}, sequence length {t.seq_len}, {tokens_seen:,} tokens seen |
| Loss | {summary["first_loss"]:.3f} → {summary["last_loss"]:.3f} (validation \
{f"{val:.3f}" if val is not None else "n/a"}) |
| Tokenizer | {tokenizer_description(tok)} |
| Weights | safetensors, {exported.get("dtype") or exported.get("torch_dtype") or "n/a"}, from checkpoint \
step{meta.get("step", summary["steps"])} |
| Licence | {cfg.export.license or f"other ({DEFAULT_LICENSE_NAME}): see Licence"} |
| Made with | kazllm {__version__} |

## How to load

{LOAD_MARKERS[0]}{render_load(repo_id)}{LOAD_MARKERS[1]}

{render_use(prep, summary["parameters"], summary["steps"], languages)}

## Training data

{render_training_data(prep, sheet, shards, tokens_seen, base)}

## Compute and energy

{render_compute(compute, base)}

## Evaluation

{EVAL_MARKERS[0]}{render_evaluation(rows, sigs)}{EVAL_MARKERS[1]}

## Licence

{render_licence(cfg.export.license, sheet, base)}
"""
    data = _card_data(cfg, languages, base, eval_results_of(eval_results, repo_id) if eval_results else [])
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def refresh_manifest_row(export_dir: Path, name: str = CARD_FILE) -> bool:
    """Re-checksum one file in export/manifest.json's `files` table; a manifest without the table is left."""
    manifest_path = Path(export_dir) / "manifest.json"
    manifest = _optional_json(manifest_path)
    if not isinstance(manifest.get("files"), dict):
        return False
    path = Path(export_dir) / name
    manifest["files"][name] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    write_json(manifest_path, manifest)
    return True


def write_model_card(
    cfg: KazllmConfig, export_dir: Path, meta: dict, eval_results: dict | None = None
) -> Path:
    card = build_model_card(cfg, export_dir, meta, eval_results)
    path = write_text_atomic(Path(export_dir) / CARD_FILE, str(card))
    refresh_manifest_row(export_dir)
    return path


def _load_card(export_dir: Path) -> tuple[Path, ModelCard]:
    path = Path(export_dir) / CARD_FILE
    if not path.is_file():
        raise InputError(f"{path} not found: `kazllm export` writes the model card")
    return path, ModelCard.load(path)


def _check_same_model(export_dir: Path, results: dict) -> None:
    """Results of a local model directory must be of these weights (export manifest checksums)."""
    scored = (results.get("model_identity") or {}).get("files_sha256") or {}
    files = _optional_json(Path(export_dir) / "manifest.json").get("files")
    if not scored or not isinstance(files, dict):
        return
    ours = {name: row["sha256"] for name, row in files.items() if name in scored}
    if ours and ours != {name: scored[name] for name in ours}:
        raise InputError(
            f"results of {results.get('model')} are not of the weights in {export_dir} "
            "(sha256 differs from its export manifest): the card keeps its scores"
        )


def update_model_card(export_dir: Path, results: dict) -> Path:
    """Write `results` (results.json) into the card: the tasks it holds replace the same tasks' model-index
    entries and Evaluation rows; other tasks already in the card are kept. The rest stays byte-identical."""
    path, card = _load_card(export_dir)
    _check_same_model(export_dir, results)
    new_tasks = set(_tasks(results))
    repo_id = card_repo_id(card) or "kazllm/" + Path(export_dir).name
    fresh = eval_results_of(results, repo_id)
    merged, placed = [], False
    for old in card.data.eval_results or []:
        if old.task_name in new_tasks:
            if not placed:  # the new results take the place of the first replaced task
                merged += fresh
                placed = True
        else:
            merged.append(old)
    if not placed:
        merged += fresh
    span = _between(card.text, EVAL_MARKERS)
    if span is None:
        raise InputError(f"{path} has no {EVAL_MARKERS[0]} section: export again to get a kazllm card")
    old_rows, old_sigs = _existing_evaluation_lines(card.text[span[0] : span[1]])
    new_rows, new_sigs = _evaluation_lines(results)
    rows, sigs = {}, {}
    for task in [r.task_name for r in merged] + list(old_rows):
        source = (new_rows, new_sigs) if task in new_tasks else (old_rows, old_sigs)
        if task not in rows and task in source[0]:
            rows[task], sigs[task] = source[0][task], source[1].get(task, [])
    if not card.data.model_name:
        title = re.search(r"^# (.+)$", card.text, re.M)
        card.data.model_name = title.group(1).strip() if title else Path(export_dir).name
    card.data.eval_results = merged or None
    if not merged:  # without a model-index the name would be a stray top-level key
        card.data.model_name = None
    card.text = _replace_between(card.text, EVAL_MARKERS, render_evaluation(rows, sigs))
    write_text_atomic(path, str(card))
    refresh_manifest_row(export_dir)
    return path


def card_text_for_repo(export_dir: Path, repo_id: str) -> tuple[str, str]:
    """(the card's text now, its text naming ORG/NAME in the loading example and the model-index sources).
    Nothing is written: `kazllm push --dry-run` lists the card it would publish from this."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo_id):
        raise InputError(f"repo id must be ORG/NAME, got {repo_id!r}")
    path, card = _load_card(export_dir)
    before = path.read_text(encoding="utf-8")
    card.text = _replace_between(card.text, LOAD_MARKERS, render_load(repo_id))
    for result in card.data.eval_results or []:
        result.source_url = f"https://huggingface.co/{repo_id}"
    return before, str(card)


def set_card_repo_id(export_dir: Path, repo_id: str) -> bool:
    """Name ORG/NAME in the loading example and the model-index sources; True when the card changed."""
    before, after = card_text_for_repo(export_dir, repo_id)
    if after == before:
        return False
    write_text_atomic(Path(export_dir) / CARD_FILE, after)
    refresh_manifest_row(export_dir)
    return True


def card_license_problem(card: ModelCard) -> str | None:
    """None when the card carries a real licence, else the one-line reason `kazllm push` refuses with."""
    data = card.data
    if not data.license:
        return (
            "the model card has no licence: set export.license to a Hub licence id (e.g. apache-2.0) and "
            "export again"
        )
    if data.license == "other" and data.license_name == DEFAULT_LICENSE_NAME:
        return (
            f"the model card's licence is the placeholder 'other' ({DEFAULT_LICENSE_NAME}): set "
            "export.license to a Hub licence id compatible with the training data's licences and export again"
        )
    if data.license == "other" and not (data.license_name and data.license_link):
        return (
            "the model card's licence is 'other' without license_name and license_link: name the licence "
            "and link its text"
        )
    return None
