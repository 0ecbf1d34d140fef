"""`kazllm prep`: raw sources -> prep/ (kept JSONL, rejected JSONL with reasons, stats.json, datasheet).

The Тіл-Қазына flow as datatrove stages, run by LocalPipelineExecutor or, with
`prep.executor.kind=slurm`, as chained SlurmPipelineExecutor job arrays ending in a one-task job
(9_finish) that writes stats.json, the datasheet and the manifest:

    1 filter      read -> unreadable? -> normalise -> language ID -> quality -> decontaminate
                  -> de-personalise (the policy of each document's source: prep.inputs[].pii,
                  data_prep/deidentify.py)
    2-4 exact     global exact dedup (datatrove ExactDedupSignature / ExactFindDedups / ExactDedupFilter)
    5-8 minhash   global near dedup (MinHash 5-grams, 14x8 buckets), cluster sizes kept in metadata

Every stage's tasks read exactly the file that the same rank wrote in the stage before (so
datatrove's per-rank document indices line up even when a task produced nothing). Every filter
writes what it drops to prep/rejected/ with `filter_reason`; `stats.json` proves input = kept +
rejected per source, and per stage that documents in = kept + rejected.

Each stage prints one line (tasks, documents in/kept/rejected, time); datatrove's own logging goes to
prep/logs/<stage>/logs/task_*.log and, with `kazllm prep -v`, to the console as well.

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
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.executor import LocalPipelineExecutor, SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.logging import logger

from data_prep.decontam import DecontaminationFilter
from data_prep.deidentify import SourceDeidentifiers, read_allow_list, source_policies
from data_prep.filters import LanguageFilter, UnreadableFilter, UrlBlocklistFilter, dedup_text
from data_prep.line_transforms import BoilerplateLineRemover, ForeignLineRemover
from data_prep.normalize import normalize_text
from data_prep.readers import SourceReader, list_source_files, without_surrogates
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
                    doc.text, counts = deidentify(
                        doc.text, document_key=str(doc.id), language=doc.metadata.get("language")
                    )
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
                self.stat_update("documents")  # the stage's documents in (stage_counts)
                yield Document(text=rec["text"], id=rec["id"], metadata=rec.get("metadata", {}))


def _plain_adapter(writer: JsonlWriter, document: Document) -> dict:
    """What datatrove's default adapter writes (fields that are set, in field order) without its
    dataclasses.asdict deep copy of every document's metadata (a tenth of the filter stage's time, kept
    and rejected documents alike)."""
    if document.media:
        return writer._default_adapter(document)
    return {
        k: v for k, v in (("text", document.text), ("id", document.id), ("metadata", document.metadata)) if v
    }


class PrepJsonlWriter(JsonlWriter):
    r"""datatrove's JsonlWriter, uncompressed, with `_plain_adapter`, that never ends a run on one document:
    orjson refuses a string holding a lone surrogate (a JSON escape such as \udc80 in the input, a file
    name that is not UTF-8), so such a document is written again with U+FFFD in their place. The readers
    clean their input already; this is the second line, and costs nothing while orjson succeeds."""

    def __init__(self, folder: Path, filename: str, **kwargs):
        super().__init__(
            str(folder), output_filename=filename, compression=None, adapter=_plain_adapter, **kwargs
        )

    def _write(self, document: dict, file_handler, filename: str):
        try:
            super()._write(document, file_handler, filename)
        except TypeError as e:  # orjson.JSONEncodeError: "str is not valid UTF-8: surrogates not allowed"
            if "surrogates" not in str(e):
                raise
            logger.warning(f"document {document.get('id')!r}: lone surrogates replaced by U+FFFD")
            self.stat_update("documents_with_lone_surrogates")
            super()._write(without_surrogates(document)[0], file_handler, filename)


class ReasonWriter(PrepJsonlWriter):
    """An exclusion writer that stamps a fixed reject reason
    (for datatrove's dedup filters, which give none)."""

    def __init__(self, folder: Path, reason: str, filename: str):
        super().__init__(folder, filename)
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
    return PrepJsonlWriter(prep_dir / "rejected", f"{step}_${{rank}}.jsonl")


def _stage_writer(folder: Path) -> JsonlWriter:
    return PrepJsonlWriter(folder, "${rank}.jsonl")


# ---------------------------------------------------------------------------------------------------
# The stages
# ---------------------------------------------------------------------------------------------------


def quality_steps(cfg: KazllmConfig, prep_dir: Path) -> list[PipelineStep]:
    """Boilerplate removal, URL block list and the three Kazakh quality filters, from prep.quality."""
    from data_prep.quality import (
        EmptyDocumentFilter,
        KazakhFineWebQualityFilter,
        KazakhGopherQualityFilter,
        KazakhGopherRepetitionFilter,
    )

    q = cfg.prep.quality
    steps: list[PipelineStep] = []
    if q.remove_boilerplate:
        steps += [BoilerplateLineRemover(), EmptyDocumentFilter(exclusion_writer=_rejects(prep_dir, "empty"))]
    steps += [
        UrlBlocklistFilter(
            blocklist_path=str(resolve_path(q.url_blocklist)) if q.url_blocklist else None,
            exclusion_writer=_rejects(prep_dir, "url"),
        ),
        KazakhGopherQualityFilter(
            min_doc_words=q.min_words,
            max_doc_words=q.max_words,
            min_avg_word_length=q.min_mean_word_length,
            max_avg_word_length=q.max_mean_word_length,
            min_alpha_words_ratio=q.min_alpha_word_ratio,
            min_stop_words=q.min_stop_words,
            exclusion_writer=_rejects(prep_dir, "gopher_quality"),
        ),
        KazakhGopherRepetitionFilter(
            dup_line_frac=q.max_duplicate_line_ratio, exclusion_writer=_rejects(prep_dir, "gopher_repetition")
        ),
        KazakhFineWebQualityFilter(
            line_punct_thr=q.min_line_punct_ratio,
            new_line_ratio=q.max_newline_ratio,
            char_duplicates_ratio=q.max_duplicate_line_chars_ratio,
            exclusion_writer=_rejects(prep_dir, "fineweb_quality"),
        ),
    ]
    return steps


def filter_stage(cfg: KazllmConfig, prep_dir: Path, out: Path) -> list[PipelineStep]:
    p = cfg.prep
    steps: list[PipelineStep] = [
        SourceReader(p.inputs, counts_dir=prep_dir / "logs" / "input_counts"),
        UnreadableFilter(exclusion_writer=_rejects(prep_dir, "unreadable")),
        TextTransformStep(
            "🔤 normalise",
            partial(normalize_text, transliterate_latin=p.transliterate_latin),
            "normalisation",
        ),
        LanguageFilter(
            p.keep_languages, p.min_language_score, exclusion_writer=_rejects(prep_dir, "language")
        ),
    ]
    if p.drop_foreign_lines:
        steps.append(ForeignLineRemover(p.keep_languages))
    steps += quality_steps(cfg, prep_dir)
    if p.decontamination.eval_sets:
        steps.append(
            DecontaminationFilter(
                p.decontamination.eval_sets,
                p.decontamination.ngram,
                exclusion_writer=_rejects(prep_dir, "decontam"),
            )
        )
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
            (
                "2_exact_signatures",
                [RankFileReader(current), ExactDedupSignature(str(work / "exact_sigs"), exact)],
                tasks,
            ),
            ("3_exact_find", [ExactFindDedups(str(work / "exact_sigs"), str(work / "exact_dups"), exact)], 1),
            (
                "4_exact_filter",
                [
                    RankFileReader(current),
                    ExactDedupFilter(
                        str(work / "exact_dups"),
                        exact,
                        exclusion_writer=ReasonWriter(
                            prep_dir / "rejected", "dedup:exact", "dedup_exact_${rank}.jsonl"
                        ),
                    ),
                    _stage_writer(work / "exact_deduped"),
                ],
                tasks,
            ),
        ]
        current = work / "exact_deduped"
    final_writer = PrepJsonlWriter(
        prep_dir / "kept", "kept_${rank}.jsonl", max_file_size=p.shard_max_mb * 1024 * 1024
    )
    if p.dedup.minhash:
        from data_prep.kk_words import KazakhWordTokenizer

        # Kazakh letters must stay distinct in shingles (the default folds diacritics: ә -> а, ү -> у).
        mh = MinhashConfig(
            n_grams=p.dedup.ngram,
            num_buckets=p.dedup.buckets,
            hashes_per_bucket=p.dedup.hashes_per_bucket,
            norm_config=TextNormConfig(norm_unicode_diacritics=False),
        )
        stages += [
            (
                "5_minhash_signatures",
                [
                    RankFileReader(current),
                    MinhashDedupSignature(str(work / "mh_sigs"), mh, language=KazakhWordTokenizer()),
                ],
                tasks,
            ),
            (
                "6_minhash_buckets",
                [MinhashDedupBuckets(str(work / "mh_sigs"), str(work / "mh_buckets"), config=mh)],
                p.dedup.buckets,
            ),
            (
                "7_minhash_cluster",
                [
                    MinhashDedupCluster(
                        str(work / "mh_buckets"), str(work / "mh_clusters"), mh, save_cluster_size=True
                    )
                ],
                1,
            ),
            (
                "8_minhash_filter",
                [
                    RankFileReader(current),
                    _minhash_filter_class()(
                        str(work / "mh_clusters"),
                        load_cluster_sizes=True,
                        exclusion_writer=ReasonWriter(
                            prep_dir / "rejected", "dedup:near", "dedup_near_${rank}.jsonl"
                        ),
                    ),
                    final_writer,
                ],
                tasks,
            ),
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
    files = [
        (str(f), f.stat().st_size, f.stat().st_mtime_ns)
        for s in cfg.prep.inputs
        for f in list_source_files(s)
    ]
    # an edited allow-list changes what is masked, as an edited input changes what is read
    files += [
        ("allow", str(f), read_allow_list(files=[f])) for s in cfg.prep.inputs for f in s.pii.allow_files
    ]
    blob = json.dumps({"prep": prep, "files": files}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def kept_files(prep_dir: Path) -> list[Path]:
    return sorted((prep_dir / "kept").glob("*.jsonl"))


def _stat_total(value) -> int:
    return value["total"] if isinstance(value, dict) else value  # a plain count, or a MetricStats dict


def stage_counts(logging_dir: Path) -> dict:
    """tasks, and documents in / kept / rejected of one stage, summed over every task's datatrove stats
    (<logging_dir>/stats/*.json, so tasks finished before a resume count too). `in` is what the stage's
    reader yielded (for 1_filter: one per input record, as logs/input_counts), `rejected` what its
    filters dropped, `kept` what its last step wrote; stages that pass no documents on (signatures,
    buckets, clusters) have only `in` or nothing."""
    files = sorted((logging_dir / "stats").glob("*.json"))
    counts: dict = {"tasks": len(files)}
    for f in files:
        steps = json.loads(f.read_text(encoding="utf-8"))
        if steps and " - READER: " in steps[0]["name"]:
            first = steps[0]["stats"]
            counts["in"] = counts.get("in", 0) + _stat_total(
                first.get("documents_read", first.get("documents", 0))
            )
        if steps and " - WRITER: " in steps[-1]["name"]:
            counts["kept"] = counts.get("kept", 0) + _stat_total(steps[-1]["stats"].get("total", 0))
            counts["rejected"] = counts.get("rejected", 0) + sum(
                _stat_total(step["stats"].get("dropped", 0)) for step in steps
            )
    if "in" in counts and "kept" in counts:
        counts["balanced"] = counts["in"] == counts["kept"] + counts["rejected"]
    return counts


def stage_line(
    name: str,
    counts: dict,
    total_tasks: int | None = None,
    done_before: int = 0,
    seconds: float | None = None,
) -> str:
    """`4_exact_filter      4 tasks (2 done before)  in 320  kept 306  rejected 14   0.3 s`."""
    tasks = total_tasks if total_tasks is not None else counts["tasks"]
    parts = [
        f"{name:<21}",
        f"{tasks:>3} task{'s' * (tasks != 1)}" + (f" ({done_before} done before)" if done_before else ""),
    ]
    docs = [f"{key} {counts[key]}" for key in ("in", "kept", "rejected") if key in counts]
    if counts.get("balanced") is False:
        docs.append("DOES NOT BALANCE")
    parts.append("  ".join(docs))
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    return "  ".join(part for part in parts if part)


def stage_dirs(prep_dir: Path) -> list[Path]:
    """logs/<N_name>/ of every stage that has run, in order."""
    logs = prep_dir / "logs"
    return sorted(d for d in logs.iterdir() if d.is_dir() and d.name[:1].isdigit()) if logs.is_dir() else []


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
        row.update(
            documents_in=1,
            bytes_in=n_bytes,
            **({"documents_kept": 1, "bytes_kept": n_bytes} if is_kept else {}),
        )

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
        # per stage that passes documents on: in = kept + rejected (from datatrove's per-task stats)
        "stages": {d.name: counts for d in stage_dirs(prep_dir) if "kept" in (counts := stage_counts(d))},
        "volume": [
            {
                "source": src,
                "language": lang,
                "documents_in": row["documents_in"],
                "documents_kept": row["documents_kept"],
                "bytes_in": row["bytes_in"],
                "bytes_kept": row["bytes_kept"],
            }
            for (src, lang), row in sorted(volume.items())
        ],
    }


# ---------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------


class QuietLocalExecutor(LocalPipelineExecutor):
    """LocalPipelineExecutor with datatrove's console output off and its task log files as ever.

    datatrove gives each task a log file (DEBUG) and a console sink: INFO for a task run as local rank 0,
    ERROR for any other (datatrove.utils.logging.add_task_logger). Every task here runs as a non-zero
    local rank, so only errors reach the console. The executor's own lines between tasks (progress, the
    merged stats block) come from datatrove.executor.local, silenced with loguru's `logger.disable` in
    the worker processes here and in the calling process by `_run_local`; they are in no task log, and
    the stats are in logs/<stage>/stats.json."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        logger.disable("datatrove.executor.local")
        return super()._run_for_rank(rank, local_rank=local_rank + 1, node_rank=node_rank)


def _run_local(pipeline, tasks: int, workers: int, logging_dir: Path, verbose: bool) -> int:
    """Run one stage here with `workers` processes; returns how many of its tasks had finished before (and
    were skipped)."""
    executor = (LocalPipelineExecutor if verbose else QuietLocalExecutor)(
        pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir), skip_completed=True
    )
    done_before = tasks - len(executor.get_incomplete_ranks())
    if not verbose:
        logger.disable("datatrove.executor.local")
    try:
        executor.run()
    finally:
        logger.enable("datatrove.executor.local")
    return done_before


FINISH_STAGE = "9_finish"


class FinishPrepStep(PipelineStep):
    """The last job of a Slurm prep chain: `finish_prep` (stats.json, the datasheet, the manifest) and the
    stage summary, in its log, so that no local rerun is needed."""

    name = "📊 finish prep"
    type = "📊 - STATS"

    def __init__(self, cfg: KazllmConfig):
        super().__init__()
        self.cfg = cfg

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        stats = finish_prep(self.cfg)
        prep_dir = self.cfg.stage_dir("prep")
        summary = [
            stage_line(d.name, stage_counts(d)) for d in stage_dirs(prep_dir) if d.name != FINISH_STAGE
        ]
        print("\n".join(summary), flush=True)
        print(
            f"prep: {stats['documents_in']} documents in, {stats['documents_kept']} kept, "
            f"{stats['documents_rejected']} rejected -> {prep_dir}",
            flush=True,
        )
        yield from ()


def _slurm_executors(cfg: KazllmConfig, prep_dir: Path, stages):
    """One SlurmPipelineExecutor per stage, each depending on the one before, then the finishing job."""
    job = cfg.prep.executor.slurm
    if not job.partition:
        raise InputError("prep.executor.slurm.partition is empty: name the Slurm partition to submit to")
    # datatrove has no account parameter: it goes with the other #SBATCH options (sbatch_args win)
    sbatch_args = {**({"account": job.account} if job.account else {}), **job.sbatch_args}
    previous = None
    executors = []
    for name, pipeline, tasks in [*stages, (FINISH_STAGE, [FinishPrepStep(cfg)], 1)]:
        previous = SlurmPipelineExecutor(
            pipeline=pipeline,
            tasks=tasks,
            workers=-1,
            time=job.time,
            partition=job.partition,
            cpus_per_task=job.cpus_per_task,
            mem_per_cpu_gb=job.mem_per_cpu_gb,
            job_name=f"kazllm-prep-{name}",
            logging_dir=str(prep_dir / "logs" / name),
            slurm_logs_folder=str(prep_dir / "logs" / "slurm"),
            depends=previous,
            venv_path=os.path.join(sys.prefix, "bin", "activate"),
            sbatch_args=dict(sbatch_args),
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


def run_prep(cfg: KazllmConfig, verbose: bool = False) -> dict:
    """Run the pipeline into `<run>/prep/` and return its stats; one line per stage on stdout, and with
    `verbose` datatrove's console logging too. On Slurm: submit the chain and return {}."""
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
        if not verbose:
            logger.disable("datatrove.executor.slurm")
        try:
            executors[-1][1].run()  # launches the chain through `depends`
        finally:
            logger.enable("datatrove.executor.slurm")
        ids = [str(ex.job_id) for _, ex in executors if ex.job_id not in (None, -1)]
        finish = executors[-1][1].job_id
        if finish in (None, -1):
            print("prep: every Slurm stage has finished already; nothing submitted")
        else:
            print(
                f"submitted {len(ids)} chained Slurm jobs ({', '.join(ids)}); the last, {FINISH_STAGE} "
                f"(job {finish}), writes stats.json, the datasheet and the manifest into {prep_dir}"
            )
        return {}
    seconds: dict[str, float] = {}
    for name, pipeline, tasks in stages:
        logging_dir = prep_dir / "logs" / name
        start = time.perf_counter()
        done_before = _run_local(
            pipeline, tasks, cfg.prep.executor.local_workers(tasks), logging_dir, verbose
        )
        seconds[name] = round(time.perf_counter() - start, 3)
        print(stage_line(name, stage_counts(logging_dir), tasks, done_before, seconds[name]), flush=True)
    # wall time of each stage in this invocation (a resumed run times only what was left); kept out of
    # stats.json, which a rerun and a Slurm run reproduce exactly
    write_json(prep_dir / "logs" / "stage_seconds.json", seconds)
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
        inputs=[
            {"path": s.path, "format": s.format, "name": s.name, "licence": s.licence}
            for s in cfg.prep.inputs
        ],
        kept_files=[f.name for f in kept_files(prep_dir)],
        documents_kept=stats["documents_kept"],
    )
    unbalanced = [name for name, counts in stats["stages"].items() if counts.get("balanced") is False]
    if not stats["balanced"] or unbalanced:
        where = f" (stages {', '.join(unbalanced)})" if unbalanced else ""
        raise InputError(
            f"prep lost documents: {prep_dir / 'stats.json'} does not balance{where}; please report this"
        )
    if stats["documents_kept"] == 0:
        raise InputError(
            f"prep kept 0 of {stats['documents_in']} documents; reasons: {stats['rejected_by_reason']} "
            f"(see {prep_dir / 'rejected'})"
        )
    return stats
