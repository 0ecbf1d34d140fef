"""`kazllm prep`: raw sources -> prep/ (kept JSONL, rejected JSONL with reasons, stats.json, datasheet).

The Тіл-Қазына flow as datatrove stages, run by LocalPipelineExecutor or, with
`prep.executor.kind=slurm`, as chained SlurmPipelineExecutor job arrays:

    1 filter      read -> unreadable? -> normalise -> language ID -> quality -> decontaminate -> de-personalise
                  (the policy of each document's source: prep.inputs[].pii, data_prep/deidentify.py)
    2-4 exact     global exact dedup (datatrove ExactDedupSignature / ExactFindDedups / ExactDedupFilter)
    5-8 minhash   global near dedup (MinHash 5-grams, 14x8 buckets), cluster sizes kept in metadata

Every stage's tasks read exactly the file that the same rank wrote in the stage before (so
datatrove's per-rank document indices line up even when a task produced nothing). Every filter
writes what it drops to prep/rejected/ with `filter_reason`; `stats.json` proves input = kept +
rejected per source.

Resumable: a rerun with the same config skips completed tasks (datatrove completion markers) and
produces the same output; a changed config or input starts afresh.

    kazllm prep --config configs/data/tilqazyna.yaml
    kazllm prep --config configs/data/tilqazyna.yaml --executor slurm --dry-run
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers import JsonlWriter

from data_prep.decontam import DecontaminationFilter
from data_prep.deidentify import SourceDeidentifiers, read_allow_list, source_policies
from data_prep.filters import ForeignLineRemover, LanguageFilter, UnreadableFilter, dedup_text
from data_prep.normalize import normalize_text
from data_prep.readers import SourceReader, list_source_files
from kazllm.artifacts import iter_jsonl, write_json, write_stage_manifest
from kazllm.config import KazllmConfig, PrepSection, resolve_path
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
            with self.track_time():  # without it, datatrove's stage summary leaves the step out
                doc.text, counts = self.transform(doc.text)
            if counts:
                doc.metadata[self.metadata_key] = counts
                self.stat_update(*counts)
            yield doc


class DeidentifyStep(PipelineStep):
    """De-personalises every document under the policy of its source (metadata["source"]); counts per kind
    go to `metadata["pii"]` (summed per source into stats.json) and to the step's datatrove stats."""

    name = "🔒 de-personalise"
    type = "✂️ - FORMAT"

    def __init__(self, deidentifiers: SourceDeidentifiers):
        super().__init__()
        self.deidentifiers = deidentifiers

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            deidentify = self.deidentifiers.get(doc.metadata.get("source", ""))
            if deidentify.policy != "none":
                with self.track_time():
                    doc.text, counts = deidentify(doc.text, document_key=str(doc.id),
                                                  language=doc.metadata.get("language"))
                if counts:
                    doc.metadata["pii"] = counts
                    self.stat_update(*counts)
            yield doc


class RankFileReader(PipelineStep):
    """Reads `<folder>/<rank>.jsonl`, the file the same rank wrote in the previous stage (or nothing)."""

    name = "📖 stage input"
    type = "📖 - READER"

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        path = self.folder / f"{rank:05d}.jsonl"
        if not path.is_file():
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                yield Document(text=rec["text"], id=rec["id"], metadata=rec.get("metadata", {}))


def _plain_adapter(writer: JsonlWriter, document: Document) -> dict:
    """What datatrove's default adapter writes (fields that are set, in field order) without its
    dataclasses.asdict deep copy of every document's metadata (a tenth of the filter stage's time, kept
    and rejected documents alike)."""
    if document.media:
        return writer._default_adapter(document)
    return {k: v for k, v in (("text", document.text), ("id", document.id), ("metadata", document.metadata)) if v}


