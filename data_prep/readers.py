"""Readers for raw sources, with provenance on every document and quarantine of bad input.

Formats: jsonl, text, csv and parquet here; warc, wikipedia, pdf and docx in `data_prep.readers_docs`.
JSONL, text and CSV files may be compressed (.gz, .bz2, .zst, .xz, by extension) and are streamed line by
line with a byte limit per line, so one runaway line never has to fit in memory.

Nothing is dropped here: a line, record or file that cannot be read becomes an empty document with
`metadata["unreadable"]` set to the reason (file and line or record in its metadata), and the
`UnreadableFilter` step sends it to the rejects with that reason. The run always goes on. Each task also
records how many records it read per source, so `stats.json` can prove input = kept + rejected.

Every document carries provenance: source, licence, url (the record's own URL where it has one, else the
source url, else the file path), path and retrieved, plus format-specific ids (line, WARC-Record-ID, ...).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from kazllm.artifacts import write_json
from kazllm.config import InputSource, resolve_path
from kazllm.errors import InputError

MIB = 1024 * 1024
SNIFF_BYTES = 8192
COMPRESSION_BY_SUFFIX = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".xz": "xz"}
DocumentReader = Callable[[InputSource, Path], Iterator[Document]]


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


def list_source_files(source: InputSource) -> list[Path]:
    """Files of one source, sorted; a missing path is a clear error before any work starts."""
    path = resolve_path(source.path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise InputError(f"input directory is empty: {path}")
        return files
    raise InputError(f"input not found: {source.path} (resolved to {path})")


# ---------------------------------------------------------------------------------------------------
# Shared helpers (also used by readers_docs)
# ---------------------------------------------------------------------------------------------------


def unreadable(file: Path, reason: str, line: int | None = None, record: int | None = None,
               **details: Any) -> Document:
    """The quarantine placeholder: an empty document whose reason the UnreadableFilter turns into a reject."""
    where = f"{file.name}:{line}" if line else f"{file.name}#{record}" if record else file.name
    metadata: dict[str, Any] = {"unreadable": reason, "line": line}
    if record is not None:
        metadata["record"] = record
    return Document(text="", id=where, metadata={**metadata, **details})


def compression_of(file: Path) -> str | None:
    return COMPRESSION_BY_SUFFIX.get(file.suffix.lower())


def file_stem(file: Path) -> str:
    """`news.jsonl.gz` -> `news`: the compression suffix and then the format suffix go."""
    name = file.name[: -len(file.suffix)] if compression_of(file) else file.name
    return Path(name).stem or name


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
    encoding of Kazakh and Russian text). Such input is quarantined, never silently re-decoded."""
    try:
        text = raw.decode("cp1251")
    except UnicodeDecodeError:
        return False
    letters = [c for c in text if c.isalpha()]
    cyrillic = sum("\u0400" <= c <= "\u04ff" for c in letters)
    # Binary junk also decodes (every high byte is a letter in cp1251), but it brings control characters.
    plain = sum(c.isprintable() or c in "\t\r\n" for c in text)
    return bool(letters) and cyrillic >= 0.5 * len(letters) and plain >= 0.98 * len(text)


def decode_line(raw: bytes, first: bool = False) -> tuple[str, str | None]:
    """(text, None) for UTF-8, or ("", reason): encoding:cp1251 or bad_utf8 at byte N."""
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark is valid, only unusual
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return "", "encoding:cp1251" if looks_like_cp1251(raw) else f"bad_utf8 at byte {e.start}"


def is_binary(file: Path) -> bool:
    """A NUL byte near the start marks a binary file (image, archive, UTF-16...): quarantined whole."""
    try:
        with open_decompressed(file) as stream:
            head = stream.read(SNIFF_BYTES)
    except DECOMPRESSION_ERRORS:
        return False  # the main pass reports the damage where it happens
    return b"\x00" in head


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


def read_jsonl(source: InputSource, file: Path) -> Iterator[Document]:
    if is_binary(file):
        yield unreadable(file, "binary (NUL bytes)")
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
        return unreadable(file, "binary (NUL bytes)", line=line_no)
    text, problem = decode_line(raw.rstrip(b"\r\n"), first=line_no == 1)
    if problem:
        return unreadable(file, problem, line=line_no)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        return unreadable(file, f"bad_json ({e.msg}, column {e.colno})", line=line_no)
    if not isinstance(record, dict):
        return unreadable(file, "not_an_object", line=line_no)
    return _record_document(source, file, record, line=line_no)


