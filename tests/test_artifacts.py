"""kazllm.artifacts: atomic writes, JSON and JSONL reading with errors that name the place, checksums, and the
stage manifest that traces every artifact back to the config that made it.

reset_user_out_dir is specified in test_cli.py, next to the commands whose --out it guards.
"""

import hashlib
import json

import pytest

from kazllm import __version__, artifacts
from kazllm.artifacts import (
    file_sha256,
    file_table,
    iter_jsonl,
    read_json,
    read_jsonl,
    require_stage,
    write_json,
    write_stage_manifest,
    write_text_atomic,
)
from kazllm.config import load_config
from kazllm.errors import InputError

KAZAKH = "Қазақ тілі — мемлекеттік тіл"


# --- atomic writes ----------------------------------------------------------------------------------


def test_an_atomic_write_creates_parent_directories_and_leaves_no_temporary_file(tmp_path):
    path = write_text_atomic(tmp_path / "a" / "b" / "note.txt", KAZAKH)
    assert path.read_text(encoding="utf-8") == KAZAKH
    assert [p.name for p in path.parent.iterdir()] == ["note.txt"]


def test_a_write_that_dies_before_the_rename_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = write_json(tmp_path / "manifest.json", {"step": 1})

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(artifacts.os, "fsync", crash)  # the new text is written aside, never renamed
    with pytest.raises(OSError, match="disk full"):
        write_json(path, {"step": 2, "files": ["x" * 10_000]})
    assert read_json(path) == {"step": 1}


def test_json_is_written_readable_in_kazakh_and_reads_back(tmp_path):
    obj = {"text": KAZAKH, "counts": [1, 2.5, None], "nested": {"ok": True}}
    path = write_json(tmp_path / "x.json", obj)
    text = path.read_text(encoding="utf-8")
    assert KAZAKH in text and text.endswith("}\n")  # not \u-escaped
    assert read_json(path) == obj


def test_reading_a_missing_or_broken_json_is_an_input_error_that_names_the_file(tmp_path):
    with pytest.raises(InputError, match=r"missing file: .*absent\.json"):
        read_json(tmp_path / "absent.json")
    (tmp_path / "torn.json").write_text('{\n  "step": 1,\n  "fil', encoding="utf-8")
    with pytest.raises(InputError, match=r"torn\.json: not valid JSON \(line 3\)"):
        read_json(tmp_path / "torn.json")


# --- JSONL ------------------------------------------------------------------------------------------


def test_jsonl_records_come_in_file_order_and_blank_lines_are_skipped(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"id": 1}\n\n{"id": 2}\n', encoding="utf-8")
    b.write_text(json.dumps({"id": 3, "text": KAZAKH}, ensure_ascii=False) + "\n   \n", encoding="utf-8")
    assert [r["id"] for r in iter_jsonl([a, b])] == [1, 2, 3]
    assert read_jsonl(b) == [{"id": 3, "text": KAZAKH}]


def test_a_broken_jsonl_line_names_its_file_and_line(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": 1}\n\n{"id": 2\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"docs\.jsonl:3: not valid JSON"):
        read_jsonl(path)


# --- checksums --------------------------------------------------------------------------------------


def test_file_sha256_is_the_digest_of_the_bytes_whatever_the_chunk_size(tmp_path):
    data = KAZAKH.encode() * 1000
    (tmp_path / "blob").write_bytes(data)
    assert file_sha256(tmp_path / "blob") == hashlib.sha256(data).hexdigest()
    assert file_sha256(tmp_path / "blob", chunk=7) == hashlib.sha256(data).hexdigest()


def test_the_file_table_lists_every_file_below_by_relative_path_but_the_manifest(tmp_path):
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "00001.bin").write_bytes(b"\x00\x01")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "manifest.json").write_text("{}")
    table = file_table(tmp_path)
    assert list(table) == ["config.json", "shards/00001.bin"]  # sorted, posix, manifest excluded
    assert table["shards/00001.bin"] == {"bytes": 2, "sha256": hashlib.sha256(b"\x00\x01").hexdigest()}
    assert "manifest.json" in file_table(tmp_path, exclude=())


# --- the stage manifest -----------------------------------------------------------------------------


def test_a_stage_without_a_manifest_is_an_error_that_says_which_command_makes_it(tmp_path):
    cfg = load_config(None, [f"run.out_dir={tmp_path}"])
    with pytest.raises(InputError, match=r"prep has no manifest.json: run `kazllm prep` first"):
        require_stage(cfg, "prep", "kazllm prep")
    write_stage_manifest(cfg, "prep", documents=3)
    assert require_stage(cfg, "prep", "kazllm prep") == tmp_path / "prep"


def test_the_stage_manifest_records_version_time_and_fields_beside_the_resolved_config(tmp_path):
    cfg = load_config(None, [f"run.out_dir={tmp_path}", "train.steps=7"])
    path = write_stage_manifest(cfg, "shards", tokens=123, source=KAZAKH)
    assert path == tmp_path / "shards" / "manifest.json"
    manifest = read_json(path)
    assert {k: manifest[k] for k in ("stage", "kazllm_version", "tokens", "source")} == {
        "stage": "shards",
        "kazllm_version": __version__,
        "tokens": 123,
        "source": KAZAKH,
    }
    assert manifest["created"][:2] == "20" and "T" in manifest["created"]
    assert load_config(tmp_path / "shards" / "resolved_config.yaml") == cfg  # the config that made it
