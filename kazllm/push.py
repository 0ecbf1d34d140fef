"""`kazllm push`: publish an export as a Hub model repo, or a prep corpus as a Hub dataset repo.

    kazllm push --export runs/x/export --repo ORG/NAME [--revision BRANCH] [--private] [--dry-run]
    kazllm push --prep runs/x/prep --repo ORG/NAME --dry-run

A push is one commit holding every file of the folder (huggingface_hub decides which go through LFS
or Xet), and its message names the run and the checkpoint. Everything goes through huggingface_hub
(HfApi, ModelCard, DatasetCard); the token comes only from huggingface_hub's own sources (HF_TOKEN, the
login cache): this module never reads it, never passes it, and prints hub errors as their first line
with anything token-like blanked. A plan is built and checked first, without network: an export whose
logits check did not pass, whose card has no real licence, or whose files differ from its manifest's
checksums is refused; so is a corpus with a source of unknown licence. `--dry-run` prints the plan and
stops there.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kazllm import __version__
from kazllm.artifacts import file_table, iter_jsonl, read_json
from kazllm.errors import InputError, KazllmError
from kazllm.model_card import card_license_problem, card_text_for_repo, set_card_repo_id

LEGACY_LOGITS_TOLERANCE = 1e-5
"""An export manifest from before `logits_check` records only max_logit_diff; export refused above this."""
SHARD_BYTES = 256 * 1024 * 1024
"""Text per Parquet shard of a pushed corpus, before compression (a new shard starts past it)."""
DATASET_STAGING = "hub_dataset"
"""Folder inside prep/ where the dataset's Parquet shards and card are built, then pushed from."""
UNKNOWN_LICENCES = {"", "unknown", "none", "n/a"}


@dataclass
class PlannedFile:
    path_in_repo: str
    local_path: Path
    size: int
    sha256: str


@dataclass
class PushPlan:
    """One commit to one repo: what `--dry-run` prints and `push_plan` sends."""

    repo_id: str
    repo_type: str
    """model or dataset."""
    revision: str | None
    """Branch to commit to (None = main); a branch that does not exist yet is created from main."""
    private: bool
    """Create the repo private (an existing repo keeps its visibility)."""
    files: list[PlannedFile]
    commit_message: str
    commit_description: str = ""
    notes: list[str] = field(default_factory=list)
    """Things the user should know before pushing (README.md changed since export, ...)."""


# ---------------------------------------------------------------------------------------------------
# Checks shared by both kinds of push
# ---------------------------------------------------------------------------------------------------


def check_repo_id(repo_id: str) -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise InputError(f"--repo {repo_id!r}: {str(e).splitlines()[0]}") from None
    if repo_id.count("/") != 1:
        raise InputError(
            f"--repo {repo_id!r}: give ORG/NAME (your user name or an organisation, then the repo name)"
        )
    return repo_id


def check_revision(revision: str | None) -> str | None:
    if revision in (None, "", "main"):
        return None
    if (
        re.fullmatch(r"[0-9a-f]{40}", revision)
        or not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", revision)
        or ".." in revision
        or revision.endswith((".lock", "."))
    ):
        raise InputError(f"--revision {revision!r}: give a branch name (letters, digits, '.', '-', '_', '/')")
    return revision


def run_name(stage_dir: Path) -> str:
    """The run a stage directory belongs to: run.out_dir's name in its resolved config, else its parent's."""
    import yaml

    cfg_file = stage_dir / "resolved_config.yaml"
    try:
        out_dir = (yaml.safe_load(cfg_file.read_text(encoding="utf-8")) or {}).get("run", {}).get("out_dir")
    except (OSError, yaml.YAMLError, AttributeError):
        out_dir = None
    return Path(out_dir).name if out_dir else stage_dir.resolve().parent.name


def _planned_files(directory: Path, table: dict[str, dict]) -> list[PlannedFile]:
    return [PlannedFile(name, directory / name, row["bytes"], row["sha256"]) for name, row in table.items()]


# ---------------------------------------------------------------------------------------------------
# Export -> model repo
# ---------------------------------------------------------------------------------------------------


