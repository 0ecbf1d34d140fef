"""Readers for document-shaped sources: WARC web crawls, MediaWiki XML dumps, PDF and DOCX.

Same contract as `data_prep.readers`, which dispatches to these: every record becomes a document or a
quarantine placeholder (`data_prep.source_io.unreadable`) whose `metadata["unreadable"]` names the reason,
with the file and record number; nothing raises. Each reader imports its library on first use, so a corpus
without PDFs never loads pypdf.

Quarantine reasons added here: warc:no_text, warc:not_html, warc:http_status, warc:extract_failed,
warc:corrupt, warc:truncated (a plain WARC cut off; truncated_gzip etc. for a compressed one),
wikipedia:redirect, wikipedia:non_article_namespace, wikipedia:no_text, wikipedia:bad_xml,
pdf:unreadable, pdf:encrypted, pdf:no_text, docx:unreadable, docx:no_text, truncated_gzip / truncated_bz2.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from datatrove.data import Document

from data_prep.source_io import (
    DECOMPRESSION_ERRORS,
    compression_of,
    damage_reason,
    decode_line,
    encoding_note,
    file_stem,
    open_decompressed,
    unreadable,
)
from kazllm.config import InputSource

# ---------------------------------------------------------------------------------------------------
# WARC: HTML responses -> main text with trafilatura (offline: it only parses the stored payload)
# ---------------------------------------------------------------------------------------------------

WARC_CONTENT_RECORDS = ("response", "resource")  # request, metadata, warcinfo and revisit hold no page


@lru_cache(maxsize=1)
def _trafilatura_config():
    from trafilatura.settings import use_config

    config = use_config()
    # Below MIN_EXTRACTED_SIZE trafilatura re-adds "recovered" paragraphs it already extracted, so short
    # pages inside <article>/<main> come out twice (trafilatura issue #879). Short pages are judged by the
    # quality filters later anyway. No timeout: it relies on signals, which worker processes may not have.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


def html_to_text(html: bytes, url: str | None) -> str:
    import trafilatura

    text = trafilatura.extract(
        html, url=url, config=_trafilatura_config(), include_comments=False, include_tables=True
    )
    return (text or "").strip()


def read_warc(source: InputSource, file: Path) -> Iterator[Document]:
    """One document per HTML (or plain text) response record; other content records are quarantined.
    A file cut off costs one truncation reject: the record it cuts, or a row of its own after the last
    content record when the cut falls in a request or metadata record."""
    from warcio.archiveiterator import ArchiveIterator

    # warcio does not raise on a cut-off file: it hands out a partial record as if whole (content shorter
    # than its Content-Length, or a header without one), drops a partial gzip member quietly, or fails on a
    # partial header. So every record is checked, and the last content record waits for the end of the file
    # to say whether the cut falls in it.
    truncated = damage_reason(file, EOFError()) if compression_of(file) else "warc:truncated"
    index, held, held_cut, held_start, last_start, header_cut = 0, None, False, -1, 0, False
    try:
        with open(file, "rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                last_start = records.offset  # where this record starts (compressed bytes for .warc.gz)
                if record.length is None:  # every WARC record has a Content-Length: this header was cut
                    header_cut = True
                    break
                if record.rec_type not in WARC_CONTENT_RECORDS:
                    continue
                index += 1
                doc = _warc_document(record, file, index)
                if held is not None:
                    yield held
                held, held_cut, held_start = doc, _content_cut(record), last_start
            stopped_at = records.offset
    except Exception as e:  # warcio raises ArchiveLoadFailed, AttributeError... on damaged or cut records
        if held is not None:
            yield _truncated(file, truncated, held) if held_cut else held
        if not held_cut:
            cut = _cut_after(file, last_start)
            yield unreadable(
                file, truncated if cut else "warc:corrupt", record=index + 1, error=f"{type(e).__name__}: {e}"
            )
        return
    dropped = stopped_at < file.stat().st_size  # a partial gzip member after the last record
    cut = held_cut or header_cut or dropped or _cut_after(file, last_start)
    if held is not None:
        in_held = held_cut or (cut and not header_cut and not dropped and held_start == last_start)
        yield _truncated(file, truncated, held) if in_held else held
        if in_held:
            return
    if cut:
        yield unreadable(file, truncated, record=index + 1, error="file ends inside a record")
    elif not index:
        yield unreadable(file, "empty_file")


def _truncated(file: Path, reason: str, doc: Document) -> Document:
    """The truncation reject that replaces a record cut off by the end of the file."""
    keep = ("url", "warc_record_id", "warc_date", "record")
    return unreadable(
        file,
        reason,
        error="file ends inside this record",
        **{k: doc.metadata[k] for k in keep if k in doc.metadata},
    )


def _content_cut(record: Any) -> bool:
    """True when the record's content ended before its Content-Length (read to the end here first)."""
    stream = record.raw_stream
    while stream.read(1 << 16):
        pass
    return getattr(stream, "limit", 0) > 0


