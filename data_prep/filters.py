"""Document filters as datatrove steps. Each returns True to keep, or (False, "step:reason") to reject.

Rejected documents go to the stage's exclusion writer with that reason, so nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_prep.langid import identify_language
from kazllm.config import QualitySection

WORD = re.compile(r"\w+")
LINE_END_PUNCT = tuple(".!?…:;»\"')”")


class UnreadableFilter(BaseFilter):
    """Rejects the placeholders that readers emit for input they could not parse (bad JSON, bad UTF-8...)."""

    name = "🚧 unreadable input"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        problem = doc.metadata.get("unreadable")
        return (False, f"unreadable:{problem}") if problem else True


class LanguageFilter(BaseFilter):
    """Keeps documents whose identified language is in `keep` with at least `min_score` confidence."""

    name = "🌐 language"

    def __init__(self, keep: list[str], min_score: float, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.keep = set(keep)
        self.min_score = min_score

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        label, score = identify_language(doc.text)
        doc.metadata["language"] = label
        doc.metadata["language_score"] = round(score, 4)
        if label not in self.keep:
            return False, f"language:{label}"
        if score < self.min_score:
            return False, "language:low_score"
        return True


class QualityFilter(BaseFilter):
    """Length, word-shape, repetition and punctuation checks (Gopher / FineWeb-2 style)."""

    name = "🧹 quality"

    def __init__(self, cfg: QualitySection, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.cfg = cfg

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        cfg = self.cfg
        words = doc.text.split()
        if len(words) < cfg.min_words:
            return False, "quality:too_few_words"
        word_chars = [len(m) for w in words for m in WORD.findall(w)] or [0]
        mean_len = sum(word_chars) / len(word_chars)
        if not cfg.min_mean_word_length <= mean_len <= cfg.max_mean_word_length:
            return False, "quality:mean_word_length"
        no_letter = sum(1 for w in words if not any(c.isalpha() for c in w))
        if no_letter / len(words) > cfg.max_non_alpha_word_ratio:
            return False, "quality:non_alpha_words"
        lines = [line for line in doc.text.split("\n") if line.strip()]
        repeats = sum(n - 1 for n in Counter(lines).values())
        if lines and repeats / len(lines) > cfg.max_duplicate_line_ratio:
            return False, "quality:duplicate_lines"
        ending = sum(1 for line in lines if line.rstrip().endswith(LINE_END_PUNCT))
        if lines and ending / len(lines) < cfg.min_line_punct_ratio:
            return False, "quality:line_punctuation"
        return True


def dedup_key(text: str) -> str:
    """Hash of the text with case, punctuation and spacing removed: copies that differ only there collide."""
    return hashlib.sha1(" ".join(WORD.findall(text.lower())).encode("utf-8")).hexdigest()


class ExactDedupFilter(BaseFilter):
    """Keeps the first document of each normalised-text hash; later copies name the one they repeat."""

    name = "🫂 exact dedup"

    def __init__(self, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.seen: dict[str, str] = {}

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        key = dedup_key(doc.text)
        first = self.seen.setdefault(key, doc.id)
        if first != doc.id:
            doc.metadata["duplicate_of"] = first
            return False, "dedup:exact"
        return True
