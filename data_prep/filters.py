"""Document filters as datatrove steps. Each returns True to keep, or (False, "step:reason") to reject.

Rejected documents go to the stage's exclusion writer with that reason, so nothing is dropped silently.
"""

from __future__ import annotations

import re

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_prep.langid import identify_language

WORD = re.compile(r"\w+")


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


def dedup_text(text: str) -> str:
    """The text with case, punctuation and spacing folded: copies that differ only there are equal."""
    return " ".join(WORD.findall(text.lower()))