class ReasonWriter(JsonlWriter):
    """An exclusion writer that stamps a fixed reject reason (for datatrove's dedup filters, which give none)."""

    def __init__(self, folder: Path, reason: str, filename: str):
        super().__init__(str(folder), output_filename=filename, compression=None, adapter=_plain_adapter)
        self.reason = reason

    def write(self, document: Document, rank: int = 0, **kwargs):
        document.metadata["filter_reason"] = self.reason
        super().write(document, rank, **kwargs)


def _minhash_filter_class():
    from datatrove.pipeline.dedup.minhash import MinhashDedupFilter

    class ClusterSizeMinhashFilter(MinhashDedupFilter):
        """datatrove's MinHash filter skips loading cluster sizes for a rank that removes nothing (no
        .remove file), so a kept cluster representative would lose its size, and it fails for a rank
        with no clustered document at all (no .sizes file). Empty files send every rank through the
        regular path: nothing removed, size 1 unless listed."""

        def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1):
            for suffix in ("remove", "sizes"):
                if not self.data_folder.isfile(f"{rank:06d}.{suffix}"):
                    with self.data_folder.open(f"{rank:06d}.{suffix}", "wb"):
                        pass
            yield from super().run(data, rank, world_size)

    return ClusterSizeMinhashFilter


def dedup_content(doc: Document) -> str:
    """What exact dedup hashes: the text with case, punctuation and spacing folded."""
    return dedup_text(doc.text)


def _rejects(prep_dir: Path, step: str) -> JsonlWriter:
    return JsonlWriter(str(prep_dir / "rejected"), output_filename=f"{step}_${{rank}}.jsonl", compression=None,
                       adapter=_plain_adapter)


def _stage_writer(folder: Path) -> JsonlWriter:
    return JsonlWriter(str(folder), output_filename="${rank}.jsonl", compression=None, adapter=_plain_adapter)


# ---------------------------------------------------------------------------------------------------
# The stages
# ---------------------------------------------------------------------------------------------------


def quality_steps(cfg: KazllmConfig, prep_dir: Path) -> list[PipelineStep]:
    """Boilerplate removal, URL block list and the three Kazakh quality filters, from prep.quality."""
    from data_prep.quality import (
        BoilerplateLineRemover,
        EmptyDocumentFilter,
        KazakhFineWebQualityFilter,
        KazakhGopherQualityFilter,
        KazakhGopherRepetitionFilter,
        UrlBlocklistFilter,
    )

    q = cfg.prep.quality
    steps: list[PipelineStep] = []
    if q.remove_boilerplate:
        steps += [BoilerplateLineRemover(), EmptyDocumentFilter(exclusion_writer=_rejects(prep_dir, "empty"))]
    steps += [
        UrlBlocklistFilter(blocklist_path=str(resolve_path(q.url_blocklist)) if q.url_blocklist else None,
                           exclusion_writer=_rejects(prep_dir, "url")),
        KazakhGopherQualityFilter(
            min_doc_words=q.min_words, max_doc_words=q.max_words, min_avg_word_length=q.min_mean_word_length,
            max_avg_word_length=q.max_mean_word_length, min_alpha_words_ratio=q.min_alpha_word_ratio,
            min_stop_words=q.min_stop_words, exclusion_writer=_rejects(prep_dir, "gopher_quality")),
        KazakhGopherRepetitionFilter(dup_line_frac=q.max_duplicate_line_ratio,
                                     exclusion_writer=_rejects(prep_dir, "gopher_repetition")),
        KazakhFineWebQualityFilter(line_punct_thr=q.min_line_punct_ratio, new_line_ratio=q.max_newline_ratio,
                                   char_duplicates_ratio=q.max_duplicate_line_chars_ratio,
                                   exclusion_writer=_rejects(prep_dir, "fineweb_quality")),
    ]
    return steps