def logits_problem(manifest: dict) -> str | None:
    """None when the export's reload check passed: `logits_check.passed`, or a legacy `max_logit_diff`."""
    check = manifest.get("logits_check")
    if isinstance(check, dict):
        if check.get("passed") is True:
            return None
        return (
            f"its logits check did not pass (max |Δlogit| {check.get('max_abs_diff')}, "
            f"tolerance {check.get('tolerance')})"
        )
    diff = manifest.get("max_logit_diff")
    if isinstance(diff, (int, float)) and not isinstance(diff, bool):
        return (
            None
            if diff <= LEGACY_LOGITS_TOLERANCE
            else f"its logits check did not pass (max_logit_diff {diff} > {LEGACY_LOGITS_TOLERANCE})"
        )
    return "its manifest records no logits check"


def _verify_export_files(export_dir: Path, manifest: dict) -> tuple[dict[str, dict], list[str]]:
    """Every file of the folder with size and sha256, checked against the manifest's file table."""
    table = file_table(export_dir, exclude=())
    listed = manifest.get("files")
    notes = []
    if isinstance(listed, dict):
        for name in listed:
            if name not in table:
                raise InputError(
                    f"{export_dir / name}: listed in manifest.json but missing: re-run `kazllm export`"
                )
        for name, row in table.items():
            expected = listed.get(name)
            if name == "manifest.json":
                continue
            if expected is None:
                raise InputError(
                    f"{export_dir / name}: not in manifest.json's file table (added after export?): "
                    "remove it or re-run `kazllm export`"
                )
            if expected.get("sha256") != row["sha256"]:
                if name == "README.md":  # eval may add its results to the card
                    notes.append(
                        "README.md differs from the exported card (updated since export): pushed as it is"
                    )
                    continue
                raise InputError(
                    f"{export_dir / name}: changed after export (sha256 {row['sha256'][:12]}…, manifest "
                    f"{str(expected.get('sha256'))[:12]}…): restore it or re-run `kazllm export`"
                )
    elif isinstance(listed, list):  # an export from before the checksum table
        missing = [name for name in listed if name not in table]
        if missing:
            raise InputError(
                f"{export_dir / missing[0]}: listed in manifest.json but missing: re-run `kazllm export`"
            )
        notes.append(
            "manifest.json has no checksums (an export by an older kazllm): files not verified; "
            "re-run `kazllm export` to get them"
        )
    else:
        raise InputError(f"{export_dir / 'manifest.json'}: no file table: not a kazllm export")
    return table, notes


