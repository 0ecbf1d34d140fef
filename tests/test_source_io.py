"""Source file reading shared by every reader (data_prep.source_io): decompression by extension, the line
stream with its byte limit, decoding with legacy Kazakh encodings, binary sniffing and printable names.
The readers' own tests (tests/test_readers.py, tests/test_readers_docs.py) go through all of it end to end."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import random
from pathlib import Path

import pytest

from data_prep.source_io import (
    RawLines,
    binary_kind,
    damage_reason,
    decode_line,
    encoding_note,
    file_stem,
    open_decompressed,
    printable,
    unreadable,
)
from tests.test_readers import KK_1, KK_2, jsonl_lines

# ---------------------------------------------------------------------------------------------------
# Opening and reading lines
# ---------------------------------------------------------------------------------------------------

COMPRESSORS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress, "": bytes}


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
def test_a_file_is_decompressed_by_its_extension(tmp_path, suffix):
    path = tmp_path / f"a.jsonl{suffix}"
    path.write_bytes(COMPRESSORS[suffix](jsonl_lines([{"text": KK_1}])))
    with open_decompressed(path) as stream:
        assert stream.read() == jsonl_lines([{"text": KK_1}])


def test_raw_lines_number_every_line_and_skip_an_over_long_one_without_holding_it(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"first\n" + b"x" * 5000 + b"\nthird")
    lines = RawLines(path, max_bytes=100)
    assert list(lines) == [(1, b"first\n"), (2, None), (3, b"third")]
    assert lines.damage is None


def test_raw_lines_stop_at_damage_and_name_it(tmp_path):
    whole = gzip.compress(b"".join(f"{KK_2} {i}\n".encode() for i in range(2000)))
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(whole[: len(whole) // 2])
    lines = RawLines(path, max_bytes=1000)
    read = list(lines)
    assert 0 < len(read) < 2000 and lines.damage == "truncated_gzip"
    record = lines.damage_record()
    assert record.metadata["unreadable"] == "truncated_gzip" and record.metadata["line"] == len(read) + 1


def test_damage_is_named_by_compression():
    assert damage_reason(Path("a.jsonl.gz"), EOFError()) == "truncated_gzip"
    assert damage_reason(Path("a.jsonl.bz2"), OSError("Invalid data stream")) == "corrupt_bz2"
    assert damage_reason(Path("a.jsonl"), OSError()) == "read_error"


# ---------------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------------


def test_utf8_is_decoded_and_a_byte_order_mark_dropped_only_at_the_start_of_a_file():
    assert decode_line("\ufeffҚазақ".encode(), first=True) == ("Қазақ", None, "utf-8")
    assert decode_line("\ufeffҚазақ".encode()) == ("\ufeffҚазақ", None, "utf-8")


def test_kazakh_in_kz1048_is_decoded_and_other_cp1251_text_is_named_not_guessed():
    kazakh = "Қазақстан Республикасы әлемдегі ең үлкен"
    assert decode_line(kazakh.encode("kz1048")) == (kazakh, None, "kz1048")
    for text in ("Республика Казахстан", "Київ є столицею України."):  # Russian, Ukrainian
        assert decode_line(text.encode("cp1251")) == ("", "encoding:cp1251", "")
    assert decode_line(b"abc \x98 def") == ("", "bad_utf8 at byte 4", "")


def test_only_legacy_encodings_leave_an_encoding_note():
    assert encoding_note("utf-8") == {}
    assert encoding_note("utf-8", "kz1048", "", "kz1048") == {"encoding": "kz1048"}


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "pdf signature"),
        ("\ufeffмәтін".encode("utf-16-le"), "utf-16 signature"),
        (
            random.Random(0).randbytes(8192).replace(b"\x00", b"\x01"),
            "control bytes",
        ),  # compressed or encrypted
        (jsonl_lines([{"text": KK_1}]) + b'{"text": "a\x00b"}\n', None),  # one NUL in text
        ("Республика Казахстан — государство.\n".encode("cp1251"), None),  # legacy text: judged per line
    ],
)
def test_what_makes_a_file_binary(head, kind):
    assert binary_kind(head) == kind


# ---------------------------------------------------------------------------------------------------
# Quarantine records and names
# ---------------------------------------------------------------------------------------------------


def test_a_quarantine_record_is_empty_and_named_by_file_and_line_or_record():
    by_line = unreadable(Path("in/a.jsonl"), "bad_json", line=3)
    assert (by_line.id, by_line.text) == ("a.jsonl:3", "")
    assert by_line.metadata == {"unreadable": "bad_json", "line": 3}
    by_record = unreadable(Path("in/a.warc"), "warc:no_text", record=2, url="https://example.kz")
    assert by_record.id == "a.warc#2"
    assert by_record.metadata == {
        "unreadable": "warc:no_text",
        "line": None,
        "record": 2,
        "url": "https://example.kz",
    }
    assert unreadable(Path("in/a.pdf"), "pdf:no_text").id == "a.pdf"


def test_file_stems_lose_the_compression_and_the_format_suffix():
    assert [file_stem(Path(p)) for p in ("in/news.jsonl.gz", "book.txt", "dump.xml.bz2", ".gz")] == [
        "news",
        "book",
        "dump",
        ".gz",
    ]


def test_a_file_name_with_non_utf8_bytes_is_printed_with_escapes():
    assert printable(os.fsdecode(b"\xffnews.jsonl")) == "\\xffnews.jsonl"
    assert printable("қазақ.jsonl") == "қазақ.jsonl"
