"""Document filters as datatrove steps. Each returns True to keep, or (False, "step:reason") to reject.

Rejected documents go to the stage's exclusion writer with that reason, so nothing is dropped silently.
"""

from __future__ import annotations

import re

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_prep.langid import identify_language, identify_languages
from data_prep.normalize import KAZAKH_ONLY_LETTERS

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

    def __init__(self, keep: list[str], min_score: float, exclusion_writer: DiskWriter | None = None,
                 batch_size: int = 64):
        # documents go to the model in batches: its per-call cost is paid once per batch, not per document
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.keep = set(keep)
        self.min_score = min_score

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self._verdict(doc, *identify_language(doc.text))

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        return [self._verdict(doc, *result) for doc, result in zip(batch, identify_languages([d.text for d in batch]))]

    def _verdict(self, doc: Document, label: str, score: float) -> bool | tuple[bool, str]:
        doc.metadata["language"] = label
        doc.metadata["language_score"] = round(score, 4)
        if label not in self.keep:
            return False, f"language:{label}"
        if score < self.min_score:
            return False, "language:low_score"
        return True


class ForeignLineRemover(PipelineStep):
    """Drops lines in another language from documents kept as `keep` (e.g. a Russian paragraph inside
    a Kazakh article). Only lines of at least `min_chars` characters identified with at least
    `min_score` confidence are judged: short lines (names, numbers, headings) carry too little evidence.
    Counts per language go to metadata["foreign_lines_removed"]."""

    name = "🌐 foreign lines"
    type = "✂️ - FORMAT"

    def __init__(self, keep: list[str], min_chars: int = 40, min_score: float = 0.9):
        super().__init__()
        self.keep, self.min_chars, self.min_score = set(keep), min_chars, min_score
        # A Kazakh line of min_chars characters almost always has one of the letters no other language
        # here shares (і does not count: Ukrainian and Belarusian have it); when keeping Kazakh, only lines
        # without any need the model, so most lines skip it and this step stays cheap.
        self.skip_letters = set(KAZAKH_ONLY_LETTERS) if "kk" in self.keep else set()

    def clean(self, text: str) -> tuple[str, dict[str, int]]:
        """`text` without its foreign lines, and how many of each language went."""
        removed: dict[str, int] = {}
        kept_lines = []
        for line in text.split("\n"):
            if len(line) >= self.min_chars and self.skip_letters.isdisjoint(line):  # stops at the first such letter
                label, score = identify_language(line)
                if label not in self.keep and label != "other" and score >= self.min_score:
                    removed[label] = removed.get(label, 0) + 1
                    continue
            kept_lines.append(line)
        return ("\n".join(kept_lines).strip() if removed else text), removed

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            with self.track_time():
                doc.text, removed = self.clean(doc.text)
            if removed:
                doc.metadata["foreign_lines_removed"] = removed
                self.stat_update(*[f"removed_{lang}" for lang in removed])
            yield doc


def dedup_text(text: str) -> str:
    """The text with case, punctuation and spacing folded: copies that differ only there are equal."""
    return " ".join(WORD.findall(text.lower()))