def filter_stage(cfg: KazllmConfig, prep_dir: Path, out: Path) -> list[PipelineStep]:
    p = cfg.prep
    steps: list[PipelineStep] = [
        SourceReader(p.inputs, counts_dir=prep_dir / "logs" / "input_counts"),
        UnreadableFilter(exclusion_writer=_rejects(prep_dir, "unreadable")),
        TextTransformStep("🔤 normalise", partial(normalize_text, transliterate_latin=p.transliterate_latin),
                          "normalisation"),
        LanguageFilter(p.keep_languages, p.min_language_score, exclusion_writer=_rejects(prep_dir, "language")),
    ]
    if p.drop_foreign_lines:
        steps.append(ForeignLineRemover(p.keep_languages))
    steps += quality_steps(cfg, prep_dir)
    if p.decontamination.eval_sets:
        steps.append(DecontaminationFilter(p.decontamination.eval_sets, p.decontamination.ngram,
                                           exclusion_writer=_rejects(prep_dir, "decontam")))
    deidentifiers = SourceDeidentifiers.from_prep(p)  # reads the allow-lists once, before any work starts
    if deidentifiers.any_masking:
        steps.append(DeidentifyStep(deidentifiers))
    steps.append(_stage_writer(out))
    return steps


def build_stages(cfg: KazllmConfig, prep_dir: Path) -> list[tuple[str, list[PipelineStep], int]]:
    """(name, pipeline, tasks) for every stage, in order."""
    from datatrove.pipeline.dedup.exact_dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from datatrove.utils.text import TextNormConfig

    p, work = cfg.prep, prep_dir / "work"
    tasks = p.executor.tasks
    stages = [("1_filter", filter_stage(cfg, prep_dir, work / "filtered"), tasks)]
    current = work / "filtered"
    if p.dedup.exact:
        exact = ExactDedupConfig(content_getter=dedup_content)
        stages += [
            ("2_exact_signatures", [RankFileReader(current), ExactDedupSignature(str(work / "exact_sigs"), exact)], tasks),
            ("3_exact_find", [ExactFindDedups(str(work / "exact_sigs"), str(work / "exact_dups"), exact)], 1),
            ("4_exact_filter", [
                RankFileReader(current),
                ExactDedupFilter(str(work / "exact_dups"), exact,
                                 exclusion_writer=ReasonWriter(prep_dir / "rejected", "dedup:exact", "dedup_exact_${rank}.jsonl")),
                _stage_writer(work / "exact_deduped"),
            ], tasks),
        ]
        current = work / "exact_deduped"
    final_writer = JsonlWriter(str(prep_dir / "kept"), output_filename="kept_${rank}.jsonl", compression=None,
                               max_file_size=p.shard_max_mb * 1024 * 1024, adapter=_plain_adapter)
    if p.dedup.minhash:
        from data_prep.quality import KazakhWordTokenizer

        # Kazakh letters must stay distinct in shingles (the default folds diacritics: ә -> а, ү -> у).
        mh = MinhashConfig(n_grams=p.dedup.ngram, num_buckets=p.dedup.buckets,
                           hashes_per_bucket=p.dedup.hashes_per_bucket,
                           norm_config=TextNormConfig(norm_unicode_diacritics=False))
        stages += [
            ("5_minhash_signatures", [RankFileReader(current),
                                      MinhashDedupSignature(str(work / "mh_sigs"), mh, language=KazakhWordTokenizer())], tasks),
            ("6_minhash_buckets", [MinhashDedupBuckets(str(work / "mh_sigs"), str(work / "mh_buckets"), config=mh)],
             p.dedup.buckets),
            ("7_minhash_cluster", [MinhashDedupCluster(str(work / "mh_buckets"), str(work / "mh_clusters"), mh,
                                                       save_cluster_size=True)], 1),
            ("8_minhash_filter", [
                RankFileReader(current),
                _minhash_filter_class()(str(work / "mh_clusters"), load_cluster_sizes=True,
                                   exclusion_writer=ReasonWriter(prep_dir / "rejected", "dedup:near", "dedup_near_${rank}.jsonl")),
                final_writer,
            ], tasks),
        ]
    else:
        stages.append(("8_write_kept", [RankFileReader(current), final_writer], tasks))
    return stages


# ---------------------------------------------------------------------------------------------------
# Bookkeeping: resume fingerprint, stats
# ---------------------------------------------------------------------------------------------------


