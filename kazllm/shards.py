"""The token shard format in one place: its constants, the writer `kazllm pretokenize` uses and the reader
training uses (docs/shard_format.md describes it in full).

One directory per split (SPLITS), e.g. shards/train/, holding per work unit UUUUU and part PPP
    tokens_UUUUU_PPP.bin   flat token ids, token_dtype(vocab_size): uint16 when the vocabulary fits, else
                           uint32; each document is [BOS] + ids + [EOS] (document_bos_id: no BOS when the
                           tokenizer has none), so EOS is the one separator.
    tokens_UUUUU_PPP.idx   INDEX_DTYPE offsets: document i spans tokens [idx[i], idx[i+1]), its BOS and
                           EOS included.
    tokens_UUUUU_PPP.grp   GROUP_DTYPE per document: its (source, language) group, local to the shard;
                           the manifest's shard entry (`group_ids`) maps it to the global `groups` table.
shards/manifest.json names the dtype, EOS, BOS, tokenizer, groups, per-shard counts and sha256 checksums.

    writer = UnitShardWriter(shards_dir / "train", unit=0, dtype=token_dtype(vocab_size), tokens_per_shard=N)
    writer.add_batch(tokens, lengths, groups)      # data_prep/pretokenize.py, per work unit
    entries = writer.finish()                      # the unit's shard entries, for build_manifest
    reader = TokenShardReader("runs/quickstart/shards", "train")   # kazllm.data.SequenceLoader reads it
    reader.document(0), reader.sequence(3, seq_len=256)
"""

from __future__ import annotations

import bisect
import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from kazllm.artifacts import file_sha256, read_json
from kazllm.errors import InputError

SPLITS = ("train", "val")
"""The split directories `kazllm pretokenize` writes (a manifest lists the ones it has)."""
FORMAT_VERSION = 3
"""3: documents start with BOS when the tokenizer has one (`bos_id` in the manifest); 2: no BOS."""
INDEX_DTYPE = np.dtype(np.int64)
"""Document offsets in a .idx file."""
GROUP_DTYPE = np.dtype(np.uint16)
"""Shard-local group of every document in a .grp file."""
MAX_GROUPS_PER_UNIT = int(np.iinfo(GROUP_DTYPE).max)
"""(source, language) groups one work unit may hold: its local group ids must fit GROUP_DTYPE."""
SHARD_FILES = (("file", "sha256"), ("index", "index_sha256"), ("group_file", "group_sha256"))
"""A shard entry's files: (key of the path, key of its sha256) for the .bin, .idx and .grp file."""


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id of the vocabulary fits, else uint32."""
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


def document_bos_id(tok_manifest: dict) -> int | None:
    """The id that starts every document: the tokenizer's BOS (tokenizer manifest special_tokens.bos), or
    None when it has none (Qwen) or its BOS is its EOS (GPT-2 style), where EOS alone already separates
    documents and a leading one would read as an empty document to EOS-based document masking."""
    bos = (tok_manifest.get("special_tokens") or {}).get("bos")
    if not bos or bos["id"] == tok_manifest["special_tokens"]["eos"]["id"]:
        return None
    return int(bos["id"])


def shard_name(unit: int, part: int) -> str:
    """File name of a shard without its suffix: named by unit, so the output does not depend on workers."""
    return f"tokens_{unit:05d}_{part:03d}"


def unit_shard_pattern(unit: int) -> str:
    """Glob pattern of every file of one unit's shards in a split directory."""
    return f"tokens_{unit:05d}_*"


def shard_file_sizes(shard: dict, dtype: np.dtype) -> dict[str, int]:
    """The bytes each file of a shard entry must have, by the entry key of its path."""
    return {
        "file": dtype.itemsize * shard["tokens"],
        "index": INDEX_DTYPE.itemsize * (shard["documents"] + 1),
        "group_file": GROUP_DTYPE.itemsize * shard["documents"],
    }


# ---------------------------------------------------------------------------------------------------
# Writing: one unit's documents of one split -> tokens_UUUUU_PPP.{bin,idx,grp}
# ---------------------------------------------------------------------------------------------------


