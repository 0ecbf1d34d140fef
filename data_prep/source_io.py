r"""Raw source files as bytes and text: what every reader shares (data_prep.readers, data_prep.readers_docs).

    open_decompressed(file)       a binary stream, .gz .bz2 .zst .xz decompressed by extension
    RawLines(file, max_bytes)     (line number, bytes) with a byte limit per line; damage reported, not raised
    decode_line(raw)              UTF-8, or Kazakh in KZ-1048; other legacy encodings named, never guessed
    sniff_binary(file)            why a file is not text at all (a signature, NUL or control bytes), or None
    unreadable(file, reason)      the quarantine placeholder a reader emits instead of raising

Names of files are made printable here too (non-UTF-8 bytes as \xff escapes), so that every document a reader
builds can be written by the JSONL writers.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document

from data_prep.letters import KAZAKH_ONLY_LETTERS

MIB = 1024 * 1024
SNIFF_BYTES = 8192
COMPRESSION_BY_SUFFIX = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".xz": "xz"}


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


# ---------------------------------------------------------------------------------------------------
# Quarantine placeholders and printable names
# ---------------------------------------------------------------------------------------------------


def unreadable(
    file: Path, reason: str, line: int | None = None, record: int | None = None, **details: Any
) -> Document:
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
    r"""A path as text every writer can store. Python carries the bytes of a non-UTF-8 file name as lone
    surrogates (b"\xff.jsonl" -> "\udcff.jsonl"), which no UTF-8 writer accepts; they become "\xff"."""
    text = str(path)
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


# ---------------------------------------------------------------------------------------------------
# Opening and decompressing
# ---------------------------------------------------------------------------------------------------


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
        buffer[:n] = self._output[self._pos : self._pos + n]
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


# ---------------------------------------------------------------------------------------------------
# Decoding: UTF-8, KZ-1048 Kazakh, other legacy encodings named
# ---------------------------------------------------------------------------------------------------


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
    return (
        not foreign
        and not KZ1048_TELLTALE.isdisjoint(letters)
        and kazakh >= MIN_KAZAKH_LETTER_SHARE * len(letters) > 0
    )


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


# ---------------------------------------------------------------------------------------------------
# Binary files
# ---------------------------------------------------------------------------------------------------


# Formats whose first bytes are their name: a compressed file without its suffix, an image, a program...
BINARY_SIGNATURES = {
    b"\x1f\x8b": "gzip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\xfd7zXZ\x00": "xz",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"PK\x03\x04": "zip",
    b"\x89PNG": "png",
    b"\xff\xd8\xff": "jpeg",
    b"GIF8": "gif",
    b"%PDF-": "pdf",
    b"\x7fELF": "elf",
    b"PAR1": "parquet",
    b"SQLite format 3\x00": "sqlite",
    b"\xff\xfe": "utf-16",
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


# ---------------------------------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------------------------------


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
