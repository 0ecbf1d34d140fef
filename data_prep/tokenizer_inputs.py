"""The text the tokenizer commands read: `[LANG=]FILE` specs (text or JSONL) and prep/kept documents.

Shared by `kazllm tokenizer train` (data_prep/tokenizer.py), `extend` and `report`, below all of them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from kazllm.artifacts import iter_jsonl
from kazllm.errors import InputError

LANG_HINTS = {
    "kk": "kk",
    "kaz": "kk",
    "ru": "ru",
    "rus": "ru",
    "en": "en",
    "eng": "en",
    "tr": "tr",
    "tur": "tr",
}


def split_lang_path(spec: str) -> tuple[str | None, Path]:
    """`kk=path/file.txt` -> ("kk", path); a bare path has no language."""
    lang, sep, rest = spec.partition("=")
    if sep and re.fullmatch(r"[a-z]{2,3}(_[A-Za-z]+)?", lang):
        return lang, Path(rest)
    return None, Path(spec)


def iter_input_paragraphs(specs: list[str]) -> Iterator[tuple[str, str]]:
    """(language, line) for every non-empty line of text or JSONL files (`LANG=FILE` names the language).

    JSONL records give their paragraphs (`text` split on newlines) and their language from
    `metadata.language` or `language`; other lines count as "und" (undetermined)."""
    for spec in specs:
        lang, path = split_lang_path(spec)
        if not path.is_file():
            raise InputError(f"tokenizer input not found: {path}")
        if path.suffix == ".jsonl":
            for rec in iter_jsonl([path]):
                if "text" not in rec:
                    raise InputError(f"{path}: a record has no 'text' field")
                rec_lang = lang or (rec.get("metadata") or {}).get("language") or rec.get("language") or "und"
                yield from ((rec_lang, p) for p in rec["text"].split("\n") if p.strip())
        else:
            with open(path, encoding="utf-8") as f:
                yield from ((lang or "und", line.rstrip("\n")) for line in f if line.strip())


def read_input_files(specs: list[str]) -> dict[str, list[str]]:
    """Non-empty lines per language of `iter_input_paragraphs(specs)`, in file order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for lang, line in iter_input_paragraphs(specs):
        groups[lang].append(line)
    return dict(groups)


def iter_kept_paragraphs(prep_dir: Path) -> Iterator[tuple[str, str]]:
    """(metadata.language, paragraph) for every non-empty line of every kept document, in file order."""
    # late: data_prep.pipeline loads datatrove, which reading text files and `tokenizer report` never need
    from data_prep.pipeline import kept_files

    for rec in iter_jsonl(kept_files(prep_dir)):
        lang = (rec.get("metadata") or {}).get("language") or "und"
        yield from ((lang, p) for p in rec["text"].split("\n") if p.strip())


def guess_language(path: Path) -> str:
    for part in reversed(re.split(r"[._\-/]", str(path).lower())):
        if part in LANG_HINTS:
            return LANG_HINTS[part]
    return "-"


def load_lines(spec: str) -> tuple[str, Path, list[str]]:
    """(language, path, every line) of one `[LANG=]FILE`: the language is LANG, else guessed from the name."""
    lang, path = split_lang_path(spec)
    if not path.is_file():
        raise InputError(f"text file not found: {path}")
    lines = [line.rstrip("\n") for line in open(path, encoding="utf-8")]
    return lang or guess_language(path), path, lines
