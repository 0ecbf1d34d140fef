"""`kazllm prep`: raw sources -> prep/ (kept JSONL shards, rejected JSONL with reasons, stats.json).

The pipeline is a list of datatrove steps run by datatrove's LocalPipelineExecutor:

    read -> unreadable? -> normalise (NFC, whitespace) -> language ID -> quality -> exact dedup
         -> mask PII -> write kept

Each filter writes the documents it drops to prep/rejected/ with `filter_reason` in their metadata.

    kazllm prep --config configs/quickstart.yaml
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers import JsonlWriter

from data_prep.filters import ExactDedupFilter, LanguageFilter, QualityFilter, UnreadableFilter
from data_prep.normalize import normalize_text
from data_prep.pii import mask_pii
from data_prep.readers import SourceReader
from kazllm.artifacts import write_json, write_stage_manifest
from kazllm.config import KazllmConfig
from kazllm.errors import InputError


class TextTransformStep(PipelineStep):
    """Applies `transform(text) -> (new_text, counts)` to every document; non-empty counts go to
    `metadata[metadata_key]` (summed into stats.json) and to the step's datatrove stats."""

    type = "✂️ - FORMAT"

    def __init__(self, name: str, transform: Callable[[str], tuple[str, dict[str, int]]], metadata_key: str):
        self.name = name  # before super().__init__, which names the step's stats after it
        super().__init__()
        self.transform, self.metadata_key = transform, metadata_key

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            doc.text, counts = self.transform(doc.text)
            if counts:
                doc.metadata[self.metadata_key] = counts
                self.stat_update(*counts)
            yield doc


def _rejects_writer(prep_dir: Path, step: str) -> JsonlWriter:
    return JsonlWriter(str(prep_dir / "rejected"), output_filename=f"{step}_${{rank}}.jsonl", compression=None)


def build_pipeline(cfg: KazllmConfig, prep_dir: Path) -> list[PipelineStep]:
    p = cfg.prep
    steps: list[PipelineStep] = [
        SourceReader(p.inputs, counts_dir=prep_dir / "logs" / "input_counts"),
        UnreadableFilter(exclusion_writer=_rejects_writer(prep_dir, "unreadable")),
        TextTransformStep("🔤 normalise", normalize_text, "normalisation"),
        LanguageFilter(p.keep_languages, p.min_language_score, exclusion_writer=_rejects_writer(prep_dir, "language")),
        QualityFilter(p.quality, exclusion_writer=_rejects_writer(prep_dir, "quality")),
        ExactDedupFilter(exclusion_writer=_rejects_writer(prep_dir, "dedup")),
    ]
    if p.mask_pii:
        steps.append(TextTransformStep("🔒 PII mask", mask_pii, "pii"))
    steps.append(
        JsonlWriter(
            str(prep_dir / "kept"),
            output_filename="kept_${rank}.jsonl",
            compression=None,
            max_file_size=p.shard_max_mb * 1024 * 1024,
        )
    )
    return steps


def iter_jsonl(files: list[Path]):
    for file in files:
        with open(file, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def kept_files(prep_dir: Path) -> list[Path]:
    return sorted((prep_dir / "kept").glob("*.jsonl"))


def summarize(prep_dir: Path) -> dict:
    """Count in/kept/rejected per source and reason from the files on disk (not from memory)."""
    read: Counter[str] = Counter()
    for f in sorted((prep_dir / "logs" / "input_counts").glob("*.json")):
        read.update(json.loads(f.read_text(encoding="utf-8")))
    kept: Counter[str] = Counter()
    pii: Counter[str] = Counter()
    repairs: Counter[str] = Counter()
    for rec in iter_jsonl(kept_files(prep_dir)):
        meta = rec.get("metadata", {})
        kept[meta.get("source", "?")] += 1
        pii.update(meta.get("pii", {}))
        repairs.update(meta.get("normalisation", {}))
    rejected: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in iter_jsonl(sorted((prep_dir / "rejected").glob("*.jsonl"))):
        meta = rec.get("metadata", {})
        rejected[meta.get("source", "?")][meta.get("filter_reason", "unknown")] += 1
    by_reason: Counter[str] = Counter()
    for counts in rejected.values():
        by_reason.update(counts)
    by_source = {}
    for src in sorted(set(read) | set(kept) | set(rejected)):
        n_rej = sum(rejected[src].values())
        by_source[src] = {
            "in": read[src],
            "kept": kept[src],
            "rejected": n_rej,
            "balanced": read[src] == kept[src] + n_rej,
            "rejected_by_reason": dict(sorted(rejected[src].items())),
        }
    total_in, total_kept, total_rej = sum(read.values()), sum(kept.values()), sum(by_reason.values())
    return {
        "documents_in": total_in,
        "documents_kept": total_kept,
        "documents_rejected": total_rej,
        "balanced": total_in == total_kept + total_rej,
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "pii_masked": dict(sorted(pii.items())),
        "normalisation_repairs_in_kept": dict(sorted(repairs.items())),
        "by_source": by_source,
    }


def run_prep(cfg: KazllmConfig) -> dict:
    """Run the pipeline into `<run>/prep/` and return its stats."""
    prep_dir = cfg.stage_dir("prep")
    steps = build_pipeline(cfg, prep_dir)  # validates inputs before anything is deleted
    for sub in ("kept", "rejected", "logs"):
        shutil.rmtree(prep_dir / sub, ignore_errors=True)  # a rerun replaces, never mixes, outputs
    executor = LocalPipelineExecutor(
        pipeline=steps, tasks=1, workers=1, logging_dir=str(prep_dir / "logs"), skip_completed=False
    )
    executor.run()
    stats = summarize(prep_dir)
    write_json(prep_dir / "stats.json", stats)
    write_stage_manifest(
        cfg,
        "prep",
        inputs=[{"path": s.path, "format": s.format, "name": s.name, "licence": s.licence} for s in cfg.prep.inputs],
        kept_files=[f.name for f in kept_files(prep_dir)],
        documents_kept=stats["documents_kept"],
    )
    if not stats["balanced"]:
        raise InputError(f"prep lost documents: {prep_dir / 'stats.json'} does not balance; please report this")
    if stats["documents_kept"] == 0:
        raise InputError(
            f"prep kept 0 of {stats['documents_in']} documents; reasons: {stats['rejected_by_reason']} "
            f"(see {prep_dir / 'rejected'})"
        )
    return stats
