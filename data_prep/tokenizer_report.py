r"""`kazllm tokenizer report`: tokens per word, bytes per token and byte-fallback rate per file.

    kazllm tokenizer report --tokenizer runs/x/tokenizer --compare other_hf_dir kk=news.kk ru=news.ru \
        --json r.json

Words are `\w+` runs; a byte-fallback token is a `<0xNN>` piece (sentencepiece-style tokenizers; a
byte-level BPE has none, reported as null). Each file's language is `LANG=` before its path, else a guess
from its name (`.kaz`, `kk.txt`, ...), else "-".
"""

from __future__ import annotations

import re
from pathlib import Path

from data_prep.tokenizer_inputs import load_lines
from kazllm.errors import InputError
from kazllm.tokenizer_files import resolve_hf_dir

WORD = re.compile(r"\w+")
BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")


def measure(tokenizer, lines: list[str]) -> dict:
    """Fertility figures of one tokenizer (a transformers fast tokenizer) on lines of text."""
    ids = tokenizer(lines, add_special_tokens=False)["input_ids"] if lines else []
    tokens = sum(len(x) for x in ids)
    words = sum(len(WORD.findall(line)) for line in lines)
    n_bytes = sum(len(line.encode("utf-8")) for line in lines)
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    byte_ids = {i for i, piece in enumerate(vocab) if piece and BYTE_PIECE.fullmatch(piece)}
    fallback = sum(1 for row in ids for i in row if i in byte_ids)
    return {
        "lines": len(lines),
        "words": words,
        "bytes": n_bytes,
        "tokens": tokens,
        "tokens_per_word": round(tokens / max(words, 1), 4),
        "bytes_per_token": round(n_bytes / max(tokens, 1), 4),
        "byte_fallback_rate": round(fallback / max(tokens, 1), 5) if byte_ids else None,
    }


def build_report(tokenizer_dirs: dict[str, str | Path], files: list[str]) -> list[dict]:
    """One row per (tokenizer, file): name, language, file and the `measure` figures."""
    from transformers import AutoTokenizer

    texts = [load_lines(spec) for spec in files]
    rows = []
    for name, path in tokenizer_dirs.items():
        tok = AutoTokenizer.from_pretrained(str(resolve_hf_dir(path)))
        if not tok.is_fast:
            raise InputError(f"{path}: not a fast tokenizer (tokenizer.json needed)")
        for lang, file, lines in texts:
            rows.append({"tokenizer": name, "language": lang, "file": str(file), **measure(tok, lines)})
    return rows


def render_table(rows: list[dict]) -> str:
    head = "| tokenizer | lang | file | words | tokens | tokens/word | bytes/token | byte fallback |"
    out = [head, "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        fb = "n/a" if r["byte_fallback_rate"] is None else f"{100 * r['byte_fallback_rate']:.2f}%"
        out.append(
            f"| {r['tokenizer']} | {r['language']} | {Path(r['file']).name} | {r['words']} | {r['tokens']} "
            f"| {r['tokens_per_word']:.3f} | {r['bytes_per_token']:.2f} | {fb} |"
        )
    return "\n".join(out)
