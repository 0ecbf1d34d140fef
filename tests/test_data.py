"""Token shards and the loader: format, random access, determinism and exact resume."""

import json

import numpy as np
import pytest
from transformers import AutoTokenizer

from kazllm.data import SequenceLoader, TokenShardReader, token_dtype
from kazllm.errors import InputError


def test_dtype_follows_vocabulary_size():
    assert token_dtype(32000) == np.uint16 and token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32 and token_dtype(128256) == np.uint32


def test_shards_hold_every_kept_document_followed_by_eos(sample_run):
    shards = sample_run.stage_dir("shards")
    manifest = json.loads((shards / "manifest.json").read_text())
    train, val = TokenShardReader(shards, "train"), TokenShardReader(shards, "val")
    kept = [json.loads(line) for f in sorted((sample_run.stage_dir("prep") / "kept").glob("*.jsonl"))
            for line in f.open(encoding="utf-8")]
    assert train.num_documents + val.num_documents == len(kept) and val.num_documents > 0
    assert train.num_tokens == manifest["splits"]["train"]["tokens"] and train.dtype == np.uint16
    tok = AutoTokenizer.from_pretrained(str(sample_run.stage_dir("tokenizer") / "hf"))
    first = train.document(0)
    assert first[-1] == manifest["eos_id"] and manifest["eos_id"] not in first[:-1]
    train_texts = {d["text"] for d in kept}
    assert tok.decode(first[:-1].tolist()) in train_texts
    total_eos = sum(int((t == manifest["eos_id"]).sum()) for t in train.tokens)
    assert total_eos == train.num_documents


def test_windows_cross_shard_boundaries(sample_run, tmp_path):
    """Re-shard with a tiny token budget: the token stream, and so every window, must not change."""
    from data_prep.pretokenize import run_pretokenize
    from kazllm.config import load_config

    small = load_config(None, [f"run.out_dir={tmp_path}"])
    for stage in ("prep", "tokenizer"):
        (tmp_path / stage).symlink_to(sample_run.stage_dir(stage))
    run_pretokenize(load_config(None, [f"run.out_dir={tmp_path}", "pretokenize.tokens_per_shard=5000"]))
    many = TokenShardReader(small.stage_dir("shards"), "train")
    one = TokenShardReader(sample_run.stage_dir("shards"), "train")
    assert len(many.tokens) > 3 and len(one.tokens) == 1
    for i in range(0, one.num_sequences(64), 37):
        np.testing.assert_array_equal(many.sequence(i, 64), one.sequence(i, 64))


def test_loader_is_deterministic_and_resumes_exactly(sample_run):
    reader = TokenShardReader(sample_run.stage_dir("shards"), "train")
    a = SequenceLoader(reader, 64, 4, rank=0, world_size=1, seed=7)
    batches = [a.next_micro_batch()["input_ids"] for _ in range(6)]
    b = SequenceLoader(reader, 64, 4, rank=0, world_size=1, seed=7)
    for _ in range(3):
        b.next_micro_batch()
    state = b.state_dict()
    c = SequenceLoader(reader, 64, 4, rank=0, world_size=1, seed=7)
    c.load_state_dict(state)
    for expected in batches[3:]:
        assert (c.next_micro_batch()["input_ids"] == expected).all()


def test_labels_are_inputs_shifted_by_one(sample_run):
    reader = TokenShardReader(sample_run.stage_dir("shards"), "train")
    batch = SequenceLoader(reader, 64, 2, rank=0, world_size=1, seed=0).next_micro_batch()
    assert batch["input_ids"].shape == (2, 64)
    assert (batch["input_ids"][:, 1:] == batch["labels"][:, :-1]).all()


def test_two_ranks_together_see_what_one_rank_sees(sample_run):
    """The global order does not depend on the world size, so a job can resume on another rank count."""
    reader = TokenShardReader(sample_run.stage_dir("shards"), "train")
    single = SequenceLoader(reader, 64, 4, rank=0, world_size=1, seed=3)
    ranks = [SequenceLoader(reader, 64, 2, rank=r, world_size=2, seed=3) for r in (0, 1)]
    for _ in range(5):
        together = np.concatenate([loader.next_micro_batch()["input_ids"] for loader in ranks])
        assert (single.next_micro_batch()["input_ids"].numpy() == together).all()
    assert ranks[0].state_dict() == single.state_dict()


def test_epochs_visit_every_window_once(sample_run):
    reader = TokenShardReader(sample_run.stage_dir("shards"), "train")
    loader = SequenceLoader(reader, 256, 1, rank=0, world_size=1, seed=1)
    seen = [loader._window_at(i) for i in range(loader.num_sequences)]
    assert sorted(seen) == list(range(loader.num_sequences))


def test_too_little_data_for_one_batch_is_a_clear_error(sample_run):
    reader = TokenShardReader(sample_run.stage_dir("shards"), "val")
    with pytest.raises(InputError, match="fewer than one batch"):
        SequenceLoader(reader, 100_000, 8, rank=0, world_size=2, seed=0)
