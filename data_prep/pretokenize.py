"""`kazllm pretokenize`: prep/kept documents -> shards/ (memmap token shards + index + manifest).

The kept JSONL is cut into work units of about `pretokenize.unit_mb` MiB (whole lines, in corpus
order). Worker processes encode units with the Rust `tokenizers` batch encoder (each worker single
threaded, so N workers use N cores without oversubscription) and write one set of shard files per
unit and split, named by unit: the output does not depend on the number of workers. Each document is
[BOS] + its ids + [EOS] when the tokenizer has a BOS token (ours: <s>; Qwen-style tokenizers have none,
and their documents are ids + [EOS]), so the model learns the same start a Hugging Face tokenizer gives
at inference; text that looks like a special token (a literal "</s>") is encoded as plain text, so EOS
only ever separates documents and BOS only ever starts one. A stable hash of the document id sends
`val_fraction` of them to the validation split.

Resumable: a unit is done when its marker (shards/units/uNNNNN.json, written last) exists and its
files have the recorded sizes; a rerun after a crash or kill redoes only the other units. A changed
input, tokenizer or shard setting starts afresh. The format (file names, dtypes, the shard writer and
the manifest's splits) is kazllm/shards.py, documented in docs/shard_format.md.

    kazllm pretokenize --config configs/quickstart.yaml
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from itertools import chain
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import orjson  # a dependency of datatrove[io]; parses JSONL lines several times faster than json
from tqdm import tqdm

from kazllm.artifacts import (
    file_sha256,
    progress_interval,
    read_json,
    require_stage,
    write_json,
    write_stage_manifest,
)
from kazllm.config import KazllmConfig
from kazllm.errors import InputError
from kazllm.shards import (
    FORMAT_VERSION,
    MAX_GROUPS_PER_UNIT,
    SPLITS,
    UnitShardWriter,
    build_manifest,
    document_bos_id,
    shard_file_sizes,
    token_dtype,
    unit_shard_pattern,
)


def is_validation(doc_id: str, fraction: float) -> bool:
    h = int.from_bytes(hashlib.sha1(doc_id.encode("utf-8")).digest()[:8], "big")
    return h / 2**64 < fraction


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------------
# One work unit (runs in a worker process): a byte range of one kept JSONL file
# ---------------------------------------------------------------------------------------------------

_TOKENIZERS: dict[str, object] = {}


def _worker_init() -> None:
    # N worker processes already use N cores: a Rust thread pool per worker would oversubscribe them
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["RAYON_NUM_THREADS"] = "1"


def load_tokenizer(path: str):
    """The Rust tokenizer with special-token text (a literal "</s>" in a document) encoded as plain text."""
    if path not in _TOKENIZERS:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(path)
        tok.encode_special_tokens = True  # like sentencepiece: control tokens never come from text
        _TOKENIZERS[path] = tok
    return _TOKENIZERS[path]


def iter_unit_documents(file: str, start: int, end: int):
    """(id, text, source, language) of the JSONL lines that start inside [start, end)."""
    with open(file, "rb") as f:
        f.seek(start)
        pos = start
        while pos < end:
            line = f.readline()
            if not line:
                break
            line_start, pos = pos, pos + len(line)
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise InputError(f"{file} (byte {line_start}): not valid JSON: {e}") from None
            meta = rec.get("metadata") or {}
            yield rec["id"], rec["text"], str(meta.get("source", "?")), str(meta.get("language", "?"))


def encode_unit(task: dict) -> dict:
    """Encode one unit, write its shard files and, last, its completion marker; returns the marker."""
    out_dir, unit = Path(task["out_dir"]), task["unit"]
    for split in SPLITS:  # leftovers of an interrupted attempt
        for stale in (out_dir / split).glob(unit_shard_pattern(unit)):
            stale.unlink()
    tokenizer = load_tokenizer(task["tokenizer"])
    dtype, eos = np.dtype(task["dtype"]), task["eos_id"]
    head = [] if task["bos_id"] is None else [task["bos_id"]]
    writers = {s: UnitShardWriter(out_dir / s, unit, dtype, task["tokens_per_shard"]) for s in SPLITS}
    groups: dict[tuple[str, str], int] = {}
    counts = {s: defaultdict(lambda: [0, 0]) for s in SPLITS}  # split -> local group -> [tokens, docs]

    def flush(batch: list[tuple[str, str, str, str]]) -> None:
        encodings = tokenizer.encode_batch([text for _, text, _, _ in batch], add_special_tokens=False)
        by_split: dict[str, tuple[list, list, list]] = {s: ([], [], []) for s in SPLITS}
        for (doc_id, _, source, language), enc in zip(batch, encodings):
            ids = head + enc.ids
            ids.append(eos)
            gid = groups.setdefault((source, language), len(groups))
            split = "val" if is_validation(doc_id, task["val_fraction"]) else "train"
            seqs, lens, grps = by_split[split]
            seqs.append(ids)
            lens.append(len(ids))
            grps.append(gid)
            row = counts[split][gid]
            row[0] += len(ids)
            row[1] += 1
        for split, (seqs, lens, grps) in by_split.items():
            if seqs:
                lengths = np.asarray(lens, dtype=np.int64)
                tokens = np.fromiter(chain.from_iterable(seqs), dtype=dtype, count=int(lengths.sum()))
                writers[split].add_batch(tokens, lengths, np.asarray(grps, dtype=np.int64))

    batch = []
    for doc in iter_unit_documents(task["file"], task["start"], task["end"]):
        batch.append(doc)
        if len(batch) == task["batch_size"]:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    if len(groups) > MAX_GROUPS_PER_UNIT:
        raise InputError(
            f"{task['file']}: more than {MAX_GROUPS_PER_UNIT} (source, language) groups in one unit"
        )
    marker = {
        "unit": unit,
        "groups": [{"source": s, "language": lang} for s, lang in groups],
        "splits": {
            s: {"shards": writers[s].finish(), "counts": {str(g): c for g, c in counts[s].items()}}
            for s in SPLITS
        },
    }
    write_json(out_dir / "units" / f"u{unit:05d}.json", marker)
    return marker


# ---------------------------------------------------------------------------------------------------
# Planning, resuming and the manifest
# ---------------------------------------------------------------------------------------------------


def plan_units(files: list[Path], unit_bytes: int) -> list[dict]:
    """Cut every file into byte ranges of about `unit_bytes` that start at line starts."""
    units = []
    for file in files:
        size = file.stat().st_size
        starts = [0]
        with open(file, "rb") as f:
            while starts[-1] + unit_bytes < size:
                f.seek(starts[-1] + unit_bytes)
                f.readline()  # to the start of the next line
                if f.tell() >= size:
                    break
                starts.append(f.tell())
        for a, b in zip(starts, starts[1:] + [size]):
            units.append({"file": str(file), "start": a, "end": b})
    return units


def unit_is_done(out_dir: Path, unit: int, dtype: np.dtype) -> dict | None:
    """The unit's marker if it exists and every file it lists has the recorded size."""
    path = out_dir / "units" / f"u{unit:05d}.json"
    if not path.is_file():
        return None
    marker = read_json(path)
    for split in marker["splits"].values():
        for shard in split["shards"]:
            for key, expected in shard_file_sizes(shard, dtype).items():
                f = out_dir / shard[key]
                if not f.is_file() or f.stat().st_size != expected:
                    return None
    return marker


