"""Readers for raw sources: JSONL and plain text, with provenance on every document.

Nothing is dropped here: a line or file that cannot be parsed becomes an empty document with
`metadata["unreadable"]` set to the reason, and the `UnreadableFilter` step sends it to the rejects
with that reason (file and line included). Each task also records how many records it read per
source, so `stats.json` can prove input = kept + rejected.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from kazllm.artifacts import write_json
from kazllm.config import InputSource, resolve_path
from kazllm.errors import InputError


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


def _source_name(source: InputSource, file: Path) -> str:
    return source.name or file.stem


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
            read = self._read_jsonl if source.format == "jsonl" else self._read_text
            for doc in read(source, file):
                name = _source_name(source, file)
                doc.metadata.update(source=name, path=str(file), licence=source.licence)
                counts[name] += 1
                self.stat_update("documents_read")
                yield doc
        write_json(self.counts_dir / f"{rank:05d}.json", dict(counts))

    @staticmethod
    def _unreadable(file: Path, line: int | None, reason: str) -> Document:
        where = f"{file.name}:{line}" if line else file.name
        return Document(text="", id=where, metadata={"unreadable": reason, "line": line})

    def _read_jsonl(self, source: InputSource, file: Path):
        with open(file, "rb") as f:
            for line_no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw.rstrip(b"\r\n").decode("utf-8"))
                except UnicodeDecodeError as e:
                    yield self._unreadable(file, line_no, f"bad_utf8 at byte {e.start}")
                    continue
                except json.JSONDecodeError as e:
                    yield self._unreadable(file, line_no, f"bad_json ({e.msg}, column {e.colno})")
                    continue
                if not isinstance(record, dict):
                    yield self._unreadable(file, line_no, "not_an_object")
                    continue
                text = record.get(source.text_key)
                if not isinstance(text, str):
                    yield self._unreadable(file, line_no, f"missing_field '{source.text_key}'")
                    continue
                doc_id = str(record.get("id") or f"{file.stem}:{line_no}")
                extra = {k: v for k, v in record.items() if k not in (source.text_key, "id")}
                yield Document(text=text, id=doc_id, metadata={**extra, "line": line_no})

    def _read_text(self, source: InputSource, file: Path):
        raw = file.read_bytes()
        if b"\x00" in raw:
            yield self._unreadable(file, None, "binary (NUL bytes)")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield self._unreadable(file, None, f"bad_utf8 at byte {e.start}")
            return
        if not text.strip():
            yield self._unreadable(file, None, "empty_file")
            return
        if not source.separator:
            yield Document(text=text, id=file.stem, metadata={"line": 1})
            return
        line_no, start, buf = 0, 1, []
        for line_no, line in enumerate(text.split("\n"), start=1):
            if line.strip() == source.separator:
                if "".join(buf).strip():
                    yield Document(text="\n".join(buf), id=f"{file.stem}:{start}", metadata={"line": start})
                buf, start = [], line_no + 1
            else:
                buf.append(line)
        if "".join(buf).strip():
            yield Document(text="\n".join(buf), id=f"{file.stem}:{start}", metadata={"line": start})
