"""Readers for raw sources, with provenance on every document and quarantine of bad input.

Formats: jsonl, text, csv and parquet here; warc, wikipedia, pdf and docx in `data_prep.readers_docs`.
JSONL, text and CSV files may be compressed (.gz, .bz2, .zst, .xz, by extension) and are streamed line by
line with a byte limit per line, so one runaway line never has to fit in memory.

Nothing is dropped here: a line, record, file or directory entry that cannot be read becomes an empty
document with `metadata["unreadable"]` set to the reason (file and line or record in its metadata), and the
`UnreadableFilter` step sends it to the rejects with that reason. The run always goes on. Each task also
records how many records it read per source, so `stats.json` can prove input = kept + rejected.
docs/bad_input.md lists what each kind of bad input becomes.

Every document carries provenance: source, licence, url (the record's own URL where it has one, else the
source url, else the file path), path and retrieved, plus format-specific ids (line, WARC-Record-ID, ...).
A record's other fields go to `metadata["input"]`, so input can never set or overwrite a pipeline field
(`unreadable`, `filter_reason`, `language`, `pii`, ...); only its `url` and `date` are adopted as provenance.
Everything a document carries can be written by the JSONL writers: file names with non-UTF-8 bytes appear
with \\xff escapes, and lone surrogates from JSON escapes (`"\\ud800"`) become U+FFFD, counted in
`metadata["surrogates_replaced"]`.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import errno
import gzip
import io
import json
import lzma
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from data_prep.normalize import KAZAKH_ONLY_LETTERS
from kazllm.artifacts import write_json
from kazllm.config import InputSource, resolve_path
from kazllm.errors import InputError

MIB = 1024 * 1024
SNIFF_BYTES = 8192
COMPRESSION_BY_SUFFIX = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".xz": "xz"}
DocumentReader = Callable[[InputSource, Path], Iterator[Document]]
RECORD_PROVENANCE = ("url", "date")
"""Record fields adopted as the document's own provenance (when non-empty strings); the rest go to
metadata["input"]."""
# orjson, which datatrove's JSONL writers use, stores integers of at most 64 bits and nests at most 255
# levels; a record value sits three levels down (document, metadata, input).
MAX_JSON_DEPTH = 100
JSON_INT_RANGE = range(-(2**63), 2**64)


def _decompression_errors() -> tuple[type[BaseException], ...]:
    # EOFError: the stream ends early (truncated); OSError covers BadGzipFile, bz2's "Invalid data stream"
    # and plain read failures; zlib/lzma/zstd raise their own types for damaged data.
    errors: list[type[BaseException]] = [EOFError, OSError, zlib.error, lzma.LZMAError]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(errors)


DECOMPRESSION_ERRORS = _decompression_errors()


def list_source_entries(source: InputSource) -> list[tuple[Path, str | None]]:
    """(path, None) for each file of one source and (path, reason) for each entry that cannot be read
    (broken_symlink, symlink_loop, symlinked_directory, not_a_regular_file), sorted. Hidden names are not
    input. A missing path is a clear error before any work starts."""
    path = resolve_path(source.path)
    if path.is_file():
        return [(path, None)]
    if path.is_dir():
        entries = sorted((p, _skip_reason(p)) for p in path.rglob("*")
                         if not p.name.startswith(".") and not (p.is_dir() and not p.is_symlink()))
        if not entries:
            raise InputError(f"input directory is empty: {path}")
        return entries
    raise InputError(f"input not found: {source.path} (resolved to {path})")


def list_source_files(source: InputSource) -> list[Path]:
    """The files of one source that can be read, sorted."""
    return [p for p, skip in list_source_entries(source) if skip is None]


def _skip_reason(entry: Path) -> str | None:
    if entry.is_file():  # a symlink to a file is read through
        return None
    if entry.is_symlink():
        try:
            os.stat(entry)
        except OSError as e:
            return "symlink_loop" if e.errno == errno.ELOOP else "broken_symlink"
        return "symlinked_directory"  # not followed: it can loop back or read a tree twice
    return "not_a_regular_file"  # a FIFO, socket or device: opening it could block the run


# ---------------------------------------------------------------------------------------------------
# Shared helpers (also used by readers_docs)
# ---------------------------------------------------------------------------------------------------


def unreadable(file: Path, reason: str, line: int | None = None, record: int | None = None,
               **details: Any) -> Document:
    """The quarantine placeholder: an empty document whose reason the UnreadableFilter turns into a reject."""
    name = printable(file.name)
    where = f"{name}:{line}" if line else f"{name}#{record}" if record else name
    metadata: dict[str, Any] = {"unreadable": reason, "line": line}
    if record is not None:
        metadata["record"] = record
    return Document(text="", id=where, metadata={**metadata, **details})


def compression_of(file: Path) -> str | None:
    return COMPRESSION_BY_SUFFIX.get(file.suffix.lower())


def file_stem(file: Path) -> str:
    """`news.jsonl.gz` -> `news`: the compression suffix and then the format suffix go."""
    name = file.name[: -len(file.suffix)] if compression_of(file) else file.name
    return printable(Path(name).stem or name)


def printable(path: str | Path) -> str:
    """A path as text every writer can store. Python carries the bytes of a non-UTF-8 file name as lone
    surrogates (b"\\xff.jsonl" -> "\\udcff.jsonl"), which no UTF-8 writer accepts; they become "\\xff"."""
    text = str(path)
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def open_decompressed(file: Path) -> io.BufferedIOBase:
    """A binary stream of the file's content, decompressed by extension."""
    codec = compression_of(file)
    if codec == "zstd":
        return io.BufferedReader(ZstdStream(file), buffer_size=SNIFF_BYTES * 8)
    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(codec or "", open)
    return opener(file, "rb")