def _record_document(source: InputSource, file: Path, record: dict, line: int | None = None,
                     row: int | None = None) -> Document:
    """A JSONL object, CSV row or Parquet row as a document; its other fields ride along as metadata."""
    position = line if line is not None else row
    text = record.get(source.text_key)
    if not isinstance(text, str):
        return unreadable(file, f"missing_field '{source.text_key}'", line=line, record=row)
    doc_id = record.get(source.id_key)
    doc_id = str(doc_id) if doc_id not in (None, "") else f"{file_stem(file)}:{position}"
    extra = {k: jsonable(v) for k, v in record.items() if k not in (source.text_key, source.id_key)}
    where = {"line": line} if line is not None else {"record": row}
    return Document(text=text, id=doc_id, metadata={**extra, **where})


class _Segment:
    """The lines of one text document; after a problem only the first problem is kept, not the text."""

    def __init__(self, start: int):
        self.start, self.lines = start, []
        self.problem: tuple[str, int] | None = None

    def add(self, text: str) -> None:
        if not self.problem:
            self.lines.append(text)

    def fail(self, reason: str, line_no: int) -> None:
        if not self.problem:
            self.problem, self.lines = (reason, line_no), []

    def document(self, file: Path, whole_file: bool) -> Document | None:
        if self.problem:
            return unreadable(file, self.problem[0], line=self.problem[1], segment_start=self.start)
        text = "".join(self.lines)
        if not text.strip():
            return None
        if whole_file:
            return Document(text=text, id=file_stem(file), metadata={"line": 1})
        return Document(text=text.rstrip("\r\n"), id=f"{file_stem(file)}:{self.start}",
                        metadata={"line": self.start})


def read_text(source: InputSource, file: Path) -> Iterator[Document]:
    """One document per file, or per block between `separator` lines. A problem line (bad encoding, NUL,
    too long) quarantines the document it falls in, named by that line."""
    if is_binary(file):
        yield unreadable(file, "binary (NUL bytes)")
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
            segment.fail("binary (NUL bytes)", line_no)
        else:
            text, problem = decode_line(raw, first=line_no == 1)
            if problem:
                segment.fail(problem, line_no)
            else:
                segment.add(text)
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
    if is_binary(file):
        yield unreadable(file, "binary (NUL bytes)")
        return
    max_bytes = _max_line_bytes(source)
    # The csv module's own cap (128 KiB per field) is below a long document; raise it to the line limit.
    csv.field_size_limit(max(csv.field_size_limit(), max_bytes))
    lines, problems = RawLines(file, max_bytes), {}

    def decoded_lines() -> Iterator[str]:
        # csv.reader needs text; a line that cannot be decoded is recorded and stands in as a blank line,
        # so the row it belongs to is quarantined by line number while the rest of the file goes on.
        for line_no, raw in lines:
            problem = "line_too_long" if raw is None else "binary (NUL bytes)" if b"\x00" in raw else None
            text, problem = ("", problem) if problem else decode_line(raw, first=line_no == 1)
            if problem:
                problems[line_no] = problem
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
            yield _record_document(source, file, dict(zip(header, row)), line=first)
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
    """Source facts win over same-named record fields; a record's own non-empty url is kept."""
    url = doc.metadata.get("url")
    if not (isinstance(url, str) and url.strip()):
        url = source.url or str(file)
    doc.metadata.update(source=name, licence=source.licence, url=url, path=str(file), retrieved=source.retrieved)


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
        self.files = [(src, f) for src in inputs for f in list_source_files(src)]
        self.counts_dir = counts_dir

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        counts: Counter[str] = Counter()
        for source, file in self.files[rank::world_size]:
            name = source.name or file_stem(file)
            for doc in read_file(source, file):
                add_provenance(doc, source, file, name)
                counts[name] += 1
                self.stat_update("documents_read")
                if "unreadable" in doc.metadata:
                    self.stat_update("documents_quarantined")
                yield doc
        write_json(self.counts_dir / f"{rank:05d}.json", dict(counts))
