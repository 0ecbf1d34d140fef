"""The training loader over token shards: determinism, mixtures, document masking and exact resume (also
on another number of ranks). The shard format and its reader: tests/test_shards.py."""

from collections import Counter

import numpy as np
import pytest
import torch

from kazllm.data import MIXTURE_CHUNK, SequenceLoader
from kazllm.errors import InputError
from kazllm.shards import TokenShardReader


@pytest.fixture(scope="module")
def reader(sample_run):
    return TokenShardReader(sample_run.stage_dir("shards"), "train")


def take(loader, n):
    return [loader.next_micro_batch() for _ in range(n)]


def stream(batches, key="input_ids"):
    """The samples of consecutive micro-batches of one rank, one row per sample."""
    return torch.cat([b[key] for b in batches])


def test_loader_is_deterministic_and_resumes_exactly(reader):
    """torchtitan style: consume, save the state, rebuild, load, compare the next batches."""
    for options in ({}, {"mixture": {"source:kk_official": 3, "kk": 1}, "document_masking": True}):
        reference = take(SequenceLoader(reader, 64, 4, rank=0, world_size=1, seed=7, **options), 6)
        b = SequenceLoader(reader, 64, 4, rank=0, world_size=1, seed=7, **options)
        take(b, 3)
        state = b.state_dict()
        c = SequenceLoader(reader, 64, 4, rank=0, world_size=1, seed=7, **options)
        c.load_state_dict(state)
        for expected, got in zip(reference[3:], take(c, 3)):
            assert expected.keys() == got.keys()
            for key in expected:
                assert torch.equal(expected[key], got[key])


def test_labels_are_inputs_shifted_by_one(reader):
    batch = SequenceLoader(reader, 64, 2, rank=0, world_size=1, seed=0).next_micro_batch()
    assert batch["input_ids"].shape == (2, 64) and batch["input_ids"].dtype == torch.int64
    assert (batch["input_ids"][:, 1:] == batch["labels"][:, :-1]).all()


def test_two_ranks_together_see_what_one_rank_sees(reader):
    """The global order does not depend on the world size: 2 ranks x 2 read what 1 rank x 4 reads."""
    single = SequenceLoader(reader, 64, 4, rank=0, world_size=1, seed=3)
    ranks = [SequenceLoader(reader, 64, 2, rank=r, world_size=2, seed=3) for r in (0, 1)]
    for _ in range(5):
        together = np.concatenate([loader.next_micro_batch()["input_ids"] for loader in ranks])
        assert (single.next_micro_batch()["input_ids"].numpy() == together).all()
    assert ranks[0].state_dict() == ranks[1].state_dict() == single.state_dict()


@pytest.mark.parametrize("mixture", [None, {"kk": 1, "source:kk_news": 2}])
def test_a_two_rank_state_resumed_on_one_rank_continues_the_sample_stream_exactly(reader, mixture):
    ranks = [SequenceLoader(reader, 64, 2, rank=r, world_size=2, seed=11, mixture=mixture) for r in (0, 1)]
    for _ in range(3):  # 3 steps of a global micro-batch of 4
        for loader in ranks:
            loader.next_micro_batch()
    uninterrupted = SequenceLoader(reader, 64, 3, rank=0, world_size=1, seed=11, mixture=mixture)
    expected = stream(take(uninterrupted, 8))[12:]  # samples 12.. of the job's stream
    resumed = SequenceLoader(reader, 64, 3, rank=0, world_size=1, seed=11, mixture=mixture)
    resumed.load_state_dict(ranks[0].state_dict())  # another micro-batch size too
    got = stream(take(resumed, 4))
    assert torch.equal(got, expected[: len(got)])


def test_epochs_visit_every_window_once(reader):
    loader = SequenceLoader(reader, 256, 1, rank=0, world_size=1, seed=1)
    seen = [loader.sample_at(i) for i in range(2 * loader.num_sequences)]
    first, second = seen[: loader.num_sequences], seen[loader.num_sequences :]
    assert sorted(w for _, w in first) == sorted(w for _, w in second) == list(range(loader.num_sequences))
    assert first != second  # each epoch has its own order


def test_mixture_weights_are_met_and_a_small_group_is_upsampled(reader):
    mixture = {"source:kk_literature": 0.5, "kk": 0.5}  # literature is ~12% of the tokens
    loader = SequenceLoader(reader, 64, 1, rank=0, world_size=1, seed=5, mixture=mixture)
    names = [c.name for c in loader.components]
    n = 3 * MIXTURE_CHUNK + 1000
    samples = [loader.sample_at(p) for p in range(n)]
    share = Counter(names[ci] for ci, _ in samples)
    assert abs(share["source:kk_literature"] / n - 0.5) < 0.01
    lit = names.index("source:kk_literature")
    lit_windows = Counter(w for ci, w in samples if ci == lit)
    assert len(lit_windows) == loader.components[lit].num_windows  # every window used, most of them twice
    assert max(lit_windows.values()) - min(lit_windows.values()) <= 1
    # literature windows hold literature tokens only; the rest hold none
    lit_docs = np.flatnonzero([reader.groups[g]["source"] == "kk_literature" for g in reader.doc_groups])
    lit_tokens = np.concatenate([reader.document(int(i)) for i in lit_docs])
    batch = SequenceLoader(reader, 64, 16, 0, 1, seed=5, mixture=mixture).next_micro_batch()["input_ids"]
    for p in range(16):
        ci, w = samples[p]
        row = batch[p].numpy()
        in_lit = any(np.array_equal(row, lit_tokens[s : s + 64]) for s in range(0, len(lit_tokens) - 64, 64))
        assert in_lit == (ci == lit)


