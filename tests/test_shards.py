"""The token shard format: what the writer puts on disk is what the reader gives back (ids, document
boundaries, groups), the format's constants, random access across shard boundaries, and clear errors on
missing or damaged files."""

import json
import shutil

import numpy as np
import pytest

from kazllm.artifacts import file_sha256
from kazllm.errors import InputError
from kazllm.shards import (
    FORMAT_VERSION,
    GROUP_DTYPE,
    INDEX_DTYPE,
    MAX_GROUPS_PER_UNIT,
    SPLITS,
    TokenShardReader,
    UnitShardWriter,
    build_manifest,
    document_bos_id,
    shard_file_sizes,
    shard_name,
    token_dtype,
    unit_shard_pattern,
)

EOS, BOS = 2, 1


def random_documents(rng, n: int, vocab_size: int) -> list[np.ndarray]:
    """[BOS] + ids + [EOS] documents of 1 to 60 ids, none of them a BOS or an EOS."""
    return [
        np.concatenate([[BOS], rng.integers(3, vocab_size, rng.integers(1, 61)), [EOS]]) for _ in range(n)
    ]


def write_unit(
    shards_dir,
    unit: int,
    docs_by_split: dict,
    groups: list[tuple[str, str]],
    dtype,
    budget: int,
    batch: int = 7,
) -> dict:
    """One unit's result as `kazllm pretokenize` records it: documents (with their local group) go through
    a UnitShardWriter per split in batches of `batch`."""
    counts: dict = {s: {} for s in SPLITS}
    splits = {}
    for split in SPLITS:
        writer = UnitShardWriter(shards_dir / split, unit, dtype, budget)
        docs = docs_by_split.get(split, [])
        for start in range(0, len(docs), batch):
            part = docs[start : start + batch]
            lengths = np.asarray([len(d) for d, _ in part], dtype=np.int64)
            writer.add_batch(
                np.concatenate([d for d, _ in part]).astype(dtype),
                lengths,
                np.asarray([g for _, g in part], dtype=np.int64),
            )
            for d, g in part:
                row = counts[split].setdefault(str(g), [0, 0])
                row[0] += len(d)
                row[1] += 1
        splits[split] = {"shards": writer.finish(), "counts": counts[split]}
    return {"unit": unit, "groups": [{"source": s, "language": lang} for s, lang in groups], "splits": splits}