class ZstdStream(io.RawIOBase):
    """Decompresses a .zst file frame by frame. zstandard's own stream reader ends quietly where a file was
    cut off; this one raises EOFError there, as gzip and bz2 do, so truncation is reported, not hidden."""

    def __init__(self, file: Path):
        import zstandard

        self._compressed = open(file, "rb")
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._output, self._pos = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._pos >= len(self._output):
            chunk = self._compressed.read(SNIFF_BYTES * 8)
            if not chunk:
                if not self._frame.eof and self._compressed.tell() > 0:
                    raise EOFError("zstd stream ended before the end of a frame")
                return 0
            self._output, self._pos = self._decompress(chunk), 0
        n = min(len(buffer), len(self._output) - self._pos)
        buffer[:n] = self._output[self._pos:self._pos + n]
        self._pos += n
        return n

    def _decompress(self, data: bytes) -> bytes:
        parts = []
        while data:
            if self._frame.eof:  # concatenated frames are one stream
                self._frame = self._decompressor.decompressobj()
            parts.append(self._frame.decompress(data))
            data = self._frame.unused_data if self._frame.eof else b""
        return b"".join(parts)

    def close(self) -> None:
        self._compressed.close()
        super().close()


def damage_reason(file: Path, error: BaseException) -> str:
    """truncated_gzip / corrupt_bz2 / ... for compressed files, read_error for plain ones."""
    codec = compression_of(file)
    if codec is None:
        return "read_error"
    return f"truncated_{codec}" if isinstance(error, EOFError) else f"corrupt_{codec}"


def looks_like_cp1251(raw: bytes) -> bool:
    """True when bytes that are not UTF-8 read as mostly Cyrillic prose in Windows-1251 (a common legacy
    encoding of Kazakh and Russian text) or in KZ-1048, which is cp1251 with 16 Kazakh letters in place of
    Serbian, Macedonian, Ukrainian and Belarusian ones."""
    try:
        text = raw.decode("cp1251")
    except UnicodeDecodeError:
        return False
    letters = [c for c in text if c.isalpha()]
    cyrillic = sum("\u0400" <= c <= "\u04ff" for c in letters)
    # Binary junk also decodes (every high byte is a letter in cp1251), but it brings control characters.
    plain = sum(c.isprintable() or c in "\t\r\n" for c in text)
    return bool(letters) and cyrillic >= 0.5 * len(letters) and plain >= 0.98 * len(text)


