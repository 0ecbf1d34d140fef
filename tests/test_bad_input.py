"""Hostile input among good documents (issue 14): every bad record becomes exactly one reject row with a
precise reason, every good one is kept, and the run finishes with in = kept + rejected. Each test writes its
hostile files into tmp_path; docs/bad_input.md is the table of what each kind becomes."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from pathlib import Path

import orjson
import pytest

from data_prep.readers import SourceReader
from kazllm.config import InputSource, load_config
from tests.conftest import SAMPLE
from tests.test_readers import KK_1, KK_2, KK_3, jsonl_lines, kept, read_all, reasons
from tests.test_readers_docs import _warc_gz


def storable(doc) -> bytes:
    """What datatrove's JSONL writer does with a document (orjson); raises where the run used to end."""
    return orjson.dumps({"text": doc.text, "id": doc.id, "metadata": doc.metadata})


def sample_texts(n: int) -> list[str]:
    """Real Kazakh articles of the bundled sample, each of which passes every filter of a default prep run."""
    with open(SAMPLE / "corpus" / "jsonl" / "kk_culture.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line, _ in zip(f, range(n))]


# ---------------------------------------------------------------------------------------------------
# Hostile files, shared by the per-case tests and the end-to-end run
# ---------------------------------------------------------------------------------------------------


def write_surrogates(path: Path, text: str) -> None:
    # json.dumps escapes lone surrogates as \ud800, as a producer that cut an emoji pair in half would.
    record = {"id": "emoji\ud83d", "text": text + " \ud83d", "tag": "\udfff", "\ud800key": "v"}
    path.write_text(json.dumps(record) + "\n", encoding="ascii")


def write_deep_and_long_numbers(path: Path, good: str) -> None:
    path.write_bytes(
        b"[" * 100_000
        + b"]" * 100_000
        + b"\n"  # RecursionError in json.loads
        + b'{"text": "x", "n": '
        + b"9" * 5000
        + b"}\n"  # int max str digits
        + b'{"text": "x", "id": '
        + str(2**64).encode()
        + b"}\n"  # beyond what orjson stores
        + jsonl_lines(
            [
                {"text": "x", "deep": json.loads("[" * 150 + "]" * 150)},  # orjson nests 255
                {"id": "after-deep", "text": good},
            ]
        )
    )


def write_pipeline_keys(path: Path, text: str) -> None:
    path.write_bytes(
        jsonl_lines(
            [
                {
                    "id": "owned",
                    "text": text,
                    "filter_reason": "forged",
                    "unreadable": "forged",
                    "language": "zz",
                    "source": "forged",
                    "pii": {"email": 9},
                    "line": 99,
                    "path": "/etc/passwd",
                    "input": "nested?",
                    "url": "https://example.kz/owned",
                    "date": "2024-02-01",
                    "author": "Айгерім",
                }
            ]
        )
    )


def write_symlinks(folder: Path) -> None:
    (folder / "dangling.jsonl").symlink_to(folder / "missing.jsonl")
    (folder / "loop.jsonl").symlink_to(folder / "loop.jsonl")


def write_warc_gz(path: Path, texts: list[str]) -> None:
    """A request and an HTML response record for each text."""
    pages = [
        f"<html><body><article><p>{t.replace(chr(10) * 2, '</p><p>')}</p></article></body></html>".encode()
        for t in texts
    ]
    _warc_gz(
        path,
        [
            (f"https://example.kz/{i}", "text/html; charset=utf-8", page, "200 OK")
            for i, page in enumerate(pages)
        ],
    )


def cut_inside_last_record(path: Path) -> None:
    """Cut the WARC (plain or .warc.gz, where each record is a gzip member) halfway into its last record."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as f:
        records = ArchiveIterator(f)
        spans = [(records.get_record_offset(), records.get_record_length()) for _ in records]
    start, length = spans[-1]
    path.write_bytes(path.read_bytes()[: start + length // 2])


# ---------------------------------------------------------------------------------------------------
# One test per kind of bad input
# ---------------------------------------------------------------------------------------------------


def test_lone_surrogates_in_text_id_and_metadata_become_U_FFFD_and_the_document_is_kept(tmp_path):
    write_surrogates(tmp_path / "s.jsonl", KK_1)
    (doc,) = read_all(tmp_path, path=tmp_path / "s.jsonl")
    assert doc.text == KK_1 + " \ufffd" and doc.id == "emoji\ufffd"
    assert (
        doc.metadata["input"] == {"tag": "\ufffd", "\ufffdkey": "v"}
        and doc.metadata["surrogates_replaced"] == 4
    )
    storable(doc)


def test_a_file_name_with_non_utf8_bytes_is_carried_with_escapes(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / os.fsdecode(b"\xffnews.jsonl")).write_bytes(jsonl_lines([{"text": KK_1}]) + b"{broken\n")
    counts = tmp_path / "counts"
    docs = list(SourceReader([InputSource(path=str(folder))], counts_dir=counts).run())
    assert [d.text for d in kept(docs)] == [KK_1] and reasons(docs) == ["bad_json"]
    assert docs[0].id == "\\xffnews:1" and docs[1].id == "\\xffnews.jsonl:2"
    assert (
        {d.metadata["path"] for d in docs}
        == {d.metadata["url"] for d in docs}
        == {f"{folder}/\\xffnews.jsonl"}
    )
    assert json.loads((counts / "00000.json").read_text(encoding="utf-8")) == {"\\xffnews": 2}
    for doc in docs:
        storable(doc)


def test_a_nul_byte_costs_its_line_even_at_the_start_of_a_file(tmp_path):
    path = tmp_path / "nul.jsonl"
    path.write_bytes(b'{"text": "a\x00b"}\n' + jsonl_lines([{"text": KK_1}, {"text": KK_2}]))
    docs = read_all(tmp_path, path=path)
    assert reasons(docs) == ["nul_byte"] and docs[0].metadata["line"] == 1
    assert [d.text for d in kept(docs)] == [KK_1, KK_2]


def test_real_binary_files_are_still_quarantined_whole(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_packed.jsonl").write_bytes(gzip.compress(jsonl_lines([{"text": KK_1}] * 50), mtime=0))
    (folder / "b_program.jsonl").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))
    (folder / "c_utf16.jsonl").write_bytes("Қазақстан".encode("utf-16-le") * 50)  # no BOM, no NUL
    assert reasons(read_all(tmp_path, path=folder)) == [
        "binary (gzip signature)",
        "binary (NUL bytes)",
        "binary (control bytes)",
    ]


def test_deep_json_and_long_numbers_cost_one_line_each_and_reading_goes_on(tmp_path):
    write_deep_and_long_numbers(tmp_path / "deep.jsonl", KK_3)
    docs = read_all(tmp_path, path=tmp_path / "deep.jsonl")
    assert reasons(docs) == ["json_too_deep", "json_number_too_long", "json_number_too_long", "json_too_deep"]
    assert [d.metadata["line"] for d in docs] == [1, 2, 3, 4, 5]
    assert [(d.id, d.text) for d in kept(docs)] == [("after-deep", KK_3)]


@pytest.mark.parametrize("compressed", [True, False])
def test_a_warc_cut_inside_a_record_makes_that_record_one_truncation_reject(tmp_path, compressed):
    texts = sample_texts(3)
    path = tmp_path / "cut.warc.gz"
    write_warc_gz(path, texts)
    if not compressed:
        path = tmp_path / "cut.warc"
        path.write_bytes(gzip.decompress((tmp_path / "cut.warc.gz").read_bytes()))
    cut_inside_last_record(path)
    docs = read_all(tmp_path, path=path, format="warc")
    assert len(kept(docs)) == 2 and texts[0].split("\n")[0] in kept(docs)[0].text
    assert reasons(docs) == ["truncated_gzip" if compressed else "warc:truncated"]
    assert docs[-1].metadata["record"] == 3 and docs[-1].metadata["url"] == "https://example.kz/2"


def test_kz1048_kazakh_is_decoded_and_cp1251_is_named_not_guessed(tmp_path):
    (tmp_path / "kz1048.txt").write_bytes(f"{KK_1}\n{KK_2}\n".encode("kz1048"))
    (tmp_path / "mixed.jsonl").write_bytes(
        json.dumps({"text": KK_3}, ensure_ascii=False).encode("kz1048")
        + b"\n"
        + json.dumps({"text": "Київ є столицею України."}, ensure_ascii=False).encode("cp1251")
        + b"\n"
        + json.dumps({"text": "Республика Казахстан."}, ensure_ascii=False).encode("cp1251")
        + b"\n"
    )
    (text_doc,) = read_all(tmp_path, path=tmp_path / "kz1048.txt", format="text")
    jsonl_docs = read_all(tmp_path, path=tmp_path / "mixed.jsonl")
    assert text_doc.text == f"{KK_1}\n{KK_2}\n" and text_doc.metadata["encoding"] == "kz1048"
    assert jsonl_docs[0].text == KK_3 and jsonl_docs[0].metadata["encoding"] == "kz1048"
    assert reasons(jsonl_docs) == ["encoding:cp1251", "encoding:cp1251"]  # Ukrainian, Russian: not Kazakh


def test_skipped_directory_entries_leave_a_reject_each(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.jsonl").write_bytes(jsonl_lines([{"text": KK_1}]))
    write_symlinks(folder)
    (folder / "linked").symlink_to(folder / "sub")
    os.mkfifo(folder / "pipe.jsonl")
    docs = read_all(tmp_path, path=folder)
    assert {Path(d.metadata["path"]).name: d.metadata.get("unreadable") for d in docs} == {
        "dangling.jsonl": "broken_symlink",
        "good.jsonl": None,
        "linked": "symlinked_directory",
        "loop.jsonl": "symlink_loop",
        "pipe.jsonl": "not_a_regular_file",
    }
    assert docs[0].metadata["target"] == str(folder / "missing.jsonl")


def test_record_fields_live_in_their_own_namespace(tmp_path):
    write_pipeline_keys(tmp_path / "owned.jsonl", KK_1)
    (doc,) = read_all(tmp_path, path=tmp_path / "owned.jsonl", name="web")
    assert doc.metadata["input"] == {
        "filter_reason": "forged",
        "unreadable": "forged",
        "language": "zz",
        "source": "forged",
        "pii": {"email": 9},
        "line": 99,
        "path": "/etc/passwd",
        "input": "nested?",
        "author": "Айгерім",
    }
    assert {k: doc.metadata[k] for k in ("source", "line", "path", "url", "date")} == {
        "source": "web",
        "line": 1,
        "path": str(tmp_path / "owned.jsonl"),
        "url": "https://example.kz/owned",
        "date": "2024-02-01",
    }
    assert not {"unreadable", "filter_reason", "language", "pii"} & set(doc.metadata)


# ---------------------------------------------------------------------------------------------------
# End to end: all of it among good documents, through the real prep run
# ---------------------------------------------------------------------------------------------------


def test_prep_over_hostile_input_keeps_every_good_document_and_rejects_each_bad_record_once(tmp_path):
    from data_prep.pipeline import run_prep

    texts = sample_texts(12)
    web, crawl = tmp_path / "web", tmp_path / "crawl"
    web.mkdir()
    crawl.mkdir()
    (web / "good.jsonl").write_bytes(
        jsonl_lines([{"id": f"good-{i}", "text": t} for i, t in enumerate(texts[:4])])
    )
    write_surrogates(web / "surrogates.jsonl", texts[4])
    (web / os.fsdecode(b"\xffnews.jsonl")).write_bytes(
        jsonl_lines([{"id": "odd-name", "text": texts[5]}]) + b"{broken\n"
    )
    (web / "nul.jsonl").write_bytes(
        b'{"text": "a\x00b"}\n' + jsonl_lines([{"id": "after-nul", "text": texts[6]}])
    )
    (web / "packed.jsonl").write_bytes(gzip.compress(jsonl_lines([{"text": KK_1}] * 50), mtime=0))
    write_deep_and_long_numbers(web / "deep.jsonl", texts[7])
    (web / "legacy.jsonl").write_bytes(
        json.dumps({"id": "kz1048", "text": texts[8]}, ensure_ascii=False).encode("kz1048")
        + b"\n"
        + '{"text": "Привет, как дела?"}\n'.encode("cp1251")
    )
    write_pipeline_keys(web / "owned.jsonl", texts[9])
    write_symlinks(web)
    write_warc_gz(crawl / "cut.warc.gz", texts[10:] + [KK_1])
    cut_inside_last_record(crawl / "cut.warc.gz")

    cfg_path = tmp_path / "prep.yaml"
    cfg_path.write_text(
        f"run: {{out_dir: {tmp_path / 'run'}}}\nprep:\n  inputs:\n"
        f"    - {{path: {web}, name: web}}\n    - {{path: {crawl}, format: warc, name: crawl}}\n",
        encoding="utf-8",
    )
    cfg = load_config(cfg_path)
    stats = run_prep(cfg)  # used to end with TypeError (surrogates) or lose records without a row

    expected_rejects = {
        "unreadable:bad_json": 1,
        "unreadable:nul_byte": 1,
        "unreadable:binary (gzip signature)": 1,
        "unreadable:json_too_deep": 2,
        "unreadable:json_number_too_long": 2,
        "unreadable:encoding:cp1251": 1,
        "unreadable:broken_symlink": 1,
        "unreadable:symlink_loop": 1,
        "unreadable:truncated_gzip": 1,
    }
    assert stats["rejected_by_reason"] == expected_rejects
    assert stats["documents_in"] == stats["documents_kept"] + stats["documents_rejected"] == 12 + 11
    assert stats["balanced"] and all(s["balanced"] for s in stats["by_source"].values())
    prep_dir = cfg.stage_dir("prep")
    kept_docs = {r["id"]: r for f in (prep_dir / "kept").glob("*.jsonl") for r in map(json.loads, f.open())}
    assert len(kept_docs) == 12 and {f"good-{i}" for i in range(4)} | {
        "emoji\ufffd",
        "odd-name",
        "after-nul",
        "after-deep",
        "kz1048",
        "owned",
    } <= set(kept_docs)
    assert kept_docs["odd-name"]["metadata"]["path"].endswith("\\xffnews.jsonl")
    assert kept_docs["kz1048"]["metadata"]["encoding"] == "kz1048"
    assert kept_docs["owned"]["metadata"]["input"]["filter_reason"] == "forged"
    assert "filter_reason" not in kept_docs["owned"]["metadata"]
    rejected = [r for f in (prep_dir / "rejected").glob("*.jsonl") for r in map(json.loads, f.open())]
    assert Counter(r["metadata"]["filter_reason"] for r in rejected) == expected_rejects