def _cut_after(file: Path, offset: int) -> bool:
    """True when the file ends inside a record: a .warc.gz whose gzip members from `offset` (where a record
    starts; each record is a member) end inside one, or a plain WARC that does not end with the two CRLFs
    that end every record."""
    if compression_of(file) is None:
        with open(file, "rb") as stream:
            stream.seek(max(0, file.stat().st_size - 4))
            return stream.read() != b"\r\n\r\n"
    try:
        with open(file, "rb") as raw:
            raw.seek(offset)
            with gzip.GzipFile(fileobj=raw) as stream:
                while stream.read(1 << 20):
                    pass
    except EOFError:
        return True
    except DECOMPRESSION_ERRORS:
        return False  # damaged, not cut: warc:corrupt
    return False


def _warc_document(record: Any, file: Path, index: int) -> Document:
    headers = record.rec_headers
    url = headers.get_header("WARC-Target-URI") or ""
    meta: dict[str, Any] = {
        "url": url,
        "warc_record_id": headers.get_header("WARC-Record-ID"),
        "warc_date": headers.get_header("WARC-Date"),
        "record": index,
    }
    content_type = (
        (record.http_headers.get_header("Content-Type") if record.http_headers else None)
        or headers.get_header("Content-Type")
        or ""
    )
    meta["content_type"] = content_type
    if record.http_headers is not None:
        status = record.http_headers.get_statuscode()
        meta["http_status"] = int(status) if str(status).isdigit() else status
        if not str(status).startswith("2"):
            return unreadable(file, "warc:http_status", **meta)
    payload = record.content_stream().read()
    mime = content_type.split(";")[0].strip().lower()
    if mime == "text/plain":
        text, problem, encoding = decode_line(payload)
        if problem:
            return unreadable(file, problem, **meta)
        meta.update(encoding_note(encoding))
    elif mime in ("text/html", "application/xhtml+xml", ""):
        try:
            text = html_to_text(payload, url or None)
        except Exception as e:  # trafilatura/lxml on hostile markup
            return unreadable(file, "warc:extract_failed", error=f"{type(e).__name__}: {e}", **meta)
    else:
        return unreadable(file, "warc:not_html", **meta)
    if not text.strip():
        return unreadable(file, "warc:no_text", **meta)
    return Document(text=text, id=meta["warc_record_id"] or f"{file_stem(file)}#{index}", metadata=meta)


# ---------------------------------------------------------------------------------------------------
# Wikipedia: MediaWiki XML dumps (.xml or .xml.bz2), streamed page by page
# ---------------------------------------------------------------------------------------------------

REDIRECT_TEXT = re.compile(r"^\s*#[^\W\d_]+\s*:?\s*\[\[")  # #REDIRECT [[...]] in any wiki's language
# Link prefixes that are not running text: files, categories (English, Kazakh, Russian names) and
# interlanguage links (kk:, en:, zh-yue:).
NON_TEXT_LINK = re.compile(
    r"^\s*(file|image|media|category|файл|сурет|медиа|санат|категория|изображение|[a-z]{2,3}(-[a-z]+)*)\s*:",
    re.IGNORECASE,
)
NON_TEXT_TAGS = {
    "ref",
    "references",
    "gallery",
    "math",
    "timeline",
    "score",
    "syntaxhighlight",
    "templatedata",
}


def wiki_to_text(markup: str) -> str:
    """Plain text of an article: templates, references, files and categories go; link text stays."""
    import mwparserfromhell

    code = mwparserfromhell.parse(markup)
    for node in code.filter_tags(recursive=True):
        if str(node.tag).strip().lower() in NON_TEXT_TAGS:
            _remove(code, node)
    for node in code.filter_wikilinks(recursive=True):
        if NON_TEXT_LINK.match(str(node.title)):
            _remove(code, node)
    text = code.strip_code(normalize=True, collapse=True)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _remove(code: Any, node: Any) -> None:
    try:
        code.remove(node)
    except ValueError:
        pass  # already gone with an enclosing node


def read_wikipedia(source: InputSource, file: Path) -> Iterator[Document]:
    """Main-namespace articles as documents; redirects and other namespaces are counted as rejects."""
    from lxml import etree

    page_url_base, index = "", 0
    try:
        with open_decompressed(file) as stream:
            for _, element in etree.iterparse(
                stream, events=("end",), tag=("{*}base", "{*}page"), huge_tree=True, recover=False
            ):
                if etree.QName(element).localname == "base":
                    # https://kk.wikipedia.org/wiki/Басты_бет -> https://kk.wikipedia.org/wiki/
                    page_url_base = (element.text or "").rsplit("/", 1)[0] + "/"
                    continue
                index += 1
                yield _wiki_page(_page_fields(element), file, index, page_url_base)
                # Free finished pages: a full dump does not fit in memory.
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]
    except etree.XMLSyntaxError as e:
        yield unreadable(file, "wikipedia:bad_xml", record=index + 1, error=str(e))
        return
    except DECOMPRESSION_ERRORS as e:
        yield unreadable(file, damage_reason(file, e), record=index + 1, error=f"{type(e).__name__}: {e}")
        return
    if not index:
        yield unreadable(file, "empty_file")