RUSSIAN_LETTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
KAZAKH_ALPHABET = frozenset(RUSSIAN_LETTERS + RUSSIAN_LETTERS.upper() + "іІ" + KAZAKH_ONLY_LETTERS)
MIN_KAZAKH_LETTER_SHARE = 0.03  # Kazakh prose: about 10% of letters
# In cp1251 the bytes of ғ ү ө ұ are Ukrainian є ї ґ and Belarusian ў, frequent there; those of ә қ ң һ are
# Serbian and Macedonian ј ќ ѕ ћ. So one of ә қ ң һ must be present, and Serbian љ њ ђ џ must not.
KZ1048_TELLTALE = frozenset("әқңһӘҚҢҺ")


def is_kz1048(raw: bytes) -> bool:
    """True when cp1251-like bytes are Kazakh in KZ-1048: its 16 Kazakh-only letters make at least 3% of
    the letters, one of them is ә қ ң or һ, and no Cyrillic letter falls outside the Kazakh alphabet."""
    letters = [c for c in raw.decode("kz1048") if c.isalpha()]
    kazakh = sum(c in KAZAKH_ONLY_LETTERS for c in letters)
    foreign = any("\u0400" <= c <= "\u04ff" and c not in KAZAKH_ALPHABET for c in letters)
    return (not foreign and not KZ1048_TELLTALE.isdisjoint(letters)
            and kazakh >= MIN_KAZAKH_LETTER_SHARE * len(letters) > 0)


def decode_line(raw: bytes, first: bool = False) -> tuple[str, str | None, str]:
    """(text, None, encoding) for UTF-8 and KZ-1048 Kazakh, or ("", reason, ""): encoding:cp1251 (a guess
    that could as well be KOI8 or cp866, so never decoded) or bad_utf8 at byte N."""
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark is valid, only unusual
    try:
        return raw.decode("utf-8"), None, "utf-8"
    except UnicodeDecodeError as e:
        if not looks_like_cp1251(raw):
            return "", f"bad_utf8 at byte {e.start}", ""
        if is_kz1048(raw):
            return raw.decode("kz1048"), None, "kz1048"
        return "", "encoding:cp1251", ""


def encoding_note(*encodings: str) -> dict[str, str]:
    """The `encoding` metadata of a document read (partly) from a legacy encoding; UTF-8 carries none."""
    legacy = sorted(set(encodings) - {"utf-8", ""})
    return {"encoding": "+".join(legacy)} if legacy else {}


# Formats whose first bytes are their name: a compressed file without its suffix, an image, a program...
BINARY_SIGNATURES = {
    b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"\xfd7zXZ\x00": "xz", b"7z\xbc\xaf\x27\x1c": "7z",
    b"PK\x03\x04": "zip", b"\x89PNG": "png", b"\xff\xd8\xff": "jpeg", b"GIF8": "gif", b"%PDF-": "pdf",
    b"\x7fELF": "elf", b"PAR1": "parquet", b"SQLite format 3\x00": "sqlite", b"\xff\xfe": "utf-16",
    b"\xfe\xff": "utf-16",
}
# C0 controls and DEL, less the ones text uses: tab, newline, form feed, carriage return, escape.
CONTROL_BYTES = bytes(sorted(set(range(32)) - {9, 10, 12, 13, 27})) + b"\x7f"


def binary_kind(head: bytes) -> str | None:
    """Why the first bytes of a file say it is not text, or None. A text file is not binary because of a
    stray NUL or control byte: that costs only its line. Binary is NULs in at least a tenth of the bytes
    (UTF-16, executables, images), a known signature, or bytes that are not UTF-8 with control bytes in at
    least 5% (compressed or encrypted data has about 11%; cp1251 prose has none)."""
    if head.count(0) >= 0.1 * len(head) > 0:
        return "NUL bytes"
    kind = next((k for sig, k in BINARY_SIGNATURES.items() if head.startswith(sig)), None)
    if kind:
        return f"{kind} signature"
    controls = len(head) - len(head.translate(None, CONTROL_BYTES))
    if controls >= 0.05 * len(head) and not _is_utf8_prefix(head):
        return "control bytes"
    return None