def test_mixture_errors_name_the_missing_or_unknown_key(reader):
    with pytest.raises(InputError, match="no weight to source:kk_news"):
        sources = ("kk_culture", "kk_everyday", "kk_literature", "kk_official", "kk_science")
        SequenceLoader(reader, 64, 1, 0, 1, seed=0, mixture={f"source:{s}": 1 for s in sources})
    with pytest.raises(InputError, match="ru match no documents; known: kk, source:"):
        SequenceLoader(reader, 64, 1, 0, 1, seed=0, mixture={"kk": 1, "ru": 1})
    # weight 0 leaves a source out
    loader = SequenceLoader(reader, 64, 1, 0, 1, seed=0, mixture={"kk": 1, "source:kk_news": 0})
    assert [c.name for c in loader.components] == ["kk"]
    state = loader.state_dict()
    other = SequenceLoader(reader, 64, 1, 0, 1, seed=0)
    with pytest.raises(InputError, match="saved with mixture"):
        other.load_state_dict(state)


def test_document_masking_restarts_positions_at_each_document(reader):
    loader = SequenceLoader(reader, 256, 4, 0, 1, seed=2, document_masking=True)
    batch = loader.next_micro_batch()
    ids, pos = batch["input_ids"].numpy(), batch["position_ids"].numpy()
    for row_ids, row_pos in zip(ids, pos):
        starts = np.concatenate([[0], np.flatnonzero(row_ids[:-1] == reader.eos_id) + 1])
        expected = np.arange(256) - starts[np.searchsorted(starts, np.arange(256), side="right") - 1]
        np.testing.assert_array_equal(row_pos, expected)
    assert (pos == 0).sum() > 4  # the rows do pack several documents


def test_document_masking_keeps_attention_inside_documents(reader):
    """With position_ids (and use_cache=False, see docs/shard_format.md) a packed row's second document
    gets the logits it would get alone, whatever the first document says."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    batch = SequenceLoader(reader, 512, 8, 0, 1, seed=4, document_masking=True).next_micro_batch()
    row = next(r for r in range(8) if (batch["position_ids"][r, 10:] == 0).any())
    ids, pos = batch["input_ids"][row : row + 1], batch["position_ids"][row : row + 1]
    cut = 10 + int(torch.nonzero(pos[0, 10:] == 0)[0])
    after = pos[0, cut + 1 :] == 0
    end = cut + (int(torch.nonzero(after)[0]) + 1 if after.any() else 512 - cut)
    other = ids.clone()
    other[0, :cut] = torch.randint(5, 2000, (cut,))
    for impl in ("sdpa", "eager"):
        config = LlamaConfig(
            vocab_size=2000,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            attn_implementation=impl,
        )
        model = LlamaForCausalLM(config).eval()
        with torch.no_grad():
            packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0, cut:end]
            swapped = model(input_ids=other, position_ids=pos, use_cache=False).logits[0, cut:end]
            alone = model(input_ids=ids[:, cut:end], use_cache=False).logits[0]
            unmasked = model(input_ids=other, use_cache=False).logits[0, cut:end]
        torch.testing.assert_close(packed, swapped, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(packed, unmasked, atol=1e-3)  # without the positions it would leak


def test_too_little_data_for_one_batch_is_a_clear_error(sample_run):
    reader = TokenShardReader(sample_run.stage_dir("shards"), "val")
    with pytest.raises(InputError, match="fewer than one batch"):
        SequenceLoader(reader, 100_000, 8, rank=0, world_size=2, seed=0)


def test_mixture_and_masking_config_fields_are_checked():
    from kazllm.config import load_config
    from kazllm.errors import ConfigError

    cfg = load_config(None, ["train.mixture={kk: 0.7, 'source:kk_news': 0.3}", "train.document_masking=true"])
    assert cfg.train.mixture == {"kk": 0.7, "source:kk_news": 0.3} and cfg.train.document_masking
    with pytest.raises(ConfigError, match="mixture weight of 'kk' must be a number >= 0"):
        load_config(None, ["train.mixture={kk: -1}"])
    with pytest.raises(ConfigError, match="at least one positive weight"):
        load_config(None, ["train.mixture={kk: 0}"])
