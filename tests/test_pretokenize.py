"""Pretokenization: every kept document lands in its split as [BOS] + its ids + [EOS], manifest counts and
checksums, worker-count independence, resume after an interruption, and clear errors on broken input (the
shard format itself: tests/test_shards.py)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from data_prep.pretokenize import is_validation, load_tokenizer, run_pretokenize
from kazllm.artifacts import file_sha256
from kazllm.config import load_config
from kazllm.errors import InputError
from kazllm.shards import TokenShardReader
from tests.conftest import REPO


def make_run(sample_run, tmp_path, *overrides, kept_copies: int = 0):
    """A run directory reusing the sample's prep/ and tokenizer/; `kept_copies` > 0 builds a prep/ whose
    kept corpus is the sample's repeated that many times (a bigger corpus for interruption tests)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tokenizer").symlink_to(sample_run.stage_dir("tokenizer"))
    if kept_copies:
        (tmp_path / "prep" / "kept").mkdir(parents=True)
        shutil.copy(sample_run.stage_dir("prep") / "manifest.json", tmp_path / "prep" / "manifest.json")
        kept = sorted((sample_run.stage_dir("prep") / "kept").glob("*.jsonl"))
        src = b"".join(f.read_bytes() for f in kept)
        (tmp_path / "prep" / "kept" / "000_kept_00000.jsonl").write_bytes(src * kept_copies)
    else:
        (tmp_path / "prep").symlink_to(sample_run.stage_dir("prep"))
    return load_config(None, [f"run.out_dir={tmp_path}", *overrides])


def kept_documents(cfg):
    return [
        json.loads(line)
        for f in sorted((cfg.stage_dir("prep") / "kept").glob("*.jsonl"))
        for line in f.open(encoding="utf-8")
        if line.strip()
    ]


def shard_checksums(manifest: dict) -> list:
    return [
        (s["file"], s["sha256"], s["index_sha256"], s["group_sha256"], s["group_ids"])
        for split in ("train", "val")
        for s in manifest["splits"][split]["shards"]
    ]


def test_every_document_round_trips_between_one_bos_and_one_eos_with_its_group(sample_run):
    shards = sample_run.stage_dir("shards")
    manifest = json.loads((shards / "manifest.json").read_text())
    readers = {s: TokenShardReader(shards, s) for s in ("train", "val")}
    tok = load_tokenizer(str(sample_run.stage_dir("tokenizer") / "hf" / "tokenizer.json"))
    eos, bos, seen = manifest["eos_id"], manifest["bos_id"], {"train": 0, "val": 0}
    assert manifest["format_version"] == 3 and bos == 1  # our tokenizer's <s>
    for doc in kept_documents(sample_run):  # shards keep corpus order within each split
        split = "val" if is_validation(doc["id"], sample_run.pretokenize.val_fraction) else "train"
        tokens = readers[split].document(seen[split])
        assert tokens[1:-1].tolist() == tok.encode(doc["text"], add_special_tokens=False).ids
        assert tokens[0] == bos and bos not in tokens[1:]
        assert tokens[-1] == eos and eos not in tokens[:-1]
        group = readers[split].document_group(seen[split])
        meta = doc["metadata"]
        assert (group["source"], group["language"]) == (meta["source"], meta["language"])
        seen[split] += 1
    assert seen == {s: r.num_documents for s, r in readers.items()}
    for reader in readers.values():
        assert sum(int((t == eos).sum()) for t in reader.tokens) == reader.num_documents
        assert sum(int((t == bos).sum()) for t in reader.tokens) == reader.num_documents


def test_manifest_counts_tokens_per_source_and_language_and_checksums_every_file(sample_run):
    shards = sample_run.stage_dir("shards")
    manifest = json.loads((shards / "manifest.json").read_text())
    assert manifest["dtype"] == "uint16" and manifest["vocab_size"] == 2000
    for split, info in manifest["splits"].items():
        reader = TokenShardReader(shards, split)
        assert info["tokens"] == reader.num_tokens and info["documents"] == reader.num_documents
        assert sum(v["tokens"] for v in info["by_source"].values()) == info["tokens"]
        assert sum(v["documents"] for v in info["by_language"].values()) == info["documents"]
        for g, row in enumerate(info["by_group"]):
            mine = np.flatnonzero(reader.doc_groups == g)
            assert row["documents"] == len(mine)
            assert row["tokens"] == int((reader.doc_starts[mine + 1] - reader.doc_starts[mine]).sum())
        for shard in info["shards"]:
            assert file_sha256(shards / shard["file"]) == shard["sha256"]
            assert file_sha256(shards / shard["index"]) == shard["index_sha256"]
            assert file_sha256(shards / shard["group_file"]) == shard["group_sha256"]


def test_special_token_text_in_a_document_is_neither_an_eos_nor_a_bos(sample_run, tmp_path):
    cfg = make_run(sample_run, tmp_path / "run", kept_copies=1)
    docs = [
        {
            "id": f"d{i}",
            "text": f"Мәтін {i}: </s> <s> <pad> соңы.",
            "metadata": {"source": "t", "language": "kk"},
        }
        for i in range(3)
    ]
    (cfg.stage_dir("prep") / "kept" / "000_kept_00000.jsonl").write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8"
    )
    run_pretokenize(load_config(None, [f"run.out_dir={cfg.out_dir}", "pretokenize.val_fraction=0"]))
    reader = TokenShardReader(cfg.stage_dir("shards"), "train")
    assert reader.num_documents == 3
    for i in range(3):
        doc = reader.document(i)
        assert doc[-1] == reader.eos_id and reader.eos_id not in doc[:-1]
        assert doc[0] == 1 and 1 not in doc[1:]  # 1 = <s>: the document's own BOS only