def _is_utf8_prefix(head: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a character cut at the end is not an error
        return True
    except UnicodeDecodeError:
        return False


def sniff_binary(file: Path) -> str | None:
    """binary_kind of the first 8 KiB of the (decompressed) file: such a file is quarantined whole."""
    try:
        with open_decompressed(file) as stream:
            head = stream.read(SNIFF_BYTES)
    except DECOMPRESSION_ERRORS:
        return None  # the main pass reports the damage where it happens
    return binary_kind(head)


def jsonable(value: Any) -> Any:
    """Parquet/CSV cells (dates, decimals, bytes, nested rows) as values the JSONL writers can store."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


class RawLines:
    """Iterates (line number, bytes) over a possibly compressed file. A line longer than `max_bytes` comes
    as (line number, None) and is skipped in chunks, never held whole. Decompression damage ends the
    iteration quietly and sets `damage` (truncated_gzip, ...) and `error` for the caller to report."""

    def __init__(self, file: Path, max_bytes: int):
        self.file, self.max_bytes = file, max_bytes
        self.line_no = 0
        self.damage: str | None = None
        self.error = ""

    def __iter__(self) -> Iterator[tuple[int, bytes | None]]:
        try:
            with open_decompressed(self.file) as stream:
                while chunk := stream.readline(self.max_bytes + 1):
                    # line_no counts finished lines only, so damage inside a line names that line.
                    if len(chunk) > self.max_bytes and not chunk.endswith(b"\n"):
                        while chunk and not chunk.endswith(b"\n"):
                            chunk = stream.readline(MIB)
                        self.line_no += 1
                        yield self.line_no, None
                    else:
                        self.line_no += 1
                        yield self.line_no, chunk
        except DECOMPRESSION_ERRORS as e:
            self.damage, self.error = damage_reason(self.file, e), f"{type(e).__name__}: {e}"

    def damage_record(self) -> Document:
        """The one quarantine record for everything from the damaged line on."""
        return unreadable(self.file, self.damage or "read_error", line=self.line_no + 1, error=self.error)


def _max_line_bytes(source: InputSource) -> int:
    return max(1, int(source.max_line_mb * MIB))


# ---------------------------------------------------------------------------------------------------
# Line-based formats
# ---------------------------------------------------------------------------------------------------


def binary_record(file: Path) -> Document | None:
    """The one quarantine record of a file that is not text (see binary_kind), or None."""
    kind = sniff_binary(file)
    return unreadable(file, f"binary ({kind})") if kind else None


def read_jsonl(source: InputSource, file: Path) -> Iterator[Document]:
    if (binary := binary_record(file)) is not None:
        yield binary
        return
    lines, produced = RawLines(file, _max_line_bytes(source)), 0
    for line_no, raw in lines:
        if raw is not None and not raw.strip():
            continue
        produced += 1
        yield _jsonl_record(source, file, line_no, raw)
    if lines.damage:
        yield lines.damage_record()
    elif not produced:
        yield unreadable(file, "empty_file")


def _jsonl_record(source: InputSource, file: Path, line_no: int, raw: bytes | None) -> Document:
    if raw is None:
        return unreadable(file, "line_too_long", line=line_no)
    if b"\x00" in raw:
        return unreadable(file, "nul_byte", line=line_no)
    text, problem, encoding = decode_line(raw.rstrip(b"\r\n"), first=line_no == 1)
    if problem:
        return unreadable(file, problem, line=line_no)
    record, problem, detail = parse_json(text)
    if problem:
        return unreadable(file, problem, line=line_no, **({"detail": detail} if detail else {}))
    if not isinstance(record, dict):
        return unreadable(file, "not_an_object", line=line_no)
    doc = _record_document(source, file, record, line=line_no)
    doc.metadata.update(encoding_note(encoding))
    return doc


class _JsonNumberTooLong(ValueError):
    pass


def _json_int(digits: str) -> int:
    # Called by json.loads before int(): also spares the int max-str-digits ValueError on 5,000 digits.
    if len(digits) > 21 or (value := int(digits)) not in JSON_INT_RANGE:
        raise _JsonNumberTooLong(digits[:30])
    return value


def parse_json(text: str) -> tuple[Any, str | None, str | None]:
    """(value, None, None), or (None, reason, detail): bad_json (detail: the parser's message and column),
    json_too_deep (more than MAX_JSON_DEPTH levels), json_number_too_long (an integer beyond 64 bits, which no
    JSONL writer stores). The detail stays out of the reason, so reasons tally into a short table."""
    try:
        value = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        return None, "bad_json", f"{e.msg}, column {e.colno}"
    except RecursionError:
        return None, "json_too_deep", None
    except _JsonNumberTooLong:
        return None, "json_number_too_long", None
    return (None, "json_too_deep", None) if nested_deeper_than(value, MAX_JSON_DEPTH) else (value, None, None)


def nested_deeper_than(value: Any, limit: int) -> bool:
    """True when lists/dicts nest more than `limit` levels (walked level by level, without recursion)."""
    level, depth = [value], 0
    while True:
        containers = [v for v in level if isinstance(v, (dict, list))]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = [child for v in containers for child in (v.values() if isinstance(v, dict) else v)]


def _record_document(source: InputSource, file: Path, record: dict, line: int | None = None,
                     row: int | None = None) -> Document:
    """A JSONL object, CSV row or Parquet row as a document. Its url and date become provenance; its other
    fields go to metadata["input"], where they cannot touch a pipeline field."""
    position = line if line is not None else row
    text = record.get(source.text_key)
    if not isinstance(text, str):
        return unreadable(file, f"missing_field '{source.text_key}'", line=line, record=row)
    extra = {k: jsonable(v) for k, v in record.items() if k not in (source.text_key, source.id_key)}
    if nested_deeper_than(extra, MAX_JSON_DEPTH):  # Parquet structs; JSON is checked as it is parsed
        return unreadable(file, "json_too_deep", line=line, record=row)
    doc_id = record.get(source.id_key)
    doc_id = str(doc_id) if doc_id not in (None, "") else f"{file_stem(file)}:{position}"
    metadata: dict[str, Any] = {k: extra.pop(k) for k in RECORD_PROVENANCE
                                if isinstance(extra.get(k), str) and extra[k].strip()}
    metadata.update({"line": line} if line is not None else {"record": row})
    if extra:
        metadata["input"] = extra
    return Document(text=text, id=doc_id, metadata=metadata)


class _Segment:
    """The lines of one text document; after a problem only the first problem is kept, not the text."""

    def __init__(self, start: int):
        self.start, self.lines = start, []
        self.problem: tuple[str, int] | None = None
        self.encodings: set[str] = set()

    def add(self, text: str, encoding: str) -> None:
        if not self.problem:
            self.lines.append(text)
            self.encodings.add(encoding)

    def fail(self, reason: str, line_no: int) -> None:
        if not self.problem:
            self.problem, self.lines = (reason, line_no), []

    def document(self, file: Path, whole_file: bool) -> Document | None:
        if self.problem:
            return unreadable(file, self.problem[0], line=self.problem[1], segment_start=self.start)
        text = "".join(self.lines)
        if not text.strip():
            return None
        note = encoding_note(*self.encodings)
        if whole_file:
            return Document(text=text, id=file_stem(file), metadata={"line": 1, **note})
        return Document(text=text.rstrip("\r\n"), id=f"{file_stem(file)}:{self.start}",
                        metadata={"line": self.start, **note})


def read_text(source: InputSource, file: Path) -> Iterator[Document]:
    """One document per file, or per block between `separator` lines. A problem line (bad encoding, NUL,
    too long) quarantines the document it falls in, named by that line."""
    if (binary := binary_record(file)) is not None:
        yield binary
        return
    separator = source.separator.encode("utf-8")
    lines, segment, produced = RawLines(file, _max_line_bytes(source)), _Segment(1), 0
    for line_no, raw in lines:
        if separator and raw is not None and raw.strip() == separator:
            doc = segment.document(file, whole_file=False)
            if doc is not None:
                produced += 1
                yield doc
            segment = _Segment(line_no + 1)
            continue
        if raw is None:
            segment.fail("line_too_long", line_no)
        elif b"\x00" in raw:
            segment.fail("nul_byte", line_no)
        else:
            text, problem, encoding = decode_line(raw, first=line_no == 1)
            if problem:
                segment.fail(problem, line_no)
            else:
                segment.add(text, encoding)
    if lines.damage:
        # The block cut by the damage is incomplete: it goes into the damage record, not the corpus.
        yield lines.damage_record()
        return
    doc = segment.document(file, whole_file=not separator)
    if doc is not None:
        produced += 1
        yield doc
    if not produced:
        yield unreadable(file, "empty_file")


def read_csv(source: InputSource, file: Path) -> Iterator[Document]:
    """A header row, then one document per row (quoted fields may span lines)."""
    if (binary := binary_record(file)) is not None:
        yield binary
        return
    max_bytes = _max_line_bytes(source)
    # The csv module's own cap (128 KiB per field) is below a long document; raise it to the line limit.
    csv.field_size_limit(max(csv.field_size_limit(), max_bytes))
    lines, problems, legacy = RawLines(file, max_bytes), {}, {}  # line -> reason / non-UTF-8 encoding

    def decoded_lines() -> Iterator[str]:
        # csv.reader needs text; a line that cannot be decoded is recorded and stands in as a blank line,
        # so the row it belongs to is quarantined by line number while the rest of the file goes on.
        for line_no, raw in lines:
            problem = "line_too_long" if raw is None else "nul_byte" if b"\x00" in raw else None
            text, problem, encoding = ("", problem, "") if problem else decode_line(raw, first=line_no == 1)
            if problem:
                problems[line_no] = problem
            elif encoding != "utf-8":
                legacy[line_no] = encoding
            yield text if not problem else "\n"

    reader, header, produced, last_line = csv.reader(decoded_lines()), None, 0, 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            produced += 1
            yield unreadable(file, "csv:bad_row", line=last_line + 1, error=str(e))
            last_line = reader.line_num
            continue
        first, last_line = last_line + 1, reader.line_num
        bad = next((problems[n] for n in range(first, last_line + 1) if n in problems), None)
        if header is None:
            if bad or not row:
                if bad:
                    produced += 1
                    yield unreadable(file, bad, line=first)
                continue
            header = row
            if source.text_key not in header:
                yield unreadable(file, f"missing_field '{source.text_key}'", line=first, columns=header)
                return
            continue
        if not row and not bad:
            continue
        produced += 1
        if bad:
            yield unreadable(file, bad, line=min(n for n in range(first, last_line + 1) if n in problems))
        else:
            doc = _record_document(source, file, dict(zip(header, row)), line=first)
            doc.metadata.update(encoding_note(*(legacy.pop(n, "") for n in range(first, last_line + 1))))
            yield doc
    if lines.damage:
        yield lines.damage_record()
    elif not produced:
        yield unreadable(file, "empty_file")


def read_parquet(source: InputSource, file: Path) -> Iterator[Document]:
    """One document per row, read in batches so a large file never sits in memory whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
        columns = parquet.schema_arrow.names
    except (pa.ArrowException, OSError) as e:
        yield unreadable(file, "parquet:unreadable", error=f"{type(e).__name__}: {e}")
        return
    if source.text_key not in columns:
        yield unreadable(file, f"missing_field '{source.text_key}'", columns=columns)
        return
    row = 0
    try:
        for batch in parquet.iter_batches(batch_size=1024):
            for record in batch.to_pylist():
                row += 1
                yield _record_document(source, file, record, row=row)
    except (pa.ArrowException, OSError) as e:
        yield unreadable(file, "parquet:corrupt", record=row + 1, error=f"{type(e).__name__}: {e}")
        return
    if not row:
        yield unreadable(file, "empty_file")


# ---------------------------------------------------------------------------------------------------
# The pipeline step
# ---------------------------------------------------------------------------------------------------


def reader_for(fmt: str) -> DocumentReader:
    # The document formats import trafilatura, lxml, pypdf... only when a source needs them.
    from data_prep import readers_docs

    readers: dict[str, DocumentReader] = {
        "jsonl": read_jsonl, "text": read_text, "csv": read_csv, "parquet": read_parquet,
        "warc": readers_docs.read_warc, "wikipedia": readers_docs.read_wikipedia,
        "pdf": readers_docs.read_pdf, "docx": readers_docs.read_docx,
    }
    return readers[fmt]


def add_provenance(doc: Document, source: InputSource, file: Path, name: str) -> None:
    """Source facts, with the path in printable form; a record's own non-empty url is kept."""
    url = doc.metadata.get("url")
    if not (isinstance(url, str) and url.strip()):
        url = source.url or printable(file)
    doc.metadata.update(source=name, licence=source.licence, url=url, path=printable(file),
                        retrieved=source.retrieved)


SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(value: Any) -> tuple[Any, int]:
    """`value` (str, or dicts and lists of them, keys included) with each lone surrogate replaced by U+FFFD
    (a stray pair joined into its character), and how many were replaced. JSON can spell them ("\\ud800");
    UTF-8 cannot store them."""
    if isinstance(value, str):
        if not SURROGATE.search(value):
            return value, 0
        fixed = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return fixed, fixed.count("\ufffd") - value.count("\ufffd")
    if isinstance(value, dict):
        pairs = [(without_surrogates(k), without_surrogates(v)) for k, v in value.items()]
        return {k: v for (k, _), (v, _) in pairs}, sum(nk + nv for (_, nk), (_, nv) in pairs)
    if isinstance(value, (list, tuple)):
        items = [without_surrogates(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    return value, 0


def make_storable(doc: Document) -> None:
    """A lone surrogate in the text, id or metadata is one broken character (often half of an emoji cut by
    the producer), not a broken document: it becomes U+FFFD and the document is kept, with the count in
    metadata["surrogates_replaced"]. Without this the JSONL writer would end the whole run."""
    metadata_text = json.dumps(doc.metadata, ensure_ascii=False, default=str)  # C speed: most have none
    if not (SURROGATE.search(doc.text) or SURROGATE.search(doc.id) or SURROGATE.search(metadata_text)):
        return
    doc.text, in_text = without_surrogates(doc.text)
    doc.id, in_id = without_surrogates(doc.id)
    doc.metadata, in_metadata = without_surrogates(doc.metadata)
    if in_text + in_id + in_metadata:
        doc.metadata["surrogates_replaced"] = in_text + in_id + in_metadata


def skipped_entry(entry: Path, reason: str) -> Document:
    """The quarantine record of a directory entry that is not read (see list_source_entries)."""
    details = {"target": printable(os.readlink(entry))} if entry.is_symlink() else {}
    return unreadable(entry, reason, **details)


def read_file(source: InputSource, file: Path) -> Iterator[Document]:
    """All documents of one file; whatever goes wrong becomes a quarantine record, never an exception."""
    try:
        empty = file.stat().st_size == 0
    except OSError as e:
        yield unreadable(file, "read_error", error=f"{type(e).__name__}: {e}")
        return
    if empty:
        yield unreadable(file, "empty_file")
        return
    try:
        yield from reader_for(source.format)(source, file)
    except Exception as e:  # a library failing on odd input must not end a long run
        yield unreadable(file, "reader_error", error=f"{type(e).__name__}: {e}")


class SourceReader(PipelineStep):
    """Reads every configured source; files are split across tasks by rank."""

    name = "📖 sources"
    type = "📖 - READER"

    def __init__(self, inputs: list[InputSource], counts_dir: Path):
        super().__init__()
        if not inputs:
            raise InputError("prep.inputs is empty: name at least one file or directory to read")
        self.entries = [(src, path, skip) for src in inputs for path, skip in list_source_entries(src)]
        self.counts_dir = counts_dir

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        counts: Counter[str] = Counter()
        for source, file, skip in self.entries[rank::world_size]:
            name = source.name or file_stem(file)
            for doc in [skipped_entry(file, skip)] if skip else read_file(source, file):
                add_provenance(doc, source, file, name)
                make_storable(doc)
                counts[name] += 1
                self.stat_update("documents_read")
                if "unreadable" in doc.metadata:
                    self.stat_update("documents_quarantined")
                yield doc
        write_json(self.counts_dir / f"{rank:05d}.json", dict(counts))
