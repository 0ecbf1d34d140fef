"""Line transforms: datatrove steps that remove lines from a document instead of judging it whole.

    BoilerplateLineRemover   site furniture (menus, share bars, copyright and cookie notices, UI labels);
                             count in metadata["boilerplate_lines_removed"]
    ForeignLineRemover       lines in a language not kept (a Russian paragraph inside a Kazakh article);
                             counts per language in metadata["foreign_lines_removed"]

They never reject: a document left empty goes on, and the filters after them reject it
(data_prep.quality.EmptyDocumentFilter: "quality:empty_after_boilerplate").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from data_prep.langid import identify_language
from data_prep.letters import ANY_LETTER, KAZAKH_ONLY_LETTERS


# ------------------------------------------------------------------------------------ boilerplate lines
def _phrases(*items: str) -> str:
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(items, key=len, reverse=True))


# Whole-line UI labels (kk / ru / en), allowed to carry symbols and counters around them: "Пікірлер (3)",
# "Толығырақ »", "Қаралды: 1 204".
_UI_LABELS = _phrases(
    *"""
толығырақ|толық оқу|толық оқыңыз|әрі қарай оқу|бөлісу|бөлісіңіз|оқи отырыңыз|пікір қалдыру|пікір қалдырыңыз
пікірлер|пікір жазу|басты бет|басты бетке|жаңалықтар|барлық жаңалықтар|соңғы жаңалықтар|ұқсас жаңалықтар
тақырыпқа қатысты|тағы оқыңыз|мұрағат|іздеу|кіру|шығу|тіркелу|мәзір|байланыс|байланыстар|біз туралы|жарнама
артқа|алға|келесі|алдыңғы|жоғары|қаралды|көрілді|жүктеу|жазылу|жазылыңыз|басып шығару|құпиялылық саясаты
пайдалану шарттары|сайт картасы|жарияланды|жаңартылды
подробнее|читать далее|читать полностью|читать также|поделиться|комментарии|оставить комментарий|ответить
главная|меню|поиск|войти|выйти|регистрация|назад|далее|вперед|вперёд|контакты|о нас|реклама|архив|подписаться
версия для печати|политика конфиденциальности|карта сайта|все новости|последние новости|похожие новости
просмотры|опубликовано|обновлено
read more|continue reading|share|share this|tweet|comments|leave a comment|reply|home|menu|search|login|log in
sign in|sign up|register|next|previous|back|back to top|contact us|about us|advertisement|archive|subscribe
print|privacy policy|terms of use|sitemap|views|published|updated""".strip()
    .replace("\n", "|")
    .split("|")
)
_SOCIAL = _phrases(
    *"""facebook twitter telegram whatsapp vk vkontakte вконтакте instagram youtube linkedin
tiktok одноклассники ok pinterest reddit x email e-mail""".split()
)
_SEP = r"[\s|,;·•/:]*"
_SOCIAL_BAR = rf"(?:{_SOCIAL})(?:[\s|,;·•/:]+(?:{_SOCIAL}))+"  # two or more names, separated
_BOILERPLATE_LINE = re.compile(
    "|".join(
        f"(?:{p})"
        for p in (
            rf"[\W\d_]*(?:{_UI_LABELS})[\W\d_]*",
            # "Оқи отырыңыз: <title of another article>" and friends: the rest of the line is a link
            "(?:"
            + _phrases(
                "оқи отырыңыз",
                "сондай-ақ оқыңыз",
                "тағы оқыңыз",
                "тақырыпқа қатысты",
                "читайте также",
                "читайте еще",
                "смотрите также",
                "read also",
                "see also",
                "related",
            )
            + r")\s*[:—–-].*",
            rf"(?:{_phrases('бөлісу', 'поделиться', 'share')})?{_SEP}{_SOCIAL_BAR}{_SEP}",
            rf"(?:(?:https?://|www\.)\S+{_SEP})+",  # nothing but links
            r"(?:[^|•·\n]{1,30}[|•·]){2,}[^|•·\n]{0,30}",  # menus: "Басты бет | Саясат | Қоғам"
            rf"(?:{_phrases('басты бет', 'басты', 'главная', 'home')})\s*[»>›/|].{{0,150}}",  # breadcrumbs
        )
    ),
)  # matched against the lower-cased line: case-insensitive patterns are ~10x slower in `re`
# Phrases that mark a whole (short) line as site furniture wherever they stand in it.
_BOILERPLATE_PHRASE = re.compile(
    r"барлық құқықтар қорғалған|все права защищены|all rights reserved|©|\(c\)\s*\d{4}|copyright"
    r"|cookies?\b|куки\b"
    r"|сілтеме\s+(?:жасау\s+)?міндетті|гиперсілтеме|ссылка\s+обязательна|при\s+(?:копировании|цитировании)"
    r"|арнамызға\s+жазылыңыз|жазылыңыз:|подписывайтесь\s+на|subscribe\s+to\s+our"
)
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")


class BoilerplateLineRemover(PipelineStep):
    """Removes lines that are site furniture rather than text: copyright and cookie notices, UI labels
    ("Толығырақ", "Бөлісу", "Пікір қалдыру"), "Оқи отырыңыз: ..." links, share bars, menus, breadcrumbs,
    lines of only links, and lines with no letter at all (separators, dates, page numbers).

    Only lines up to `max_line_length` characters are examined: a long line is a paragraph, whatever
    words it contains. The number of removed lines goes to doc.metadata["boilerplate_lines_removed"];
    a document left empty is kept here and rejected by the filters ("quality:empty_after_boilerplate").
    """

    name = "🧽 boilerplate lines"
    type = "✂️ - FORMAT"

    def __init__(self, max_line_length: int = 300, extra_patterns: Iterable[str] = ()):
        super().__init__()
        self.max_line_length = max_line_length
        extra = list(extra_patterns)
        self.extra = re.compile("|".join(f"(?:{p})" for p in extra), re.IGNORECASE) if extra else None

    def is_boilerplate(self, line: str) -> bool:
        """`line` is stripped and not empty."""
        if len(line) > self.max_line_length:
            return False
        if not ANY_LETTER.search(line):
            return True
        low = line.lower()
        return bool(
            _BOILERPLATE_LINE.fullmatch(low)
            or _BOILERPLATE_PHRASE.search(low)
            or (self.extra and self.extra.search(line))
        )

    def clean(self, text: str) -> tuple[str, int]:
        kept, removed = [], 0
        for line in text.split("\n"):
            stripped = line.strip()
            if stripped and self.is_boilerplate(stripped):
                removed += 1
            else:
                kept.append(line)
        if not removed:
            return text, 0
        return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip(), removed

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("documents")
            with self.track_time():
                doc.text, removed = self.clean(doc.text)
            doc.metadata["boilerplate_lines_removed"] = removed
            if removed:
                self.stat_update("lines_removed", value=removed)
            yield doc


# ---------------------------------------------------------------------------------------- foreign lines
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
            # isdisjoint stops at the first such letter
            if len(line) >= self.min_chars and self.skip_letters.isdisjoint(line):
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
