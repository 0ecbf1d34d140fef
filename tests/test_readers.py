"""Readers (data_prep.readers): every line- and record-based format (JSONL, text, CSV, Parquet) builds its own
small fixture here, is read by SourceReader, and is checked for text and provenance; then the quarantine
cases, each of which must become one named reject, not a crash. The document formats (WARC, Wikipedia, PDF,
DOCX) are in tests/test_readers_docs.py, the shared file reading in tests/test_source_io.py."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from data_prep.readers import SourceReader
from kazllm.config import InputSource, load_config
from kazllm.errors import ConfigError

KK_1 = "Алматы — Қазақстанның ең үлкен қаласы. Қала Іле Алатауының етегінде орналасқан."
KK_2 = "Көктемде тау бөктеріндегі алма бақтары гүлдейді және қала әсем болады."
KK_3 = "Ұлттық кітапханада қазақ тіліндегі ескі қолжазбалар сақталған."


def read_all(tmp_path: Path, **fields) -> list:
    """Run SourceReader over one source; the per-source count must equal what it yielded."""
    fields.setdefault("name", "src")
    fields["path"] = str(fields["path"])
    counts_dir = tmp_path / "counts"
    docs = list(SourceReader([InputSource(**fields)], counts_dir=counts_dir).run())
    counts = json.loads((counts_dir / "00000.json").read_text(encoding="utf-8"))
    assert counts == {fields["name"]: len(docs)}
    for doc in docs:  # provenance on every document, quarantined or not
        assert {"source", "licence", "url", "path", "retrieved"} <= set(doc.metadata)
    return docs


def kept(docs):
    return [d for d in docs if "unreadable" not in d.metadata]


def reasons(docs):
    return [d.metadata.get("unreadable") for d in docs if "unreadable" in d.metadata]


def jsonl_lines(rows) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


# ---------------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------------


def test_jsonl_gz_keeps_record_urls_and_falls_back_to_the_source_url(tmp_path):
    path = tmp_path / "news.jsonl.gz"
    path.write_bytes(
        gzip.compress(
            jsonl_lines(
                [
                    {"id": "a1", "text": KK_1, "url": "https://example.kz/a1", "date": "2024-03-01"},
                    {"text": KK_2},
                ]
            )
        )
    )
    docs = read_all(
        tmp_path,
        path=path,
        format="jsonl",
        name="news",
        licence="CC-BY-4.0",
        url="https://example.kz/dump",
        retrieved="2024-05-01",
    )
    assert [d.text for d in docs] == [KK_1, KK_2]
    first, second = docs
    assert first.id == "a1" and second.id == "news:2"
    assert (
        first.metadata["url"] == "https://example.kz/a1"
        and second.metadata["url"] == "https://example.kz/dump"
    )
    assert first.metadata["date"] == "2024-03-01" and second.metadata["line"] == 2
    assert {
        "source": "news",
        "licence": "CC-BY-4.0",
        "path": str(path),
        "retrieved": "2024-05-01",
    }.items() <= first.metadata.items()


def test_jsonl_custom_id_key_and_url_falls_back_to_the_file_path(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(jsonl_lines([{"doc_no": 7, "body": KK_1}]))
    (doc,) = read_all(tmp_path, path=path, text_key="body", id_key="doc_no")
    assert doc.id == "7" and doc.text == KK_1 and doc.metadata["url"] == str(path)


def test_plain_text_gz_file_is_one_document(tmp_path):
    path = tmp_path / "book.txt.gz"
    path.write_bytes(gzip.compress(f"{KK_1}\n{KK_2}\n".encode()))
    (doc,) = read_all(tmp_path, path=path, format="text")
    assert doc.text == f"{KK_1}\n{KK_2}\n" and doc.id == "book"


def test_parquet_rows_become_documents_with_their_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "corpus.parquet"
    table = pa.table({"id": ["p1", "p2", "p3"], "content": [KK_1, None, KK_3], "year": [2021, 2022, 2023]})
    pq.write_table(table, path)
    docs = read_all(tmp_path, path=path, format="parquet", text_key="content", url="https://hf.example/kk")
    assert [d.text for d in kept(docs)] == [KK_1, KK_3]
    assert reasons(docs) == ["missing_field 'content'"] and docs[1].metadata["record"] == 2
    assert docs[2].id == "p3" and docs[2].metadata["input"] == {"year": 2023}
    assert docs[2].metadata["record"] == 3
    assert docs[2].metadata["url"] == "https://hf.example/kk"


def test_csv_rows_with_quoted_multiline_text(tmp_path):
    path = tmp_path / "forum.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "author"])
        writer.writerow(["c1", f"{KK_1}\n{KK_2}", "Айгерім"])
        writer.writerow(["c2", KK_3, "Ержан"])
    docs = read_all(tmp_path, path=path, format="csv")
    assert [d.text for d in docs] == [f"{KK_1}\n{KK_2}", KK_3]
    assert [d.metadata["line"] for d in docs] == [2, 4]
    assert docs[0].id == "c1" and docs[0].metadata["input"] == {"author": "Айгерім"}


def test_csv_without_the_text_column_is_one_named_reject(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,body\n1,мәтін\n", encoding="utf-8")
    assert reasons(read_all(tmp_path, path=path, format="csv")) == ["missing_field 'text'"]


def test_new_input_fields_load_from_yaml_and_unknown_formats_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "prep:\n  inputs:\n    - {path: a.warc.gz, format: warc, url: 'https://x.kz', "
        "retrieved: '2024-05-01', id_key: uid, max_line_mb: 2}\n",
        encoding="utf-8",
    )
    (source,) = load_config(path).prep.inputs
    assert (source.format, source.url, source.retrieved, source.id_key, source.max_line_mb) == (
        "warc",
        "https://x.kz",
        "2024-05-01",
        "uid",
        2.0,
    )
    path.write_text("prep:\n  inputs:\n    - {path: a.epub, format: epub}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="format must be one of jsonl, text, parquet, csv, warc"):
        load_config(path)


# ---------------------------------------------------------------------------------------------------
# Quarantine: each bad input is one named reject with file and line/record, and reading goes on
# ---------------------------------------------------------------------------------------------------


def test_cp1251_text_is_quarantined_not_guessed(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Республика Казахстан — государство в Центральной Азии.\n".encode("cp1251"))
    (doc,) = read_all(tmp_path, path=path, format="text")
    assert doc.metadata["unreadable"] == "encoding:cp1251" and doc.metadata["line"] == 1
    assert doc.metadata["path"] == str(path) and doc.text == ""


def test_bad_utf8_that_is_not_cp1251_says_where(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        jsonl_lines([{"text": KK_1}]) + b'{"text": "\xff\xfe abc"}\n' + jsonl_lines([{"text": KK_2}])
    )
    docs = read_all(tmp_path, path=path)
    assert [d.text for d in kept(docs)] == [KK_1, KK_2]
    assert reasons(docs) == ["bad_utf8 at byte 10"] and docs[1].metadata["line"] == 2


def test_cp1251_jsonl_line_is_quarantined_and_the_rest_is_read(tmp_path):
    path = tmp_path / "mixed.jsonl"
    cp1251_line = '{"text": "Привет, как дела?"}\n'.encode("cp1251")
    path.write_bytes(jsonl_lines([{"text": KK_1}]) + cp1251_line + jsonl_lines([{"text": KK_2}]))
    docs = read_all(tmp_path, path=path)
    assert reasons(docs) == ["encoding:cp1251"] and docs[1].id == "mixed.jsonl:2"
    assert len(kept(docs)) == 2


def test_truncated_gzip_keeps_documents_before_the_damage(tmp_path):
    rows = [{"id": f"r{i}", "text": f"{KK_1} {i} {i * 7919 % 104729:x}"} for i in range(3000)]
    whole = gzip.compress(jsonl_lines(rows))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    docs = read_all(tmp_path, path=path)
    good = kept(docs)
    assert 0 < len(good) < len(rows) and [d.id for d in good] == [r["id"] for r in rows[: len(good)]]
    assert reasons(docs) == ["truncated_gzip"] and docs[-1].metadata["line"] == len(good) + 1
    assert "EOFError" in docs[-1].metadata["error"]


def test_zstd_jsonl_is_read_and_its_truncation_reported(tmp_path):
    import zstandard

    rows = [{"text": f"{KK_2} {i} {i * 7919 % 104729:x}"} for i in range(3000)]
    whole = zstandard.ZstdCompressor().compress(jsonl_lines(rows))
    (tmp_path / "a.jsonl.zst").write_bytes(whole)
    assert len(kept(read_all(tmp_path, path=tmp_path / "a.jsonl.zst"))) == 3000
    (tmp_path / "cut.jsonl.zst").write_bytes(whole[: len(whole) // 2])
    docs = read_all(tmp_path, path=tmp_path / "cut.jsonl.zst")
    assert reasons(docs) == ["truncated_zstd"] and 0 < len(kept(docs)) < 3000


def test_csv_row_in_cp1251_is_quarantined_by_line(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"id,text\n1,"
        + KK_1.encode()
        + b"\n2,"
        + "Привет как дела".encode("cp1251")
        + b'\n3,"'
        + KK_2.encode()
        + b'"\n'
    )
    docs = read_all(tmp_path, path=path, format="csv")
    assert [d.text for d in kept(docs)] == [KK_1, KK_2]
    assert reasons(docs) == ["encoding:cp1251"] and docs[1].metadata["line"] == 3


def test_broken_json_line_is_quarantined_with_its_line(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(
        jsonl_lines([{"text": KK_1}])
        + b'{"text": "\xd0\xb6\xd0\xb0\n'
        + b"[1, 2]\n"
        + jsonl_lines([{"body": KK_2}, {"text": KK_3}])
    )
    docs = read_all(tmp_path, path=path)
    assert reasons(docs) == ["bad_json", "not_an_object", "missing_field 'text'"]
    broken = next(d for d in docs if d.metadata.get("unreadable") == "bad_json")
    assert broken.metadata["detail"] == "Unterminated string starting at, column 10"  # the parser's words
    assert [d.metadata["line"] for d in docs] == [1, 2, 3, 4, 5] and len(kept(docs)) == 2


def test_binary_file_and_nul_bytes_inside_a_line(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "image.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    # A NUL byte in a text file costs its line only (test_bad_input has one at the very start).
    filler = jsonl_lines([{"text": KK_1}] * 100)
    (folder / "late.jsonl").write_bytes(filler + b'{"text": "a\x00b"}\n' + jsonl_lines([{"text": KK_2}]))
    docs = read_all(tmp_path, path=folder)
    assert reasons(docs) == ["binary (NUL bytes)", "nul_byte"]
    assert docs[0].metadata["path"].endswith("image.jsonl") and docs[0].metadata["line"] is None
    assert docs[-2].metadata["line"] == 101 and docs[-1].text == KK_2


def test_over_long_line_is_skipped_without_losing_its_neighbours(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_bytes(jsonl_lines([{"text": KK_1}, {"text": "ұзын " * 1000}, {"text": KK_2}]))
    docs = read_all(tmp_path, path=path, max_line_mb=0.001)
    assert [d.text for d in kept(docs)] == [KK_1, KK_2]
    assert reasons(docs) == ["line_too_long"] and docs[1].metadata["line"] == 2


def test_over_long_line_quarantines_its_text_block(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(f"{KK_1}\n---\n{'ұзын ' * 1000}\n{KK_2}\n---\n{KK_3}\n", encoding="utf-8")
    docs = read_all(tmp_path, path=path, format="text", separator="---", max_line_mb=0.001)
    assert [d.text for d in kept(docs)] == [KK_1, KK_3]
    assert reasons(docs) == ["line_too_long"] and docs[1].metadata["line"] == 3


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("zero.jsonl", b"", "jsonl"),
        ("blank.jsonl", b"\n  \n", "jsonl"),
        ("blank.txt", b" \n", "text"),
        ("empty.jsonl.gz", gzip.compress(b""), "jsonl"),
        ("header.csv", b"id,text\n", "csv"),
        ("zero.pdf", b"", "pdf"),
    ],
)
def test_empty_files_are_one_reject_each(tmp_path, name, content, fmt):
    (tmp_path / name).write_bytes(content)
    assert reasons(read_all(tmp_path, path=tmp_path / name, format=fmt)) == ["empty_file"]


def test_quarantined_records_reach_the_rejects_with_their_reason(tmp_path):
    from data_prep.pipeline import run_prep

    text = (
        "Бұл қала өте әдемі және жасыл. Көктемде бақтар гүлдейді, сондықтан тұрғындар саябаққа көп "
        "барады. Қалада кітапхана мен театр бар, олар барлық адамдар үшін ашық. "
        "Біз бұл жерді жақсы көреміз."
    )
    src = tmp_path / "web.jsonl"
    src.write_bytes(
        jsonl_lines([{"id": "ok", "text": text, "url": "https://example.kz/ok"}])
        + '{"text": "Привет, как дела у вас?"}\n'.encode("cp1251")
    )
    cfg_path = tmp_path / "prep.yaml"
    cfg_path.write_text(
        f"run: {{out_dir: {tmp_path / 'run'}}}\nprep:\n  inputs:\n"
        f"    - {{path: {src}, name: web, retrieved: '2024-05-01'}}\n",
        encoding="utf-8",
    )
    cfg = load_config(cfg_path, ["prep.quality.min_words=10"])
    stats = run_prep(cfg)
    assert stats["balanced"] and stats["rejected_by_reason"] == {"unreadable:encoding:cp1251": 1}
    kept_dir = cfg.stage_dir("prep") / "kept"
    (record,) = [json.loads(line) for f in kept_dir.glob("*.jsonl") for line in f.open(encoding="utf-8")]
    assert record["metadata"]["url"] == "https://example.kz/ok"
    assert record["metadata"]["retrieved"] == "2024-05-01"