def write_shards(shards_dir, units: list[dict], dtype) -> dict:
    """manifest.json over the units' results, with the fields the reader needs."""
    manifest = {
        "format_version": FORMAT_VERSION,
        "dtype": dtype.name,
        "eos_id": EOS,
        "bos_id": BOS,
        **build_manifest(units, dtype),
    }
    (shards_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


@pytest.mark.parametrize("vocab_size", [2000, 100_000])
def test_written_documents_read_back_identical_with_their_boundaries_and_groups(tmp_path, vocab_size):
    rng = np.random.default_rng(0)
    dtype = token_dtype(vocab_size)
    unit_groups = [[("news", "kk"), ("web", "ru")], [("web", "ru"), ("books", "kk"), ("news", "kk")]]
    expected: dict = {s: [] for s in SPLITS}  # (tokens, global group) per document, in unit order
    units = []
    for unit, groups in enumerate(unit_groups):
        docs: dict = {s: [] for s in SPLITS}
        for doc in random_documents(rng, 80, vocab_size):
            split, local = ("val" if rng.random() < 0.2 else "train"), int(rng.integers(len(groups)))
            docs[split].append((doc, local))
            expected[split].append((doc, groups[local]))
        units.append(write_unit(tmp_path, unit, docs, groups, dtype, budget=500))
    manifest = write_shards(tmp_path, units, dtype)
    assert manifest["groups"] == [
        {"source": s, "language": lang} for s, lang in sorted({g for gs in unit_groups for g in gs})
    ]
    for split in SPLITS:
        reader = TokenShardReader(tmp_path, split)
        reader.verify()
        assert reader.dtype == dtype and reader.eos_id == EOS
        assert reader.num_documents == len(expected[split]) and len(reader.tokens) > 1  # several shards
        for i, (doc, (source, language)) in enumerate(expected[split]):
            np.testing.assert_array_equal(reader.document(i), doc)
            assert reader.document_group(i) == {"source": source, "language": language}
        whole = np.concatenate([doc for doc, _ in expected[split]])
        np.testing.assert_array_equal(reader.span(0, reader.num_tokens), whole)
        assert manifest["splits"][split]["tokens"] == len(whole)
        assert manifest["splits"][split]["bytes"] == len(whole) * dtype.itemsize


def test_a_shard_closes_after_the_document_that_reaches_the_budget(tmp_path):
    dtype = token_dtype(2000)
    docs = [(np.full(n, 7, dtype=np.int64), 0) for n in (3, 4, 5, 2, 6, 1)]
    unit = write_unit(tmp_path, 4, {"train": docs}, [("s", "kk")], dtype, budget=8, batch=4)
    shards = unit["splits"]["train"]["shards"]
    assert [(s["tokens"], s["documents"]) for s in shards] == [(12, 3), (8, 2), (1, 1)]  # none straddles
    assert [s["file"] for s in shards] == [f"train/{shard_name(4, p)}.bin" for p in range(3)]
    assert unit["splits"]["val"]["shards"] == []
    for shard in shards:
        for key, size in shard_file_sizes(shard, dtype).items():
            assert (tmp_path / shard[key]).stat().st_size == size
        assert file_sha256(tmp_path / shard["file"]) == shard["sha256"]
        assert file_sha256(tmp_path / shard["index"]) == shard["index_sha256"]
        assert file_sha256(tmp_path / shard["group_file"]) == shard["group_sha256"]
    idx = np.fromfile(tmp_path / shards[0]["index"], dtype=INDEX_DTYPE)
    assert idx.tolist() == [0, 3, 7, 12]


def test_the_format_constants():
    assert FORMAT_VERSION == 3 and SPLITS == ("train", "val")
    assert INDEX_DTYPE == np.int64 and GROUP_DTYPE == np.uint16 and MAX_GROUPS_PER_UNIT == 65535
    assert shard_name(3, 1) == "tokens_00003_001" and unit_shard_pattern(3) == "tokens_00003_*"
    assert shard_file_sizes({"tokens": 10, "documents": 2}, np.dtype(np.uint32)) == {
        "file": 40,
        "index": 24,
        "group_file": 4,
    }


def test_dtype_follows_vocabulary_size():
    assert token_dtype(32000) == np.uint16 and token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32 and token_dtype(128256) == np.uint32


def test_documents_start_with_the_tokenizers_bos_unless_it_has_none_or_it_is_the_eos():
    def manifest(bos):
        return {"special_tokens": {"bos": bos, "eos": {"id": 2, "piece": "</s>"}}}

    assert document_bos_id(manifest({"id": 1, "piece": "<s>"})) == 1
    assert document_bos_id(manifest(None)) is None  # Qwen-style: no BOS
    assert document_bos_id(manifest({"id": 2, "piece": "</s>"})) is None  # GPT-2 style: BOS is EOS


# ---------------------------------------------------------------------------------------------------
# The sample run's shards (written by `kazllm pretokenize`)
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reader(sample_run):
    return TokenShardReader(sample_run.stage_dir("shards"), "train")


def test_documents_spans_and_sequences_agree(reader):
    assert reader.num_documents > 100 and reader.doc_starts[-1] == reader.num_tokens
    whole = reader.span(0, reader.num_tokens)
    for i in (0, 1, reader.num_documents // 2, reader.num_documents - 1):
        a, b = reader.doc_starts[i], reader.doc_starts[i + 1]
        np.testing.assert_array_equal(reader.document(i), whole[a:b])
        assert reader.document(i)[-1] == reader.eos_id
    np.testing.assert_array_equal(reader.sequence(3, 64), whole[192:257])
    with pytest.raises(IndexError):
        reader.span(reader.num_tokens - 5, 10)
    with pytest.raises(IndexError):
        reader.document(reader.num_documents)


def test_windows_cross_shard_boundaries(sample_run, tmp_path):
    """Re-shard with a tiny token budget: the token stream, and so every window, must not change."""
    from data_prep.pretokenize import run_pretokenize
    from kazllm.config import load_config

    for stage in ("prep", "tokenizer"):
        (tmp_path / stage).symlink_to(sample_run.stage_dir(stage))
    run_pretokenize(load_config(None, [f"run.out_dir={tmp_path}", "pretokenize.tokens_per_shard=5000"]))
    many = TokenShardReader(tmp_path / "shards", "train")
    one = TokenShardReader(sample_run.stage_dir("shards"), "train")
    assert len(many.tokens) > 3 and len(one.tokens) == 1
    for i in range(0, one.num_sequences(64), 37):
        np.testing.assert_array_equal(many.sequence(i, 64), one.sequence(i, 64))
    for i in range(0, one.num_documents, 23):
        np.testing.assert_array_equal(many.document(i), one.document(i))
        assert many.document_group(i) == one.document_group(i)


def test_missing_or_damaged_shards_are_clear_errors(sample_run, tmp_path):
    shards = tmp_path / "shards"
    shutil.copytree(sample_run.stage_dir("shards"), shards)
    manifest = json.loads((shards / "manifest.json").read_text())
    shard = manifest["splits"]["train"]["shards"][0]
    reader = TokenShardReader(shards, "train")
    reader.verify()  # intact
    data = bytearray((shards / shard["file"]).read_bytes())
    data[100] ^= 1
    (shards / shard["file"]).write_bytes(bytes(data))
    with pytest.raises(InputError, match="does not match its sha256 checksum.*rerun `kazllm pretokenize`"):
        TokenShardReader(shards, "train").verify()
    (shards / shard["file"]).write_bytes(bytes(data[:-2]))
    with pytest.raises(InputError, match=r"tokens_00000_000.bin has \d+ bytes, not \d+ tokens"):
        TokenShardReader(shards, "train")
    (shards / shard["group_file"]).unlink()
    with pytest.raises(InputError, match="tokens_00000_000.grp is missing"):
        TokenShardReader(shards, "train")