def run_pretokenize(cfg: KazllmConfig, workers: int | None = None) -> dict:
    from data_prep.pipeline import kept_files

    prep_dir = require_stage(cfg, "prep", "kazllm prep")
    tok_dir = require_stage(cfg, "tokenizer", "kazllm tokenizer train")
    tok_manifest = read_json(tok_dir / "manifest.json")
    tok_json = tok_dir / "hf" / "tokenizer.json"
    vocab_size = tok_manifest["vocab_size"]  # the parent never loads the tokenizer: only workers encode
    eos_id = tok_manifest["special_tokens"]["eos"]["id"]
    bos_id = document_bos_id(tok_manifest)
    dtype = token_dtype(vocab_size)
    pc = cfg.pretokenize
    files = kept_files(prep_dir)
    if not files:
        raise InputError(f"{prep_dir}/kept has no documents: nothing to pretokenize")

    out_dir = cfg.stage_dir("shards")
    fingerprint = {
        "format_version": FORMAT_VERSION,
        "kept_files": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files],
        "tokenizer_json_sha256": file_sha256(tok_json),
        "eos_id": eos_id,
        "bos_id": bos_id,
        "dtype": dtype.name,
        "val_fraction": pc.val_fraction,
        "tokens_per_shard": pc.tokens_per_shard,
        "unit_bytes": int(pc.unit_mb * 2**20),
    }
    plan_path = out_dir / "units" / "plan.json"
    if not plan_path.is_file() or read_json(plan_path).get("fingerprint") != fingerprint:
        shutil.rmtree(out_dir, ignore_errors=True)  # other inputs or settings: nothing is reusable
        write_json(
            plan_path, {"fingerprint": fingerprint, "units": plan_units(files, fingerprint["unit_bytes"])}
        )
    (out_dir / "manifest.json").unlink(missing_ok=True)  # the stage is complete only when it is rewritten
    units = read_json(plan_path)["units"]

    markers: dict[int, dict] = {}
    todo = []
    for i, u in enumerate(units):
        if (done := unit_is_done(out_dir, i, dtype)) is not None:
            markers[i] = done
        else:
            todo.append(
                {
                    **u,
                    "unit": i,
                    "out_dir": str(out_dir),
                    "tokenizer": str(tok_json),
                    "dtype": dtype.name,
                    "eos_id": eos_id,
                    "bos_id": bos_id,
                    "val_fraction": pc.val_fraction,
                    "tokens_per_shard": pc.tokens_per_shard,
                    "batch_size": pc.batch_size,
                }
            )
    n_workers = max(1, min(workers or pc.workers or available_cores(), len(todo)))
    bar = tqdm(
        total=sum(t["end"] - t["start"] for t in todo),
        desc="pretokenize",
        unit="B",
        unit_scale=True,
        mininterval=progress_interval(),
    )
    if n_workers == 1:
        for task in todo:
            markers[task["unit"]] = encode_unit(task)
            bar.update(task["end"] - task["start"])
    else:
        spawn = get_context("spawn")
        with ProcessPoolExecutor(n_workers, mp_context=spawn, initializer=_worker_init) as pool:
            futures = {pool.submit(encode_unit, t): t for t in todo}
            try:
                for fut in as_completed(futures):
                    marker = fut.result()
                    markers[marker["unit"]] = marker
                    bar.update(futures[fut]["end"] - futures[fut]["start"])
            except BaseException as e:
                pool.shutdown(cancel_futures=True)  # stop at the first failure; finished units stay done
                if not isinstance(e, BrokenProcessPool):
                    raise
                raise InputError(
                    f"a pretokenize worker died (killed or out of memory); {len(markers)} of {len(units)} "
                    f"units are finished and kept: rerun the same command to do the rest"
                ) from None
    bar.close()

    result = {
        "format_version": FORMAT_VERSION,
        "dtype": dtype.name,
        "vocab_size": vocab_size,
        "eos_id": eos_id,
        "bos_id": bos_id,  # null: documents have no BOS (the tokenizer has none)
        # the sentencepiece model's checksum, or an extended tokenizer's tokenizer.json (no spm model there)
        "tokenizer_sha256": tok_manifest.get("spm_sha256") or tok_manifest["tokenizer_sha256"],
        "tokenizer_json_sha256": fingerprint["tokenizer_json_sha256"],
        "units": len(units),
        "workers": n_workers,
        **build_manifest([markers[i] for i in range(len(units))], dtype),
    }
    # kept for readers of the first manifest version: "split/source/language" -> tokens
    result["tokens_by_split_source_language"] = {
        f"{split}/{g['source']}/{g['language']}": row["tokens"]
        for split in SPLITS
        for g, row in zip(result["groups"], result["splits"][split]["by_group"])
        if row["tokens"]
    }
    write_stage_manifest(cfg, "shards", **result)
    return result