def test_a_tokenizer_without_bos_gives_documents_of_ids_and_eos(sample_run, tmp_path):
    """Qwen-style tokenizers have no BOS (special_tokens.bos null): nothing is put before a document."""
    cfg = make_run(sample_run, tmp_path / "run", kept_copies=1)
    (tmp_path / "run" / "tokenizer").unlink()
    shutil.copytree(sample_run.stage_dir("tokenizer"), tmp_path / "run" / "tokenizer")
    tok_manifest = json.loads((cfg.stage_dir("tokenizer") / "manifest.json").read_text())
    tok_manifest["special_tokens"]["bos"] = None
    (cfg.stage_dir("tokenizer") / "manifest.json").write_text(json.dumps(tok_manifest))
    result = run_pretokenize(cfg, workers=1)
    assert result["bos_id"] is None
    reader = TokenShardReader(cfg.stage_dir("shards"), "train")
    tok = load_tokenizer(str(cfg.stage_dir("tokenizer") / "hf" / "tokenizer.json"))
    first = next(d for d in kept_documents(cfg) if not is_validation(d["id"], cfg.pretokenize.val_fraction))
    ids = tok.encode(first["text"], add_special_tokens=False).ids
    assert reader.document(0).tolist() == ids + [reader.eos_id]


def test_output_does_not_depend_on_the_number_of_workers(sample_run, tmp_path):
    one = run_pretokenize(make_run(sample_run, tmp_path / "one", "pretokenize.unit_mb=0.1"), workers=1)
    two = run_pretokenize(make_run(sample_run, tmp_path / "two", "pretokenize.unit_mb=0.1"), workers=2)
    assert one["units"] > 4 and two["workers"] == 2
    assert shard_checksums(one) == shard_checksums(two)
    assert one["splits"]["train"]["by_source"] == two["splits"]["train"]["by_source"]
    # cutting into units changes file names, not the token stream
    whole = TokenShardReader(sample_run.stage_dir("shards"), "train")
    units = TokenShardReader(tmp_path / "two" / "shards", "train")
    assert len(units.tokens) == one["units"] and units.num_tokens == whole.num_tokens
    np.testing.assert_array_equal(units.span(0, units.num_tokens), whole.span(0, whole.num_tokens))


def test_rerun_redoes_only_damaged_or_unfinished_units_with_identical_checksums(sample_run, tmp_path):
    cfg = make_run(sample_run, tmp_path, "pretokenize.unit_mb=0.1")
    first = run_pretokenize(cfg, workers=1)
    shards = cfg.stage_dir("shards")
    untouched = shards / "train" / "tokens_00000_000.bin"
    mtime = untouched.stat().st_mtime_ns
    (shards / "units" / "u00001.json").unlink()  # killed before its marker
    (shards / "train" / "tokens_00002_000.bin").unlink()  # marker present, a file lost
    with open(shards / "train" / "tokens_00003_000.idx", "r+b") as f:  # a truncated index
        f.truncate(16)
    (shards / "manifest.json").unlink()
    again = run_pretokenize(cfg, workers=1)
    assert shard_checksums(again) == shard_checksums(first)
    assert untouched.stat().st_mtime_ns == mtime
    # a changed setting starts afresh instead of mixing outputs
    fresh = run_pretokenize(
        load_config(None, [f"run.out_dir={tmp_path}", "pretokenize.unit_mb=0.2"]), workers=1
    )
    assert fresh["units"] < first["units"] and not (shards / "train" / "tokens_00005_000.bin").exists()


@pytest.mark.slow
def test_killed_worker_is_reported_and_a_rerun_finishes_with_identical_checksums(sample_run, tmp_path):
    reference = run_pretokenize(
        make_run(sample_run, tmp_path / "ref", "pretokenize.unit_mb=0.25", kept_copies=8), workers=1
    )
    cfg = make_run(sample_run, tmp_path / "run", "pretokenize.unit_mb=0.25", kept_copies=8)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kazllm.cli",
            "pretokenize",
            f"run.out_dir={cfg.out_dir}",
            "pretokenize.unit_mb=0.25",
            "pretokenize.workers=2",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    units = cfg.stage_dir("shards") / "units"
    deadline = time.time() + 120
    while len(list(units.glob("u*.json"))) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
    workers = [int(c) for c in children if "spawn_main" in open(f"/proc/{c}/cmdline").read()]
    assert workers, "no worker process found"
    os.kill(workers[0], signal.SIGKILL)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "worker died" in output and "rerun the same command" in output
    done_before = len(list(units.glob("u*.json")))
    assert 0 < done_before < reference["units"]
    resumed = run_pretokenize(cfg, workers=2)
    assert shard_checksums(resumed) == shard_checksums(reference)


def test_a_broken_line_stops_the_run_naming_its_file_and_byte(sample_run, tmp_path):
    cfg = make_run(sample_run, tmp_path, "pretokenize.unit_mb=0.2", kept_copies=1)
    with open(cfg.stage_dir("prep") / "kept" / "000_kept_00000.jsonl", "ab") as f:
        f.write(b'{"id": "x", "text": broken\n')
    with pytest.raises(InputError, match=r"000_kept_00000.jsonl \(byte \d+\): not valid JSON"):
        run_pretokenize(cfg, workers=2)
    assert not (cfg.stage_dir("shards") / "manifest.json").exists()