def _page_fields(page: Any) -> dict[str, Any]:
    """title, ns, id, redirect, revision id/timestamp and text of one <page>, namespace-agnostic."""
    fields: dict[str, Any] = {"redirect": False}
    for child in page:
        name = child.tag.rsplit("}", 1)[-1]
        if name in ("title", "ns", "id"):
            fields[name] = child.text or ""
        elif name == "redirect":
            fields["redirect"] = True
        elif name == "revision":
            for part in child:
                part_name = part.tag.rsplit("}", 1)[-1]
                if part_name in ("id", "timestamp", "text"):
                    fields[f"revision_{part_name}"] = part.text or ""
    return fields


def _wiki_page(page: dict[str, Any], file: Path, index: int, url_base: str) -> Document:
    title = page.get("title", "")
    meta: dict[str, Any] = {
        "wiki_title": title,
        "wiki_page_id": page.get("id", ""),
        "wiki_ns": page.get("ns", ""),
        "wiki_revision_id": page.get("revision_id", ""),
        "wiki_timestamp": page.get("revision_timestamp", ""),
        "record": index,
    }
    if url_base and title:
        meta["url"] = url_base + quote(title.replace(" ", "_"))
    markup = page.get("revision_text", "")
    if meta["wiki_ns"] not in ("0", ""):
        return unreadable(file, "wikipedia:non_article_namespace", **meta)
    if page["redirect"] or REDIRECT_TEXT.match(markup):
        return unreadable(file, "wikipedia:redirect", **meta)
    text = wiki_to_text(markup)
    if not text:
        return unreadable(file, "wikipedia:no_text", **meta)
    doc_id = f"{file_stem(file)}:{meta['wiki_page_id'] or index}"
    return Document(text=text, id=doc_id, metadata=meta)


# ---------------------------------------------------------------------------------------------------
# PDF and DOCX: one document per file
# ---------------------------------------------------------------------------------------------------


def read_pdf(source: InputSource, file: Path) -> Iterator[Document]:
    """The text layer of every page; a scanned PDF (no text layer) is pdf:no_text, not OCR'd."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(file)
        if reader.is_encrypted and not reader.decrypt(""):
            yield unreadable(file, "pdf:encrypted")
            return
        page_texts, failed_pages = [], []
        for number, page in enumerate(reader.pages, start=1):
            try:
                page_texts.append((page.extract_text() or "").strip())
            except Exception:  # one damaged page should not cost the others
                failed_pages.append(number)
        title = (reader.metadata.title if reader.metadata else None) or ""
    except Exception as e:  # pypdf raises many types (PdfReadError, ValueError, KeyError...) on damage
        yield unreadable(file, "pdf:unreadable", error=f"{type(e).__name__}: {e}")
        return
    meta: dict[str, Any] = {"pdf_pages": len(page_texts) + len(failed_pages), "pdf_title": str(title)}
    if failed_pages:
        meta["pdf_failed_pages"] = failed_pages
    text = "\n\n".join(t for t in page_texts if t)
    if not text:
        yield unreadable(file, "pdf:no_text", **meta)
        return
    yield Document(text=text, id=file_stem(file), metadata=meta)


def read_docx(source: InputSource, file: Path) -> Iterator[Document]:
    """Paragraphs and tables in document order (table rows as cells joined by ' | ')."""
    import docx

    try:
        document = docx.Document(str(file))
        blocks, tables = [], 0
        for block in document.iter_inner_content():
            if hasattr(block, "rows"):
                tables += 1
                blocks.extend(_table_rows(block))
            elif block.text.strip():
                blocks.append(block.text.strip())
        title = document.core_properties.title or ""
    except Exception as e:  # not a zip, missing parts, bad XML...
        yield unreadable(file, "docx:unreadable", error=f"{type(e).__name__}: {e}")
        return
    meta = {"docx_title": title, "docx_tables": tables}
    if not blocks:
        yield unreadable(file, "docx:no_text", **meta)
        return
    yield Document(text="\n".join(blocks), id=file_stem(file), metadata=meta)


def _table_rows(table: Any) -> list[str]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; keep it once.
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            if cell.text.strip():
                cells.append(cell.text.strip())
        if cells:
            rows.append(" | ".join(cells))
    return rows