def plan_export_push(
    export_dir: str | Path,
    repo_id: str,
    revision: str | None = None,
    *,
    private: bool = False,
    update_card: bool = False,
) -> PushPlan:
    """Check an export and list the commit that would publish it. `update_card` first points the card's
    loading example at repo_id (a real push does; a dry run changes nothing)."""
    from huggingface_hub import ModelCard

    export_dir = Path(export_dir)
    repo_id, revision = check_repo_id(repo_id), check_revision(revision)
    if not export_dir.is_dir():
        raise InputError(
            f"--export {export_dir}: no such directory (run `kazllm export`, then push its export/)"
        )
    manifest = read_json(export_dir / "manifest.json")
    if manifest.get("stage") != "export":
        raise InputError(
            f"{export_dir / 'manifest.json'}: not an export manifest (stage {manifest.get('stage')!r})"
        )
    problem = logits_problem(manifest)
    if problem:
        raise InputError(
            f"{export_dir}: refusing to push: {problem}; re-run `kazllm export` and look at its error"
        )
    readme = export_dir / "README.md"
    if not readme.is_file():
        raise InputError(f"{readme}: missing: the export has no model card; re-run `kazllm export`")
    problem = card_license_problem(ModelCard.load(readme))
    if problem:
        raise InputError(f"{readme}: refusing to push: {problem}")
    # The card's loading example must name the repo it is published as: a push rewrites it first; a dry
    # run only computes the rewritten card, so the row it lists is what a push would send.
    if update_card and set_card_repo_id(export_dir, repo_id):
        manifest = read_json(export_dir / "manifest.json")  # it refreshed the card's row
    table, notes = _verify_export_files(export_dir, manifest)
    if not update_card:
        before, after = card_text_for_repo(export_dir, repo_id)
        if after != before:
            data = after.encode("utf-8")
            table["README.md"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            notes.append(
                f"README.md: a push first rewrites its loading example to name {repo_id} (size and "
                "sha256 listed are of that card)"
            )

    checkpoint = Path(str(manifest.get("checkpoint") or f"step{manifest.get('step', '?')}")).name
    version = manifest.get("kazllm_version") or __version__
    message = f"kazllm export: run {run_name(export_dir)}, checkpoint {checkpoint} (kazllm {version})"
    check = manifest.get("logits_check") or {
        "max_abs_diff": manifest.get("max_logit_diff"),
        "tolerance": LEGACY_LOGITS_TOLERANCE,
    }
    total = sum(row["bytes"] for row in table.values())
    description = (
        f"{len(table)} files, {total:,} bytes; dtype {manifest.get('dtype', 'n/a')}; reload check passed "
        f"(max |Δlogit| {check.get('max_abs_diff')}, tolerance {check.get('tolerance')})."
    )
    return PushPlan(
        repo_id, "model", revision, private, _planned_files(export_dir, table), message, description, notes
    )


# ---------------------------------------------------------------------------------------------------
# Prep corpus -> dataset repo (Parquet shards + dataset card)
# ---------------------------------------------------------------------------------------------------

COLUMNS = [
    ("id", "string"),
    ("text", "string"),
    ("source", "string"),
    ("language", "string"),
    ("language_score", "float64"),
    ("url", "string"),
    ("date", "string"),
    ("retrieved", "string"),
    ("licence", "string"),
    ("duplicate_count", "int64"),
    ("minhash_cluster_size", "int64"),
    ("pii_masked", "string"),
]
"""The dataset's columns: id and text, then the record's provenance and prep metadata. The local `path`
(and `line`) of the source file are dropped; `pii_masked` is the JSON object of placeholder counts."""
SIZE_CATEGORIES = [
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
]


def _kept_records(files: list[Path]):
    for file in files:
        if file.suffix == ".gz":
            with gzip.open(file, "rt", encoding="utf-8") as f:
                for line_no, line in enumerate(f, start=1):
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except json.JSONDecodeError as e:
                            raise InputError(f"{file}:{line_no}: not valid JSON: {e.msg}") from None
        else:
            yield from iter_jsonl([file])


def _row(record: dict) -> dict:
    meta = record.get("metadata") or {}
    values = {
        "id": record.get("id"),
        "text": record.get("text"),
        **{name: meta.get(name) for name, _ in COLUMNS[2:-1]},
        "pii_masked": json.dumps(meta.get("pii") or {}, sort_keys=True),
    }
    cast = {"string": str, "float64": float, "int64": int}
    return {name: None if values[name] is None else cast[kind](values[name]) for name, kind in COLUMNS}


def write_parquet_shards(records, out_dir: Path, shard_bytes: int = SHARD_BYTES) -> dict:
    """Write records as data/train-0000i-of-0000n.parquet, a new shard after `shard_bytes` of text.
    Returns documents, text bytes, language counts and the shard names."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in COLUMNS])
    out_dir.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    writer, buffer, in_shard, in_buffer = None, [], 0, 0
    stats = {"documents": 0, "text_bytes": 0, "languages": Counter()}

    def flush():
        if buffer:
            writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
            buffer.clear()

    for record in records:
        row = _row(record)
        if row["text"] is None:
            raise InputError(f"kept record {row['id']!r} has no text")
        if writer is None:
            parts.append(out_dir / f"part-{len(parts):05d}.parquet")
            writer, in_shard = pq.ParquetWriter(parts[-1], schema), 0
        size = len(row["text"].encode("utf-8"))
        buffer.append(row)
        in_shard, in_buffer = in_shard + size, in_buffer + size
        stats["documents"] += 1
        stats["text_bytes"] += size
        stats["languages"][row["language"] or "unknown"] += 1
        if in_buffer >= 32 * 1024 * 1024 or len(buffer) >= 10_000:  # one row group
            flush()
            in_buffer = 0
        if in_shard >= shard_bytes:
            flush()
            writer.close()
            writer, in_buffer = None, 0
    if writer is not None:
        flush()
        writer.close()
    names = []
    for i, part in enumerate(parts):
        names.append(f"train-{i:05d}-of-{len(parts):05d}.parquet")
        part.rename(out_dir / names[-1])
    return {**stats, "shards": names}


def _dataset_licence(inputs: list[dict]) -> str | list[str]:
    ids = sorted({str(i["licence"]).strip().lower() for i in inputs})
    return ids[0] if len(ids) == 1 else ids


def dataset_card(repo_id: str, run: str, prep_dir: Path, inputs: list[dict], stats: dict):
    """The Hub dataset card: metadata through DatasetCardData, the datasheet as its body."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from kazllm.placeholders import PLACEHOLDERS  # the one list of placeholders the masking writes

    docs = stats["documents"]
    size = next((label for limit, label in SIZE_CATEGORIES if docs < limit), "n>1T")
    name = repo_id.split("/", 1)[1]
    data = DatasetCardData(
        language=sorted(lang for lang in stats["languages"] if lang != "unknown") or None,
        license=_dataset_licence(inputs),
        task_categories=["text-generation"],
        size_categories=[size],
        pretty_name=name,
        tags=["kazakh", "kazllm"],
        configs=[
            {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*.parquet"}]}
        ],
    )
    sources = ", ".join(f"{i.get('name') or Path(i['path']).name} ({i['licence']})" for i in inputs)
    placeholders = ", ".join(f"`{p}`" for p in PLACEHOLDERS.values())
    datasheet = (prep_dir / "datasheet.md").read_text(encoding="utf-8")
    datasheet = "\n".join("#" + line if line.startswith("#") else line for line in datasheet.splitlines())
    body = f"""# {name}

Text kept by `kazllm prep` (run `{run}`): {docs:,} documents, {stats["text_bytes"] / 1e6:.2f} MB of text,
in {len(stats["shards"])} Parquet shard(s) under `data/`. Sources (licence): {sources}.

Columns: {", ".join(f"`{n}`" for n, _ in COLUMNS)}; each document's licence is in `licence`.

```python
from datasets import load_dataset
ds = load_dataset("{repo_id}", split="train")
```

## De-personalisation

Before this corpus was written, `kazllm prep` de-personalised every document under its source's policy
(the datasheet below gives each source's policy and counts). Policy `identifiers` replaces identifiers
with typed placeholders ({placeholders}) and keeps person names; policy `full` also replaces person names,
by `<PERSON>` or by a consistent fake name. `pii_masked` counts them per document. Identifiers are found by
rules (checksums where the format has one), names by a learned tagger: both miss some cases, so masking
lowers the risk but does not remove it. The records' `path` and `line` fields (where each document sat on
the machine that ran prep) are not published.

{datasheet}
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def plan_prep_push(
    prep_dir: str | Path,
    repo_id: str,
    revision: str | None = None,
    *,
    private: bool = False,
    shard_bytes: int = SHARD_BYTES,
) -> PushPlan:
    """Build the dataset (Parquet shards, card, datasheet.json) in prep/hub_dataset/ and list its commit."""
    prep_dir = Path(prep_dir)
    repo_id, revision = check_repo_id(repo_id), check_revision(revision)
    manifest_path = prep_dir / "manifest.json"
    manifest = read_json(manifest_path)
    if manifest.get("stage") != "prep":
        raise InputError(f"{manifest_path}: not a prep manifest (stage {manifest.get('stage')!r})")
    inputs = manifest.get("inputs") or []
    unknown = [
        i.get("name") or Path(i.get("path", "?")).name
        for i in inputs
        if str(i.get("licence") or "").strip().lower() in UNKNOWN_LICENCES
    ]
    if not inputs or unknown:
        raise InputError(
            f"{manifest_path}: refusing to push: source(s) {', '.join(unknown) or '(none listed)'} "
            "have no licence: set prep.inputs[].licence (e.g. cc-by-4.0) and re-run `kazllm prep`"
        )
    if not (prep_dir / "datasheet.md").is_file():
        raise InputError(f"{prep_dir / 'datasheet.md'}: missing: re-run `kazllm prep`")
    kept = [prep_dir / "kept" / name for name in manifest.get("kept_files") or []]
    missing = [p for p in kept if not p.is_file()]
    if not kept or missing:
        raise InputError(
            f"{missing[0] if missing else prep_dir / 'kept'}: no kept documents: re-run `kazllm prep`"
        )

    staging = prep_dir / DATASET_STAGING
    shutil.rmtree(staging, ignore_errors=True)
    stats = write_parquet_shards(_kept_records(kept), staging / "data", shard_bytes)
    if stats["documents"] != manifest.get("documents_kept"):
        raise InputError(
            f"{prep_dir / 'kept'}: holds {stats['documents']} documents, the manifest says "
            f"{manifest.get('documents_kept')}: kept/ changed after prep; re-run `kazllm prep`"
        )
    run = run_name(prep_dir)
    dataset_card(repo_id, run, prep_dir, inputs, stats).save(staging / "README.md")
    if (prep_dir / "datasheet.json").is_file():
        shutil.copy(prep_dir / "datasheet.json", staging / "datasheet.json")

    table = file_table(staging, exclude=())
    message = (
        f"kazllm prep: run {run}, {stats['documents']} documents "
        f"(kazllm {manifest.get('kazllm_version') or __version__})"
    )
    description = (
        f"{len(stats['shards'])} Parquet shard(s), {stats['text_bytes']:,} bytes of text; "
        f"languages {dict(stats['languages'])}."
    )
    return PushPlan(
        repo_id,
        "dataset",
        revision,
        private,
        _planned_files(staging, table),
        message,
        description,
        [f"built in {staging}"],
    )


# ---------------------------------------------------------------------------------------------------
# Showing and sending a plan
# ---------------------------------------------------------------------------------------------------


def human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def render_plan(plan: PushPlan) -> str:
    """The planned commit: repo, type, revision, visibility, message, then path / size / bytes / sha256."""
    width = max([len("path"), *(len(f.path_in_repo) for f in plan.files)])
    total = sum(f.size for f in plan.files)
    lines = [
        f"push plan: {plan.repo_type} repo {plan.repo_id}, revision {plan.revision or 'main'}"
        f"{' (created from main if new)' if plan.revision else ''}, "
        f"{'private' if plan.private else 'public'} if created (an existing repo keeps its visibility)",
        f"commit: {plan.commit_message}",
        "",
        f"  {'path':<{width}}  {'size':>10}  {'bytes':>13}  sha256",
        *(
            f"  {f.path_in_repo:<{width}}  {human_bytes(f.size):>10}  {f.size:>13,}  {f.sha256}"
            for f in plan.files
        ),
        f"  {len(plan.files)} files, {human_bytes(total)} ({total:,} bytes)",
    ]
    lines += [f"note: {note}" for note in plan.notes]
    return "\n".join(lines)


def hub_error_line(error: BaseException) -> str:
    """The first line of a hub error (and of its cause: huggingface_hub wraps upload errors), with anything
    token-like blanked (hub messages carry no headers, but a URL or an echo could)."""
    lines = []
    while error is not None and len(lines) < 3:
        for line in (str(error), getattr(error, "server_message", None) or ""):
            first = next((x.strip() for x in line.splitlines() if x.strip()), "")
            if first and first not in lines:
                lines.append(first)
        error = error.__cause__
    text = ": ".join(lines) or "no message"
    text = re.sub(r"\bhf_[A-Za-z0-9]{6,}", "hf_***", text)
    return re.sub(r"(?i)(bearer|token[=:])\s*\S+", r"\1 ***", text)[:400]


def push_plan(plan: PushPlan):
    """Create the repo (and branch) if needed and send the plan as one commit; returns huggingface_hub's
    CommitInfo. HfApi() finds the token itself: it is never read, passed or printed here."""
    from huggingface_hub import CommitOperationAdd, HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise InputError("HF_HUB_OFFLINE is set: unset it to push (or use --dry-run)")
    api = HfApi()
    operations = [
        CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local_path)) for f in plan.files
    ]
    step = "create repo"
    try:
        api.create_repo(
            plan.repo_id, repo_type=plan.repo_type, private=True if plan.private else None, exist_ok=True
        )
        if plan.revision:
            step = f"create branch {plan.revision}"
            api.create_branch(plan.repo_id, branch=plan.revision, repo_type=plan.repo_type, exist_ok=True)
        step = "commit"
        return api.create_commit(
            plan.repo_id,
            operations=operations,
            commit_message=plan.commit_message,
            commit_description=plan.commit_description,
            repo_type=plan.repo_type,
            revision=plan.revision,
        )
    except Exception as e:  # any failure of the remote service or the transport: one token-free line
        line = hub_error_line(e)
        hint = (
            " (log in with `hf auth login` or set HF_TOKEN to a token with write access)"
            if re.search(r"\b40[13]\b", line)
            else ""
        )
        raise KazllmError(
            f"push to {plan.repo_type} repo {plan.repo_id} failed at {step}: {type(e).__name__}: {line}{hint}"
        ) from None
