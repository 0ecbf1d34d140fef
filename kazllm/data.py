"""Token shards on disk and the deterministic, resumable training loader that reads them.

Shard format (one directory per split, e.g. shards/train/):
    tokens_00000.bin   flat token ids, dtype uint16 when the vocabulary fits, else uint32;
                       each document is followed by one EOS id.
    tokens_00000.idx   int64 offsets: document i spans tokens [idx[i], idx[i+1]) (EOS included).
The split's manifest (shards/manifest.json) names the dtype, the tokenizer, and per-shard counts
and checksums.

The loader cuts the concatenated token stream into fixed windows of seq_len + 1 tokens (inputs and
shifted labels), visits them in a seeded permutation per epoch, and deals each global batch to the
ranks. Its state is one number, the count of sequences consumed, so a run resumes exactly, also on
a different number of ranks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kazllm.artifacts import read_json
from kazllm.errors import InputError


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


class TokenShardReader:
    """Random access to documents and to fixed-length windows across all shards of one split."""

    def __init__(self, shards_dir: str | Path, split: str = "train"):
        shards_dir = Path(shards_dir)
        manifest = read_json(shards_dir / "manifest.json")
        if split not in manifest["splits"]:
            raise InputError(f"{shards_dir}/manifest.json has no split '{split}'")
        self.manifest = manifest
        self.dtype = np.dtype(manifest["dtype"])
        self.eos_id = manifest["eos_id"]
        self.tokens: list[np.memmap] = []
        self.doc_offsets: list[np.ndarray] = []
        for shard in manifest["splits"][split]["shards"]:
            path = shards_dir / shard["file"]
            if not path.is_file():
                raise InputError(f"missing token shard {path} (listed in {shards_dir}/manifest.json)")
            self.tokens.append(np.memmap(path, dtype=self.dtype, mode="r"))
            self.doc_offsets.append(np.fromfile(shards_dir / shard["index"], dtype=np.int64))
        self.shard_starts = np.cumsum([0] + [len(t) for t in self.tokens])
        self.num_tokens = int(self.shard_starts[-1])
        self.num_documents = sum(len(o) - 1 for o in self.doc_offsets)

    def document(self, i: int) -> np.ndarray:
        for offsets, tokens in zip(self.doc_offsets, self.tokens):
            if i < len(offsets) - 1:
                return np.asarray(tokens[offsets[i] : offsets[i + 1]])
            i -= len(offsets) - 1
        raise IndexError(i)

    def span(self, start: int, length: int) -> np.ndarray:
        """`length` tokens from global position `start`, crossing shard boundaries if needed."""
        pieces, pos, end = [], start, start + length
        shard = int(np.searchsorted(self.shard_starts, pos, side="right") - 1)
        while pos < end:
            local = pos - self.shard_starts[shard]
            take = min(end - pos, len(self.tokens[shard]) - local)
            pieces.append(self.tokens[shard][local : local + take])
            pos += take
            shard += 1
        return np.concatenate(pieces) if len(pieces) > 1 else np.asarray(pieces[0])

    def num_sequences(self, seq_len: int) -> int:
        return max(0, (self.num_tokens - 1) // seq_len)

    def sequence(self, i: int, seq_len: int) -> np.ndarray:
        """Window i: seq_len + 1 tokens (the last one is the final label)."""
        return self.span(i * seq_len, seq_len + 1)


@dataclass
class LoaderState:
    consumed: int = 0
    """Sequences consumed by the whole job (all ranks) so far."""


class SequenceLoader:
    """Deterministic global order of windows; each call to `next_micro_batch` returns this rank's slice."""

    def __init__(self, reader: TokenShardReader, seq_len: int, micro_batch_size: int, rank: int, world_size: int, seed: int):
        self.reader, self.seq_len = reader, seq_len
        self.micro_batch_size, self.rank, self.world_size, self.seed = micro_batch_size, rank, world_size, seed
        self.num_sequences = reader.num_sequences(seq_len)
        if self.num_sequences < micro_batch_size * world_size:
            raise InputError(
                f"only {self.num_sequences} sequences of {seq_len} tokens in the shards: fewer than one batch "
                f"({micro_batch_size} x {world_size} ranks); lower train.seq_len or add data"
            )
        self.state = LoaderState()
        self._perm_epoch, self._perm = -1, np.empty(0, dtype=np.int64)

    def _window_at(self, position: int) -> int:
        epoch, offset = divmod(position, self.num_sequences)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.num_sequences)
            self._perm_epoch = epoch
        return int(self._perm[offset])

    def next_micro_batch(self) -> dict[str, torch.Tensor]:
        start = self.state.consumed + self.rank * self.micro_batch_size
        rows = [self.reader.sequence(self._window_at(start + j), self.seq_len) for j in range(self.micro_batch_size)]
        self.state.consumed += self.micro_batch_size * self.world_size
        batch = torch.from_numpy(np.stack(rows).astype(np.int64))
        return {"input_ids": batch[:, :-1], "labels": batch[:, 1:]}

    def state_dict(self) -> dict:
        return {"consumed": self.state.consumed, "seed": self.seed, "seq_len": self.seq_len}

    def load_state_dict(self, state: dict) -> None:
        if state["seq_len"] != self.seq_len or state["seed"] != self.seed:
            raise InputError(f"loader state was saved with seq_len/seed {state['seq_len']}/{state['seed']}")
        self.state.consumed = int(state["consumed"])
