"""The deterministic, resumable training loader over token shards (the format, its writer and its reader,
TokenShardReader, are kazllm/shards.py; docs/shard_format.md describes both).

The loader cuts token streams into windows of seq_len + 1 tokens (inputs and shifted labels; documents
are packed back to back with their EOS) and visits them in an order that is a function of the seed
and the global position only; each rank takes its slice of every global micro-batch. Its state is the
count of sequences consumed by the whole job, so a run resumes exactly, also on another number of ranks.

    reader = TokenShardReader("runs/quickstart/shards", "train")   # from kazllm.shards
    loader = SequenceLoader(reader, seq_len=256, micro_batch_size=4, rank=0, world_size=1, seed=1234,
                            mixture={"kk": 1.0}, document_masking=True)
    batch = loader.next_micro_batch()   # input_ids, labels, position_ids: int64 [4, 256]
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kazllm.errors import InputError

if TYPE_CHECKING:
    import torch

    from kazllm.shards import TokenShardReader

MIXTURE_CHUNK = 4096
"""Positions per block of the mixture schedule: every block holds each component's quota exactly, so a
weight is met to within 1/MIXTURE_CHUNK and any position is found without replaying the ones before it."""


# ---------------------------------------------------------------------------------------------------
# Mixture components: a token stream made of the documents of some groups, in corpus order
# ---------------------------------------------------------------------------------------------------


@dataclass
class Component:
    """A virtual token stream: the documents of some groups back to back, cut into windows."""

    name: str
    weight: float
    doc_starts: np.ndarray
    """Start of every document in the virtual stream, plus its end."""
    run_starts: np.ndarray
    """Virtual start of every run of consecutive documents of the split, plus the end."""
    run_global: np.ndarray
    """Global token position of each run's start."""
    seed_key: int
    num_windows: int = 0


