"""Decontamination of evaluation items retyped with look-alike letters (issue 14).

Planted items from the shipped sample MT set, their Cyrillic letters swapped for Latin look-alikes by a
seeded generator, must be caught after normalisation as data_prep/pipeline.py runs the two: normalise
first, then DecontaminationFilter. Normalisation repairs every word with a letter that only Cyrillic has;
the filter's look-alike folding catches the words made of look-alikes only (ауа typed as "aya").
"""

import random
import re
from pathlib import Path

import pytest
from datatrove.data import Document

from data_prep.decontam import WORD, DecontaminationFilter
from data_prep.normalize import fold_lookalikes, normalize_text
from kazllm.config import EvalSetSource

EVAL_SET = Path(__file__).resolve().parent.parent / "data" / "sample" / "eval" / "translation" / "sample.kk"
NGRAM = 8
# Latin letters people type for Cyrillic ones (keyboards without Kazakh letters, or on purpose).
LOOKALIKE = {
    "а": "a",
    "с": "c",
    "е": "e",
    "о": "o",
    "р": "p",
    "х": "x",
    "у": "y",
    "і": "i",
    "һ": "h",
    "ә": "ə",
    "ө": "ɵ",
    "А": "A",
    "В": "B",
    "С": "C",
    "Е": "E",
    "Н": "H",
    "К": "K",
    "М": "M",
    "О": "O",
    "Р": "P",
    "Т": "T",
    "Х": "X",
    "У": "Y",
    "І": "I",
}
# Around each planted item: ordinary Kazakh text that shares no n-gram with the eval set.
BEFORE = "Кеше кешке біз достарымызбен бірге қалалық саябақта серуендеп, көп әңгіме айттық."
AFTER = "Содан кейін үйге қайтып, шай ішіп, ертеңгі жоспарымызды талқыладық."


def _planted(count: int) -> list[str]:
    """The first `count` items long enough to hold an n-gram (shorter ones cannot be matched at all)."""
    items = [x for x in EVAL_SET.read_text("utf-8").split("\n") if len(WORD.findall(x)) >= NGRAM]
    assert len(items) >= count
    return items[:count]


def _retype(text: str, rng: random.Random, share: float) -> str:
    return "".join(LOOKALIKE[c] if c in LOOKALIKE and rng.random() < share else c for c in text)


def _filter() -> DecontaminationFilter:
    return DecontaminationFilter([EvalSetSource(name="sample_mt", path=str(EVAL_SET))], NGRAM)


@pytest.mark.parametrize("share", [0.3, 0.6, 1.0])  # of the letters that have a look-alike
def test_planted_items_typed_with_latin_lookalikes_are_all_caught_after_normalisation(share):
    rng = random.Random(14)
    decontam = _filter()
    items = _planted(30)
    typed = [_retype(x, rng, share) for x in items]
    assert sum(a != b for x, y in zip(items, typed) for a, b in zip(x, y)) > 10 * share * len(items)
    missed = []
    for i, item in enumerate(typed):
        doc = Document(text=normalize_text(f"{BEFORE} {item} {AFTER}")[0], id=str(i))
        if decontam.filter(doc) != (False, "decontam:sample_mt"):
            missed.append(item)
    assert missed == []


def test_clean_text_with_latin_words_is_not_taken_for_an_eval_item():
    decontam = _filter()
    docs = [
        f"{BEFORE} {AFTER}",
        "Apple iPhone 15 смартфонын 2023 жылы шығарды, ал Samsung компаниясы Galaxy "
        "сериясын жаңартты. Бағасы әлі белгісіз, бірақ сатылымы жақсы болады деп күтілуде.",
    ]
    assert [decontam.filter(Document(text=t, id=str(i))) for i, t in enumerate(docs)] == [True, True]


def test_the_match_is_reported_as_the_document_wrote_it():
    item = _planted(1)[0]
    doc = Document(text=f"{BEFORE} {_retype(item, random.Random(0), 1.0)}", id="0")
    assert _filter().filter(doc) == (False, "decontam:sample_mt")
    assert doc.metadata["decontam_match"] in " ".join(WORD.findall(doc.text.lower()))


def test_normalisation_repairs_every_retyped_word_that_has_a_letter_only_cyrillic_has():
    rng = random.Random(14)
    only_cyrillic = re.compile("[^" + "".join(LOOKALIKE) + r"\W\d_]")
    for item in _planted(30):
        typed = _retype(item, rng, 1.0)
        out = normalize_text(typed)[0]
        for word, typed_word, out_word in zip(item.split(), typed.split(), out.split()):
            if only_cyrillic.search(word):
                assert out_word == word, (typed_word, out_word)
            else:  # ауа, су, әр: no letter tells the script; the folding in decontamination catches them
                assert fold_lookalikes(out_word) == fold_lookalikes(word)
