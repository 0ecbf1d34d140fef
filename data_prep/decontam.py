"""Decontamination: drop training documents that share word n-grams with evaluation sets.

A model must not see the test questions it is later scored on. Every evaluation set named in
`prep.decontamination.eval_sets` is read once per task into a set of hashed word n-grams (text files:
one item per line, as FLORES/NTREX/Tatoeba; JSONL: every string value, as SQuAD/KazQAD, Belebele,
KazMMLU). A document containing any of those n-grams is rejected with reason `decontam:<set name>`
and the matching n-gram is kept in its metadata for inspection. Words are compared with look-alike
letters folded (`fold_lookalikes`: Latin a = Cyrillic а ...), so an item retyped with Latin look-alikes
still matches where normalisation cannot tell a word's script (ауа typed as "aya").
"""

from __future__ import annotations

import re
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_prep.normalize import fold_lookalikes
from kazllm.artifacts import iter_jsonl
from kazllm.config import EvalSetSource, resolve_path
from kazllm.errors import InputError

WORD = re.compile(r"\w+")


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def read_eval_texts(path: Path) -> list[str]:
    """Items of an evaluation set: lines of a text file, or every string field of a JSONL file."""
    if not path.is_file():
        raise InputError(f"decontamination eval set not found: {path}")
    if path.suffix == ".jsonl":
        return [s for rec in iter_jsonl([path]) for s in _strings(rec)]
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The n-grams of `text`'s words, lower case and look-alikes folded, as the filter compares them."""
    words = WORD.findall(fold_lookalikes(text))
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class DecontaminationFilter(BaseFilter):
    """Rejects documents sharing an n-gram of `ngram` words with any configured evaluation set."""

    name = "🧪 decontaminate"

    def __init__(
        self, eval_sets: list[EvalSetSource], ngram: int, exclusion_writer: DiskWriter | None = None
    ):
        super().__init__(exclusion_writer)
        self.eval_sets, self.ngram = eval_sets, ngram
        for spec in eval_sets:  # fail before any work if a set is missing
            if not resolve_path(spec.path).is_file():
                raise InputError(f"prep.decontamination.eval_sets: file not found: {spec.path}")
        self._index: dict[tuple[str, ...], str] | None = None

    def _build_index(self) -> dict[tuple[str, ...], str]:
        index: dict[tuple[str, ...], str] = {}
        for spec in self.eval_sets:
            name = spec.name or Path(spec.path).stem
            for text in read_eval_texts(resolve_path(spec.path)):
                for gram in word_ngrams(text, self.ngram):
                    index.setdefault(gram, name)
        return index

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._index is None:
            self._index = self._build_index()
        if not self._index:
            return True
        words = WORD.findall(fold_lookalikes(doc.text))
        n = self.ngram
        for i in range(len(words) - n + 1):
            name = self._index.get(tuple(words[i : i + n]))
            if name is not None:  # the words as written (folding keeps every word where it was)
                doc.metadata["decontam_match"] = " ".join(WORD.findall(doc.text.lower())[i : i + n])
                return False, f"decontam:{name}"
        return True