def build_component(
    reader: TokenShardReader, name: str, weight: float, docs: np.ndarray, seq_len: int
) -> Component:
    lengths = reader.doc_starts[docs + 1] - reader.doc_starts[docs]
    doc_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    run_first = np.flatnonzero(np.diff(docs, prepend=-2) != 1)  # documents that start a run
    run_starts = np.concatenate([doc_starts[run_first], doc_starts[-1:]])
    comp = Component(
        name,
        weight,
        doc_starts,
        run_starts,
        reader.doc_starts[docs[run_first]],
        seed_key=zlib.crc32(name.encode("utf-8")),
    )
    comp.num_windows = max(0, (int(doc_starts[-1]) - 1) // seq_len)
    return comp


def mixture_components(
    reader: TokenShardReader, mixture: dict[str, float] | None, seq_len: int
) -> list[Component]:
    """One component per positive mixture key. A group belongs to the key "source:<its source>" if the
    mixture has one, else to the key of its language; every group must belong to some key."""
    if not mixture:
        return [build_component(reader, "all", 1.0, np.arange(reader.num_documents), seq_len)]
    member: dict[str, list[int]] = {key: [] for key in mixture}
    unmatched = []
    for g, group in enumerate(reader.groups):
        key = f"source:{group['source']}" if f"source:{group['source']}" in mixture else group["language"]
        (member[key] if key in mixture else unmatched).append(g)
    if unmatched:
        names = ", ".join(
            f"source:{reader.groups[g]['source']} ({reader.groups[g]['language']})" for g in unmatched
        )
        raise InputError(
            f"train.mixture gives no weight to {names}: add its language or source (weight 0 leaves it out)"
        )
    if empty := [k for k, gs in member.items() if not gs]:
        known = sorted(
            {g["language"] for g in reader.groups} | {f"source:{g['source']}" for g in reader.groups}
        )
        raise InputError(
            f"train.mixture key(s) {', '.join(empty)} match no documents; known: {', '.join(known)}"
        )
    total = sum(w for w in mixture.values())
    comps = []
    for key, weight in mixture.items():
        if weight > 0:
            docs = np.flatnonzero(np.isin(reader.doc_groups, member[key]))
            comps.append(build_component(reader, key, weight / total, docs, seq_len))
    return comps


def chunk_quotas(weights: list[float], chunk: int) -> np.ndarray:
    """Positions per component in a block of `chunk` (largest remainder; every positive weight gets one)."""
    raw = np.asarray(weights) * chunk
    quota = np.floor(raw).astype(np.int64)
    for i in np.argsort(-(raw - quota), kind="stable")[: chunk - quota.sum()]:
        quota[i] += 1
    while (quota == 0).any():
        quota[int(np.argmax(quota))] -= 1
        quota[int(np.argmin(quota))] += 1
    return quota


# ---------------------------------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------------------------------


class SequenceLoader:
    """Deterministic global order of windows; each call to `next_micro_batch` returns this rank's slice.

    Global position p (sequences consumed by all ranks before it) maps to a sample as follows.
    Natural proportions (no mixture): window perm_e[p mod n] of the whole split, where perm_e is a
    permutation seeded by (seed, epoch e = p // n). With a mixture, positions come in blocks of
    MIXTURE_CHUNK; each block holds every component's quota (weight x block) in an order shuffled by
    (seed, block); a component's k-th sample is window perm[k mod n_c] of its own stream, perm seeded
    by (seed, component name, k // n_c), so a small component starts a new epoch (is upsampled) when
    it runs out while the others continue. On a rank, a micro-batch is positions
    consumed + rank * micro_batch_size + [0, micro_batch_size), then consumed grows by the global
    micro-batch, so 2 ranks x 4 read what 1 rank x 8 reads, and any rank count continues the stream.
    """

    def __init__(
        self,
        reader: TokenShardReader,
        seq_len: int,
        micro_batch_size: int,
        rank: int,
        world_size: int,
        seed: int,
        *,
        mixture: dict[str, float] | None = None,
        document_masking: bool = False,
    ):
        self.reader, self.seq_len = reader, seq_len
        self.micro_batch_size, self.rank, self.world_size = micro_batch_size, rank, world_size
        self.seed = seed
        self.document_masking = document_masking
        self.mixture = {k: float(v) for k, v in (mixture or {}).items()}
        self.components = mixture_components(reader, self.mixture, seq_len)
        self.num_sequences = sum(c.num_windows for c in self.components)
        if self.num_sequences < micro_batch_size * world_size:
            raise InputError(
                f"only {self.num_sequences} sequences of {seq_len} tokens in the shards: fewer than one "
                f"batch ({micro_batch_size} x {world_size} ranks); lower train.seq_len or add data"
            )
        if small := [c.name for c in self.components if c.num_windows == 0]:
            raise InputError(
                f"train.mixture component(s) {', '.join(small)} hold fewer than "
                f"{seq_len + 1} tokens: lower train.seq_len or give them weight 0"
            )
        self.quota = chunk_quotas([c.weight for c in self.components], MIXTURE_CHUNK)
        self.consumed = 0
        self._perms: dict[int, tuple[int, np.ndarray]] = {}
        self._block = (-1, None, None)

    # -- the order -----------------------------------------------------------------------------------
    def _permutation(self, ci: int, epoch: int) -> np.ndarray:
        cached = self._perms.get(ci)
        if cached is None or cached[0] != epoch:
            comp = self.components[ci]
            # no mixture: the seeding of the first loader version, so its checkpoints resume identically
            key = [self.seed, epoch] if not self.mixture else [self.seed, comp.seed_key, epoch]
            cached = (epoch, np.random.default_rng(key).permutation(comp.num_windows))
            self._perms[ci] = cached
        return cached[1]

    def sample_at(self, position: int) -> tuple[int, int]:
        """(component index, window index in that component) of global position `position`."""
        if len(self.components) == 1:
            ci, k = 0, position
        else:
            block, offset = divmod(position, MIXTURE_CHUNK)
            if self._block[0] != block:
                order = np.repeat(np.arange(len(self.quota)), self.quota)
                np.random.default_rng([self.seed, 0x6D1C, block]).shuffle(order)
                rank_in_block = np.empty_like(order)
                for c in range(len(self.quota)):
                    where = np.flatnonzero(order == c)
                    rank_in_block[where] = np.arange(len(where))
                self._block = (block, order, rank_in_block)
            _, order, rank_in_block = self._block
            ci = int(order[offset])
            k = block * int(self.quota[ci]) + int(rank_in_block[offset])
        epoch, offset = divmod(k, self.components[ci].num_windows)
        return ci, int(self._permutation(ci, epoch)[offset])

    # -- reading -------------------------------------------------------------------------------------
    def read_window(self, ci: int, window: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Tokens (seq_len + 1) of a component's window and, with document masking, the position of
        every input token inside its document (0 at each document start and at the window start)."""
        comp, n = self.components[ci], self.seq_len + 1
        start = window * self.seq_len
        r = int(np.searchsorted(comp.run_starts, start, side="right") - 1)
        pieces, pos = [], start
        while pos < start + n:
            take = min(start + n, int(comp.run_starts[r + 1])) - pos
            pieces.append(self.reader.span(int(comp.run_global[r]) + pos - int(comp.run_starts[r]), take))
            pos += take
            r += 1
        tokens = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        if not self.document_masking:
            return tokens, None
        # documents starting inside the input part of the window, relative to the window
        first = int(np.searchsorted(comp.doc_starts, start, side="right"))
        last = int(np.searchsorted(comp.doc_starts, start + self.seq_len, side="left"))
        starts = np.concatenate([[0], comp.doc_starts[first:last] - start])
        lengths = np.diff(np.append(starts, self.seq_len))
        return tokens, np.arange(self.seq_len) - np.repeat(starts, lengths)

    def next_micro_batch(self) -> dict[str, torch.Tensor]:
        import torch  # here, so that pretokenize workers, which only write shards, start without torch

        first = self.consumed + self.rank * self.micro_batch_size
        rows = [self.read_window(*self.sample_at(first + j)) for j in range(self.micro_batch_size)]
        self.consumed += self.micro_batch_size * self.world_size
        batch = torch.from_numpy(np.stack([tokens for tokens, _ in rows]).astype(np.int64))
        out = {"input_ids": batch[:, :-1], "labels": batch[:, 1:]}
        if self.document_masking:
            out["position_ids"] = torch.from_numpy(np.stack([p for _, p in rows]).astype(np.int64))
        return out

    # -- checkpointing -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-serialisable and independent of rank and world size."""
        return {
            "consumed": self.consumed,
            "seed": self.seed,
            "seq_len": self.seq_len,
            "mixture": self.mixture,
            "data": self.data_fingerprint(),
        }

    def data_fingerprint(self) -> str:
        """Changes when the shards behind the stream change (re-pretokenized data cannot resume exactly)."""
        reader = self.reader
        text = f"{reader.num_tokens}:{reader.num_documents}:" + ",".join(s["sha256"] for s in reader.shards)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def load_state_dict(self, state: dict) -> None:
        current = self.state_dict()
        for key in ("seq_len", "seed", "mixture", "data"):
            if key in state and state[key] != current[key]:
                raise InputError(
                    f"loader state was saved with {key} {state[key]!r} but this run has "
                    f"{current[key]!r}: the data order would not continue"
                )
        self.consumed = int(state["consumed"])