def fingerprint(cfg: KazllmConfig) -> str:
    """Changes when the prep config or any input file changes; equal fingerprints resume."""
    prep = dataclasses.asdict(cfg.prep)
    prep["executor"] = {"tasks": cfg.prep.executor.tasks}  # where it runs does not change the result
    files = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for s in cfg.prep.inputs for f in list_source_files(s)]
    # an edited allow-list changes what is masked, as an edited input changes what is read
    files += [("allow", str(f), read_allow_list(files=[f])) for s in cfg.prep.inputs for f in s.pii.allow_files]
    blob = json.dumps({"prep": prep, "files": files}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def kept_files(prep_dir: Path) -> list[Path]:
    return sorted((prep_dir / "kept").glob("*.jsonl"))


def summarize(prep_dir: Path, prep: PrepSection | None = None) -> dict:
    """Count in/kept/rejected per source and reason from the files on disk (not from memory). With `prep`
    (the config that made them), each source also names its de-personalisation policy."""
    read: Counter[str] = Counter()
    for f in sorted((prep_dir / "logs" / "input_counts").glob("*.json")):
        read.update(json.loads(f.read_text(encoding="utf-8")))
    kept: Counter[str] = Counter()
    pii: Counter[str] = Counter()
    pii_by_source: dict[str, Counter[str]] = defaultdict(Counter)
    repairs: Counter[str] = Counter()
    foreign_lines: Counter[str] = Counter()
    cluster_sizes: Counter[int] = Counter()
    # documents and bytes per (source, language), in and kept, for the datasheet: gathered in this pass
    volume: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def count_volume(meta: dict, text: str, is_kept: bool) -> None:
        row, n_bytes = volume[(meta.get("source", "?"), meta.get("language", "?"))], len(text.encode("utf-8"))
        row.update(documents_in=1, bytes_in=n_bytes, **({"documents_kept": 1, "bytes_kept": n_bytes} if is_kept else {}))

    for rec in iter_jsonl(kept_files(prep_dir)):
        meta = rec.get("metadata", {})
        count_volume(meta, rec.get("text", ""), True)
        kept[meta.get("source", "?")] += 1
        pii.update(meta.get("pii", {}))
        pii_by_source[meta.get("source", "?")].update(meta.get("pii", {}))
        repairs.update(meta.get("normalisation", {}))
        foreign_lines.update(meta.get("foreign_lines_removed", {}))
        if meta.get("minhash_cluster_size", 1) > 1:
            cluster_sizes[meta["minhash_cluster_size"]] += 1
    rejected: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in iter_jsonl(sorted((prep_dir / "rejected").glob("*.jsonl"))):
        meta = rec.get("metadata", {})
        count_volume(meta, rec.get("text", ""), False)
        rejected[meta.get("source", "?")][meta.get("filter_reason", "unknown")] += 1
    by_reason: Counter[str] = Counter()
    for counts in rejected.values():
        by_reason.update(counts)
    by_source = {}
    policies = source_policies(prep) if prep is not None else {}
    for src in sorted(set(read) | set(kept) | set(rejected)):
        n_rej = sum(rejected[src].values())
        by_source[src] = {
            "in": read[src],
            "kept": kept[src],
            "rejected": n_rej,
            "balanced": read[src] == kept[src] + n_rej,
            "rejected_by_reason": dict(sorted(rejected[src].items())),
            "pii_masked": dict(sorted(pii_by_source[src].items())),  # in kept documents, per kind
        }
        if prep is not None:
            by_source[src]["pii_policy"] = policies.get(src, "unknown")
    total_in, total_kept, total_rej = sum(read.values()), sum(kept.values()), sum(by_reason.values())
    return {
        "documents_in": total_in,
        "documents_kept": total_kept,
        "documents_rejected": total_rej,
        "balanced": total_in == total_kept + total_rej,
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "pii_masked": dict(sorted(pii.items())),
        "normalisation_repairs_in_kept": dict(sorted(repairs.items())),
        "foreign_lines_removed_from_kept": dict(sorted(foreign_lines.items())),
        "near_duplicate_clusters": {str(size): n for size, n in sorted(cluster_sizes.items())},
        "by_source": by_source,
        "volume": [{"source": src, "language": lang, "documents_in": row["documents_in"],
                    "documents_kept": row["documents_kept"], "bytes_in": row["bytes_in"], "bytes_kept": row["bytes_kept"]}
                   for (src, lang), row in sorted(volume.items())],
    }


# ---------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------


def _slurm_executors(cfg: KazllmConfig, prep_dir: Path, stages):
    from datatrove.executor import SlurmPipelineExecutor

    e = cfg.prep.executor
    if not e.slurm_partition:
        raise InputError("prep.executor.slurm_partition is empty: name the Slurm partition to submit to")
    previous = None
    executors = []
    for name, pipeline, tasks in stages:
        previous = SlurmPipelineExecutor(
            pipeline=pipeline, tasks=tasks, workers=-1, time=e.slurm_time, partition=e.slurm_partition,
            cpus_per_task=e.slurm_cpus_per_task, mem_per_cpu_gb=e.slurm_mem_per_cpu_gb,
            job_name=f"kazllm-prep-{name}", logging_dir=str(prep_dir / "logs" / name),
            slurm_logs_folder=str(prep_dir / "logs" / "slurm"), depends=previous,
            venv_path=os.path.join(sys.prefix, "bin", "activate"), sbatch_args=dict(e.slurm_sbatch_args),
            mail_type="NONE",
        )
        executors.append((name, previous))
    return executors


def render_slurm_plan(cfg: KazllmConfig) -> str:
    """The sbatch scripts `--executor slurm` would submit, in dependency order (nothing is submitted)."""
    prep_dir = cfg.stage_dir("prep")
    parts = []
    for name, ex in _slurm_executors(cfg, prep_dir, build_stages(cfg, prep_dir)):
        run = f"srun -l -n 1 launch_pickled_pipeline {prep_dir / 'logs' / name / 'executor.pik'}"
        script = ex.get_launch_file_contents(ex.get_sbatch_args(min(ex.tasks, ex.max_array_size)), run)
        after = f" (after {parts[-1][0]})" if parts else ""
        parts.append((name, f"# --- stage {name}: {ex.tasks} task(s){after}\n{script}"))
    return "\n".join(text for _, text in parts)


def run_prep(cfg: KazllmConfig) -> dict:
    """Run the pipeline into `<run>/prep/` and return its stats."""
    from datatrove.executor import LocalPipelineExecutor

    prep_dir = cfg.stage_dir("prep")
    stages = build_stages(cfg, prep_dir)  # validates inputs before anything is deleted
    marker = prep_dir / "work" / "fingerprint"
    current = fingerprint(cfg)
    if not (marker.is_file() and marker.read_text() == current):
        for sub in ("kept", "rejected", "logs", "work"):
            shutil.rmtree(prep_dir / sub, ignore_errors=True)  # a new config never mixes with old outputs
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(current)
    if cfg.prep.executor.kind == "slurm":
        executors = _slurm_executors(cfg, prep_dir, stages)
        executors[-1][1].run()  # launches the chain through `depends`
        print(f"submitted {len(executors)} chained Slurm jobs; rerun `kazllm prep` locally afterwards for stats")
        return {}
    for name, pipeline, tasks in stages:
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(cfg.prep.executor.workers, tasks),
                              logging_dir=str(prep_dir / "logs" / name), skip_completed=True).run()
    return finish_prep(cfg)


def finish_prep(cfg: KazllmConfig) -> dict:
    from data_prep.datasheet import write_datasheet

    prep_dir = cfg.stage_dir("prep")
    stats = summarize(prep_dir, cfg.prep)
    write_json(prep_dir / "stats.json", stats)
    write_datasheet(cfg, prep_dir, stats)
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
