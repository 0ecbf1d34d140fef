"""The files of a tokenizer directory that more than one stage reads: where the Hugging Face tokenizer lies,
and embedding_init.json, which a tokenizer extension writes and model extension and training read.

Writer (data_prep/tokenizer_extend.py) and readers (kazllm/model_extend.py, kazllm/train.py) import the
names and the layout from here, so the format has one definition.
"""

from __future__ import annotations

from pathlib import Path

from kazllm.artifacts import read_json, write_json
from kazllm.errors import InputError

EMBEDDING_INIT = "embedding_init.json"
"""In an extended tokenizer's Hugging Face directory: {"base_vocab_size", "vocab_size", "new": {new id: the
base tokenizer's ids for the same bytes}, "base": what the extension recorded of its base}."""
EXTEND_MANIFEST = "extend_manifest.json"
"""What `kazllm tokenizer extend` writes next to tokenizer.json (its inputs, counts, checks, checksum)."""


def resolve_hf_dir(path: str | Path) -> Path:
    """A Hugging Face tokenizer directory, or a kazllm tokenizer directory holding one in hf/."""
    path = Path(path)
    for cand in (path, path / "hf"):
        if (cand / "tokenizer.json").is_file():
            return cand
    raise InputError(f"{path}: no tokenizer.json here or in {path / 'hf'}")


def write_embedding_init(
    hf_dir: Path, base_vocab_size: int, vocab_size: int, new: dict[int, list[int]], base: dict
) -> Path:
    return write_json(
        Path(hf_dir) / EMBEDDING_INIT,
        {"base_vocab_size": base_vocab_size, "vocab_size": vocab_size, "new": new, "base": base},
    )


def parse_embedding_init(init: dict, source: str = EMBEDDING_INIT) -> tuple[int, int, dict[int, list[int]]]:
    """(base_vocab_size, vocab_size, {new id: base ids}) of an embedding_init dict, checked.

    Every new id must lie in [base_vocab_size, vocab_size) and every source id below base_vocab_size:
    a source id past the base would read a row that is itself new (or padding), not the base's view."""
    try:
        base_n, size = int(init["base_vocab_size"]), int(init["vocab_size"])
        new = {int(k): [int(i) for i in v] for k, v in dict(init["new"]).items()}
    except KeyError as e:
        raise InputError(
            f"{source}: missing field {e.args[0]!r} (base_vocab_size, vocab_size, new)"
        ) from None
    except (TypeError, ValueError) as e:
        raise InputError(
            f"{source}: base_vocab_size, vocab_size must be integers and new a mapping of "
            f"id -> list of ids ({e})"
        ) from None
    if not 0 < base_n <= size:
        raise InputError(f"{source}: vocab_size {size} must be >= base_vocab_size {base_n} > 0")
    for new_id, src in new.items():
        if not base_n <= new_id < size:
            raise InputError(f"{source}: new id {new_id} is outside the extension's ids {base_n}..{size - 1}")
        if not src or any(not 0 <= i < base_n for i in src):
            raise InputError(
                f"{source}: new id {new_id} -> {src[:5]}: source ids must be base ids, 0..{base_n - 1}"
            )
    return base_n, size, new


def read_embedding_init(tokenizer_dir: Path) -> dict:
    path = Path(tokenizer_dir) / EMBEDDING_INIT
    if not path.is_file():
        raise InputError(
            f"{tokenizer_dir}: no {EMBEDDING_INIT}: not a tokenizer made by `kazllm tokenizer extend` "
            "(or tokenizer train with tokenizer.extend_base)"
        )
    init = read_json(path)
    if not isinstance(init, dict):
        raise InputError(f"{path}: the top level must be a JSON object")
    parse_embedding_init(init, str(path))
    return init
