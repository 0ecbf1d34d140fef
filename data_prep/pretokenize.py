"""`kazllm pretokenize`: prep/kept documents -> shards/ (memmap token shards + index + manifest).

Documents are encoded with the Rust `tokenizers` batch encoder from tokenizer/hf/tokenizer.json,
followed by one EOS each. A stable hash of the document id sends `val_fraction` of them to the
validation split. The format is documented in kazllm/data.py.

    kazllm pretokenize --config configs/quickstart.yaml
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from kazllm.artifacts import (
    file_sha256,
    iter_jsonl,
    progress_interval,
    read_json,
    require_stage,
    write_stage_manifest,
)
from kazllm.config import KazllmConfig
from kazllm.data import token_dtype


def is_validation(doc_id: str, fraction: float) -> bool:
    h = int.from_bytes(hashlib.sha1(doc_id.encode("utf-8")).digest()[:8], "big")
    return h / 2**64 < fraction


class ShardWriter:
    """Appends documents to tokens_NNNNN.bin / .idx files of one split, rolling over at a token budget."""

    def __init__(self, out_dir: Path, dtype: np.dtype, tokens_per_shard: int):
        self.out_dir, self.dtype, self.tokens_per_shard = out_dir, dtype, tokens_per_shard
        out_dir.mkdir(parents=True, exist_ok=True)
        self.shards: list[dict] = []
        self._file = None
        self._offsets: list[int] = []

    def _open(self) -> None:
        name = f"tokens_{len(self.shards):05d}"
        self._name = name
        self._file = open(self.out_dir / f"{name}.bin", "wb")
        self._offsets = [0]

    def _close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        np.asarray(self._offsets, dtype=np.int64).tofile(self.out_dir / f"{self._name}.idx")
        split = self.out_dir.name
        self.shards.append({
            "file": f"{split}/{self._name}.bin",
            "index": f"{split}/{self._name}.idx",
            "tokens": self._offsets[-1],
            "documents": len(self._offsets) - 1,
            "sha256": file_sha256(self.out_dir / f"{self._name}.bin"),
        })
        self._file = None

    def add(self, ids: list[int]) -> None:
        if self._file is None:
            self._open()
        self._file.write(np.asarray(ids, dtype=self.dtype).tobytes())
        self._offsets.append(self._offsets[-1] + len(ids))
        if self._offsets[-1] >= self.tokens_per_shard:
            self._close()

    def finish(self) -> dict:
        self._close()
        return {
            "shards": self.shards,
            "tokens": sum(s["tokens"] for s in self.shards),
            "documents": sum(s["documents"] for s in self.shards),
        }


def iter_kept_documents(prep_dir: Path):
    from data_prep.pipeline import kept_files

    for rec in iter_jsonl(kept_files(prep_dir)):
        yield rec["id"], rec["text"], rec.get("metadata", {})


def run_pretokenize(cfg: KazllmConfig) -> dict:
    prep_dir = require_stage(cfg, "prep", "kazllm prep")
    tok_dir = require_stage(cfg, "tokenizer", "kazllm tokenizer train")
    tok_manifest = read_json(tok_dir / "manifest.json")
    tokenizer = Tokenizer.from_file(str(tok_dir / "hf" / "tokenizer.json"))
    vocab_size = tokenizer.get_vocab_size()
    eos_id = tok_manifest["special_tokens"]["eos"]["id"]
    dtype = token_dtype(vocab_size)

    out_dir = cfg.stage_dir("shards")
    shutil.rmtree(out_dir, ignore_errors=True)
    pc = cfg.pretokenize
    writers = {s: ShardWriter(out_dir / s, dtype, pc.tokens_per_shard) for s in ("train", "val")}
    tokens_by_source: Counter[str] = Counter()
    docs = list(iter_kept_documents(prep_dir))
    with tqdm(total=len(docs), desc="pretokenize", unit="doc", mininterval=progress_interval()) as bar:
        for start in range(0, len(docs), pc.batch_size):
            batch = docs[start : start + pc.batch_size]
            encodings = tokenizer.encode_batch([text for _, text, _ in batch], add_special_tokens=False)
            for (doc_id, _, meta), enc in zip(batch, encodings):
                ids = enc.ids + [eos_id]
                split = "val" if is_validation(doc_id, pc.val_fraction) else "train"
                writers[split].add(ids)
                tokens_by_source[f"{split}/{meta.get('source', '?')}/{meta.get('language', '?')}"] += len(ids)
            bar.update(len(batch))
    splits = {s: w.finish() for s, w in writers.items()}
    result = {
        "dtype": dtype.name,
        "vocab_size": vocab_size,
        "eos_id": eos_id,
        "tokenizer_sha256": tok_manifest["spm_sha256"],
        "splits": splits,
        "tokens_by_split_source_language": dict(sorted(tokens_by_source.items())),
    }
    write_stage_manifest(cfg, "shards", **result)
    return result