class UnitShardWriter:
    """Appends encoded batches to the shard files of one (unit, split), rolling over at a token budget.

    A shard closes after the document that reaches `tokens_per_shard`, so documents never straddle
    shards. Checksums are computed while writing, so finished files are never read back."""

    def __init__(self, out_dir: Path, unit: int, dtype: np.dtype, tokens_per_shard: int):
        self.out_dir, self.unit, self.dtype, self.budget = out_dir, unit, dtype, tokens_per_shard
        out_dir.mkdir(parents=True, exist_ok=True)
        self.shards: list[dict] = []
        self._file = None

    def _open(self) -> None:
        self._name = shard_name(self.unit, len(self.shards))
        self._file = open(self.out_dir / f"{self._name}.bin", "wb")
        self._hash = hashlib.sha256()
        self._tokens = 0
        self._lengths: list[np.ndarray] = []
        self._groups: list[np.ndarray] = []

    def _write_small(self, suffix: str, arr: np.ndarray) -> str:
        data = arr.tobytes()
        (self.out_dir / f"{self._name}.{suffix}").write_bytes(data)
        return hashlib.sha256(data).hexdigest()

    def _close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        lengths = np.concatenate(self._lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(INDEX_DTYPE)
        split = self.out_dir.name
        self.shards.append(
            {
                "file": f"{split}/{self._name}.bin",
                "index": f"{split}/{self._name}.idx",
                "group_file": f"{split}/{self._name}.grp",
                "tokens": int(offsets[-1]),
                "documents": len(lengths),
                "sha256": self._hash.hexdigest(),
                "index_sha256": self._write_small("idx", offsets),
                "group_sha256": self._write_small("grp", np.concatenate(self._groups).astype(GROUP_DTYPE)),
            }
        )
        self._file = None

    def add_batch(self, tokens: np.ndarray, lengths: np.ndarray, groups: np.ndarray) -> None:
        """`tokens`: the batch's documents (EOS included) back to back; `lengths`/`groups` per document."""
        tok_pos = doc_pos = 0
        while doc_pos < len(lengths):
            if self._file is None:
                self._open()
            # the first document whose end reaches the budget closes this shard
            ends = self._tokens + np.cumsum(lengths[doc_pos:])
            full = int(np.searchsorted(ends, self.budget, side="left"))
            take = min(full + 1, len(lengths) - doc_pos)
            n_tok = int(ends[take - 1] - self._tokens)
            data = tokens[tok_pos : tok_pos + n_tok].tobytes()
            self._file.write(data)
            self._hash.update(data)
            self._lengths.append(lengths[doc_pos : doc_pos + take])
            self._groups.append(groups[doc_pos : doc_pos + take])
            self._tokens += n_tok
            tok_pos += n_tok
            doc_pos += take
            if self._tokens >= self.budget:
                self._close()

    def finish(self) -> list[dict]:
        """Close the open shard; the shard entries written, in order."""
        self._close()
        return self.shards


def build_manifest(markers: list[dict], dtype: np.dtype) -> dict:
    """The manifest's `groups` and `splits` from the units' results, in unit order: a global group table
    (sorted), shard lists with the local-to-global `group_ids`, token/document counts per source and language.

    A unit's result: {"groups": [{"source", "language"}] (its local ids), "splits": {split: {"shards": the
    writer's entries, "counts": {local group id as str: [tokens, documents]}}}}."""
    groups = sorted({(g["source"], g["language"]) for m in markers for g in m["groups"]})
    gid = {g: i for i, g in enumerate(groups)}
    splits = {}
    for split in SPLITS:
        shards, by_group = [], np.zeros((len(groups), 2), dtype=np.int64)
        for m in markers:
            local_to_global = [gid[(g["source"], g["language"])] for g in m["groups"]]
            for shard in m["splits"][split]["shards"]:
                shards.append({**shard, "group_ids": local_to_global})
            for local, (tokens, docs) in m["splits"][split]["counts"].items():
                by_group[local_to_global[int(local)]] += (tokens, docs)
        by_source: dict[str, dict] = defaultdict(lambda: {"tokens": 0, "documents": 0})
        by_language: dict[str, dict] = defaultdict(lambda: {"tokens": 0, "documents": 0})
        for (source, language), (tokens, docs) in zip(groups, by_group.tolist()):
            for table, key in ((by_source, source), (by_language, language)):
                table[key]["tokens"] += tokens
                table[key]["documents"] += docs
        bytes_per_token = dtype.itemsize
        splits[split] = {
            "tokens": int(by_group[:, 0].sum()),
            "documents": int(by_group[:, 1].sum()),
            "bytes": int(by_group[:, 0].sum()) * bytes_per_token,
            "by_source": dict(sorted(by_source.items())),
            "by_language": dict(sorted(by_language.items())),
            "by_group": [{"tokens": t, "documents": d} for t, d in by_group.tolist()],
            "shards": shards,
        }
    return {"groups": [{"source": s, "language": lang} for s, lang in groups], "splits": splits}


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------


class TokenShardReader:
    """Random access to documents, token spans and fixed-length windows across all shards of one split.

    Opening checks every shard against its manifest entry (present, sizes agree with the counts);
    `verify()` also compares sha256 checksums (reads every byte)."""

    def __init__(self, shards_dir: str | Path, split: str = "train"):
        self.shards_dir = shards_dir = Path(shards_dir)
        manifest = read_json(shards_dir / "manifest.json")
        if split not in manifest["splits"]:
            raise InputError(f"{shards_dir}/manifest.json has no split '{split}'")
        self.manifest, self.split = manifest, split
        self.dtype = np.dtype(manifest["dtype"])
        self.eos_id = manifest["eos_id"]
        self.groups: list[dict] = manifest.get("groups") or [{"source": "?", "language": "?"}]
        self.shards: list[dict] = manifest["splits"][split]["shards"]
        self.tokens: list[np.memmap] = []
        offsets, doc_groups, start = [], [], 0
        for shard in self.shards:
            tokens, idx, grp = self._open_shard(shard)
            self.tokens.append(tokens)
            offsets.append(idx[:-1] + start)
            doc_groups.append(grp)
            start += len(tokens)
        self.shard_starts = np.cumsum([0] + [len(t) for t in self.tokens]).astype(np.int64)
        self._starts = self.shard_starts.tolist()
        self.num_tokens = int(self.shard_starts[-1])
        self.doc_starts = np.concatenate(offsets + [np.array([self.num_tokens], dtype=np.int64)])
        """Global start of every document, and the end of the last one: document i is
        [doc_starts[i], doc_starts[i+1])."""
        self.doc_groups = np.concatenate(doc_groups) if doc_groups else np.zeros(0, dtype=np.int64)
        """Index into `groups` of every document."""
        self.num_documents = len(self.doc_starts) - 1

    def _corrupt(self, path: Path, why: str) -> InputError:
        return InputError(
            f"token shard {path} {why} (listed in {self.shards_dir}/manifest.json): "
            f"rerun `kazllm pretokenize` with the same config to rebuild it"
        )

    def _open_shard(self, shard: dict) -> tuple[np.memmap, np.ndarray, np.ndarray]:
        # the first manifest version has no .grp files
        keys = ("file", "index") + (("group_file",) if "group_file" in shard else ())
        paths = [self.shards_dir / shard[key] for key in keys]
        for path in paths:
            if not path.is_file():
                raise self._corrupt(path, "is missing")
        size = paths[0].stat().st_size
        if size != shard_file_sizes(shard, self.dtype)["file"]:
            raise self._corrupt(paths[0], f"has {size} bytes, not {shard['tokens']} tokens")
        idx = np.fromfile(paths[1], dtype=INDEX_DTYPE)
        if (
            len(idx) != shard["documents"] + 1
            or idx[0] != 0
            or idx[-1] != shard["tokens"]
            or (np.diff(idx) <= 0).any()
        ):
            raise self._corrupt(paths[1], "is not a valid document index")
        if len(paths) == 3:
            local = np.fromfile(paths[2], dtype=GROUP_DTYPE)
            table = np.asarray(shard["group_ids"], dtype=np.int64)
            if len(local) != shard["documents"] or (len(local) and local.max() >= len(table)):
                raise self._corrupt(paths[2], "is not a valid group file")
            groups = table[local]
        else:  # first manifest version: no groups
            groups = np.zeros(shard["documents"], dtype=np.int64)
        return np.memmap(paths[0], dtype=self.dtype, mode="r"), idx, groups

    def verify(self) -> None:
        """Compare every shard file with the sha256 in the manifest; raise naming the first that differs."""
        for shard in self.shards:
            for key, sha in SHARD_FILES:
                if key in shard and sha in shard and file_sha256(self.shards_dir / shard[key]) != shard[sha]:
                    raise self._corrupt(self.shards_dir / shard[key], "does not match its sha256 checksum")

    def document(self, i: int) -> np.ndarray:
        """Document i's tokens, its BOS and EOS included."""
        if not 0 <= i < self.num_documents:
            raise IndexError(f"document {i} of {self.num_documents}")
        start = int(self.doc_starts[i])
        return self.span(start, int(self.doc_starts[i + 1]) - start)

    def document_group(self, i: int) -> dict:
        """{"source", "language"} of document i."""
        return self.groups[int(self.doc_groups[i])]

    def span(self, start: int, length: int) -> np.ndarray:
        """`length` tokens from global position `start`, crossing shard boundaries if needed."""
        end = start + length
        if start < 0 or length < 0 or end > self.num_tokens:
            raise IndexError(
                f"tokens [{start}, {end}) outside the {self.num_tokens} tokens of split {self.split}"
            )
        # bisect: a numpy call costs more on a short list
        shard = bisect.bisect_right(self._starts, start) - 1
        local = start - self._starts[shard]
        if local + length <= len(self.tokens[shard]):  # the common case: one memmap slice, no copy
            return np.asarray(self.tokens[shard][local : local + length])
        pieces, pos = [], start
        while pos < end:
            local = pos - int(self.shard_starts[shard])
            take = min(end - pos, len(self.tokens[shard]) - local)
            pieces.append(self.tokens[shard][local : local + take])
            pos += take
            shard += 1
        return np.concatenate(pieces)

    def num_sequences(self, seq_len: int) -> int:
        """Whole windows of seq_len + 1 tokens in the split (consecutive windows share one token)."""
        return max(0, (self.num_tokens - 1) // seq_len)

    def sequence(self, i: int, seq_len: int) -> np.ndarray:
        """Window i of the whole split: seq_len + 1 tokens (the last one is the final label)."""
        return self.span(i * seq_len, seq_len + 1)
