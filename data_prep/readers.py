r"""Readers for raw sources, with provenance on every document and quarantine of bad input.

Formats: jsonl, text, csv and parquet here; warc, wikipedia, pdf and docx in `data_prep.readers_docs`.
Both read files through `data_prep.source_io` (decompression, decoding, binary sniffing, quarantine records).
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
with \xff escapes, and lone surrogates from JSON escapes (`"\ud800"`) become U+FFFD, counted in
`metadata["surrogates_replaced"]`.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from data_prep.readers_docs import read_docx, read_pdf, read_warc, read_wikipedia
from data_prep.source_io import (
    MIB,
    RawLines,
    decode_line,
    encoding_note,
    file_stem,
    printable,
    sniff_binary,
    unreadable,
)
from kazllm.artifacts import write_json
from kazllm.config import InputSource, resolve_path
from kazllm.errors import InputError

DocumentReader = Callable[[InputSource, Path], Iterator[Document]]
RECORD_PROVENANCE = ("url", "date")
"""Record fields adopted as the document's own provenance (when non-empty strings); the rest go to
metadata["input"]."""
# orjson, which datatrove's JSONL writers use, stores integers of at most 64 bits and nests at most 255
# levels; a record value sits three levels down (document, metadata, input).
MAX_JSON_DEPTH = 100
JSON_INT_RANGE = range(-(2**63), 2**64)


def list_source_entries(source: InputSource) -> list[tuple[Path, str | None]]:
    """(path, None) for each file of one source and (path, reason) for each entry that cannot be read
    (broken_symlink, symlink_loop, symlinked_directory, not_a_regular_file), sorted. Hidden names are not
    input. A missing path is a clear error before any work starts."""
    path = resolve_path(source.path)
    if path.is_file():
        return [(path, None)]
    if path.is_dir():
        entries = sorted(
            (p, _skip_reason(p))
            for p in path.rglob("*")
            if not p.name.startswith(".") and not (p.is_dir() and not p.is_symlink())
        )
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


def jsonable(value: Any) -> Any:
    """Parquet/CSV cells (dates, decimals, bytes, nested rows) as values the JSONL writers can store."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _max_line_bytes(source: InputSource) -> int:
    return max(1, int(source.max_line_mb * MIB))


# ---------------------------------------------------------------------------------------------------
# Line-based formats
# ---------------------------------------------------------------------------------------------------


def binary_record(file: Path) -> Document | None:
    """The one quarantine record of a file that is not text (see source_io.binary_kind), or None."""
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


def _record_document(
    source: InputSource, file: Path, record: dict, line: int | None = None, row: int | None = None
) -> Document:
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
    metadata: dict[str, Any] = {
        k: extra.pop(k) for k in RECORD_PROVENANCE if isinstance(extra.get(k), str) and extra[k].strip()
    }
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
        return Document(
            text=text.rstrip("\r\n"),
            id=f"{file_stem(file)}:{self.start}",
            metadata={"line": self.start, **note},
        )


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
    """The reader of one `InputSource.format`. The document formats import trafilatura, lxml, pypdf...
    inside their readers, so only when a source needs them."""
    readers: dict[str, DocumentReader] = {
        "jsonl": read_jsonl,
        "text": read_text,
        "csv": read_csv,
        "parquet": read_parquet,
        "warc": read_warc,
        "wikipedia": read_wikipedia,
        "pdf": read_pdf,
        "docx": read_docx,
    }
    return readers[fmt]


def add_provenance(doc: Document, source: InputSource, file: Path, name: str) -> None:
    """Source facts, with the path in printable form; a record's own non-empty url is kept."""
    url = doc.metadata.get("url")
    if not (isinstance(url, str) and url.strip()):
        url = source.url or printable(file)
    doc.metadata.update(
        source=name, licence=source.licence, url=url, path=printable(file), retrieved=source.retrieved
    )


SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(value: Any) -> tuple[Any, int]:
    r"""`value` (str, or dicts and lists of them, keys included) with each lone surrogate replaced by U+FFFD
    (a stray pair joined into its character), and how many were replaced. JSON can spell them ("\ud800");
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
