"""Specification of data_prep.quality: a document that should pass every filter, then one bad document per
rule, each rejected with its exact reason; and a sanity check on real Kazakh text (skipped where the shared
data is absent). The tokeniser, boilerplate removal and URL block list have their own test modules
(tests/test_kk_words.py, tests/test_line_transforms.py, tests/test_filters.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datatrove.data import Document

from data_prep.filters import UrlBlocklistFilter
from data_prep.line_transforms import BoilerplateLineRemover
from data_prep.quality import (
    KAZAKH_STOP_WORDS,
    EmptyDocumentFilter,
    KazakhFineWebQualityFilter,
    KazakhGopherQualityFilter,
    KazakhGopherRepetitionFilter,
)

REPO = Path(__file__).resolve().parent.parent
REAL_KK = REPO.parent / "shared" / "data" / "text_mix" / "kk.txt"
SAMPLE_JSONL = REPO / "data" / "sample" / "corpus" / "jsonl"


def make_doc(text: str, **metadata) -> Document:
    return Document(text=text, id="test", metadata=metadata)


def check_filter(step, doc: Document, expected: bool | str) -> None:
    """`expected` is True (kept) or the exact reason the document is rejected with."""
    result = step.filter(doc)
    if expected is True:
        assert result is True, f"expected kept, got {result}"
    else:
        assert result == (False, expected)


SENTENCES = [
    "Алматы облысының Қарасай ауданында үш жүз орындық жаңа мектеп пайдалануға берілді.",
    "Мектеп ғимараты екі жыл бойы салынды, құрылысқа жергілікті бюджеттен қаржы бөлінді.",
    "Сыныптар заманауи құралдармен жабдықталған, химия мен физика зертханалары, кітапхана және спорт "
    "залы бар.",
    "Аудан әкімінің айтуынша, бұл мектеп ауылдағы оқушылардың екі ауысыммен оқу мәселесін шешеді.",
    "«Балаларымыз енді таңертеңнен кешке дейін жарық әрі жылы сыныптарда білім алады», – деді ол.",
    "Салтанатты шараға ата-аналар, ардагер ұстаздар және ауыл тұрғындары қатысты.",
    "Жаңа оқу жылында мектепке бірінші сыныпқа алпыс бала қабылданады.",
    "Сондай-ақ мұнда үйірмелер жұмыс істейді: оқушылар робототехника, домбыра және шахмат сабақтарына "
    "тегін қатыса алады.",
    "Облыстық білім басқармасының мәліметінше, биыл өңірде тағы төрт мектептің құрылысы аяқталуы тиіс.",
    "Олардың екеуі қыркүйек айында ашылады деп күтілуде.",
]
GOOD_TEXT = "\n\n".join(
    [
        "Қарасай ауданында жаңа мектеп ашылды",
        " ".join(SENTENCES[0:3]),
        " ".join(SENTENCES[3:5]),
        " ".join(SENTENCES[5:8]),
        " ".join(SENTENCES[8:10]),
    ]
)
GOOD_URL = "https://example.kz/kk/news/2024/09/jana-mektep"
ALL_FILTERS = [
    KazakhGopherQualityFilter,
    KazakhGopherRepetitionFilter,
    KazakhFineWebQualityFilter,
    EmptyDocumentFilter,
]  # the URL block list passes GOOD_URL too: tests/test_filters.py


# ----------------------------------------------------------------------------------------- good document
@pytest.mark.parametrize("filter_class", ALL_FILTERS)
def test_good_document_passes_every_filter(filter_class):
    check_filter(filter_class(), make_doc(GOOD_TEXT, url=GOOD_URL), True)


@pytest.mark.parametrize("filter_class", ALL_FILTERS)
def test_empty_documents(filter_class):
    check_filter(filter_class(), make_doc(" \n\n "), "quality:empty")
    emptied = make_doc("", boilerplate_lines_removed=4)
    check_filter(filter_class(), emptied, "quality:empty_after_boilerplate")


# ------------------------------------------------------------------------------------ Gopher quality rules
NOUNS = (
    "мектеп кітапхана сынып мұғалім оқушы дәптер қалам сызғыш кесте тақта терезе есік орындық "
    "үстел сағат қоңырау алаң бақша ағаш гүл"
).split()

GOPHER_QUALITY_CASES = {
    "quality:too_few_words": "Бұл өте қысқа мәтін, сондықтан ол жарамсыз.",
    "quality:mean_word_length_low": "а б в г д е ж з и к " * 6,
    "quality:mean_word_length_high": "мемлекеттендірілмегендіктерінен қазақстандықтарымыздың " * 30,
    "quality:hash_ratio": " ".join(f"#{w}" for w in NOUNS * 3),
    "quality:ellipsis_ratio": "Мектеп ашылды... Оқушылар қуанышты... " * 15,
    "quality:bullet_lines": "\n".join(f"- {s}" for s in SENTENCES),
    "quality:ellipsis_lines": "\n".join(s[:-1] + "…" for s in SENTENCES),
    "quality:non_alpha_words": "Кесте және нәтиже: " + " ".join(str(1990 + i) for i in range(60)),
    "quality:stop_words": ". ".join(" ".join(NOUNS[i : i + 10]).capitalize() for i in range(0, 20, 10)) * 3,
}


@pytest.mark.parametrize("reason", sorted(GOPHER_QUALITY_CASES))
def test_gopher_quality_rules(reason):
    check_filter(KazakhGopherQualityFilter(), make_doc(GOPHER_QUALITY_CASES[reason]), reason)


def test_gopher_quality_thresholds_are_arguments():
    check_filter(KazakhGopherQualityFilter(max_doc_words=20), make_doc(GOOD_TEXT), "quality:too_many_words")
    check_filter(
        KazakhGopherQualityFilter(min_doc_words=None, min_stop_words=None),
        make_doc(GOPHER_QUALITY_CASES["quality:too_few_words"]),
        True,
    )
    # dialogue lines open with a dash in Kazakh prose: that is not a bulleted list
    dialogue = "\n".join(f"– {s}" for s in SENTENCES)
    check_filter(KazakhGopherQualityFilter(), make_doc(dialogue), True)


def test_stop_words():
    assert 60 <= len(KAZAKH_STOP_WORDS) <= 150
    common = {"және", "мен", "бұл", "үшін", "деп", "емес", "сияқты", "туралы", "бойынша", "арқылы"}
    assert common <= KAZAKH_STOP_WORDS
    assert all(w == w.lower() and " " not in w for w in KAZAKH_STOP_WORDS)


def test_russian_and_english_documents_are_judged_by_their_own_function_words():
    """A replay mixture keeps ru/en (prep.keep_languages); they must not all fail on Kazakh stop words."""
    ru = (
        "Правительство утвердило новую программу развития регионов, и она начнёт работать уже в этом году. "
        "По словам министра, на строительство дорог и школ выделят больше средств, чем раньше. "
    ) * 4
    en = (
        "The government approved a new programme for the regions, and it will start this year. "
        "According to the minister, more money than before is planned for roads and schools. "
    ) * 4
    nouns = ". ".join(" ".join(NOUNS[i : i + 10]).capitalize() for i in range(0, 20, 10)) * 3
    check_filter(KazakhGopherQualityFilter(), make_doc(ru, language="ru"), True)
    check_filter(KazakhGopherQualityFilter(), make_doc(en, language="en"), True)
    check_filter(KazakhGopherQualityFilter(), make_doc(ru, language="kk"), "quality:stop_words")
    check_filter(KazakhGopherQualityFilter(), make_doc(nouns, language="ru"), "quality:stop_words")
    check_filter(KazakhGopherQualityFilter(), make_doc(nouns, language="ky"), True)  # no list: rule skipped


# --------------------------------------------------------------------------------- Gopher repetition rules
LONG = (
    "Республикалық бюджеттен бөлінген қаржы ауылдық жерлердегі денсаулық сақтау нысандарын жөндеуге "
    "және жаңа медициналық құрал-жабдықтар сатып алуға жұмсалады"
)
REPETITION_CASES = {
    "repetition:dup_para_frac": "\n\n".join([SENTENCES[0], SENTENCES[1], SENTENCES[1], SENTENCES[1]]),
    "repetition:dup_para_char_frac": "\n\n".join([LONG + ".", SENTENCES[6], SENTENCES[9], LONG + "."]),
    "repetition:dup_line_frac": "\n".join(SENTENCES[:6] + ["Рахмет!"] * 5),
    "repetition:dup_line_char_frac": "\n".join([LONG + ".", *SENTENCES[5:7], LONG + "."]),
    "repetition:top_2_gram": "\n".join(f"Қызыл алма {w}." for w in NOUNS),
    "repetition:dup_5_gram": "\n".join(
        [
            f"Министрдің айтуынша, {LONG}.",
            SENTENCES[6],
            f"Былтыр да {LONG.lower()}, бұл жұмыс биыл жалғасады.",
        ]
    ),
}


@pytest.mark.parametrize("reason", sorted(REPETITION_CASES))
def test_gopher_repetition_rules(reason):
    check_filter(KazakhGopherRepetitionFilter(), make_doc(REPETITION_CASES[reason]), reason)


def test_repetition_defaults_are_fineweb2_kaz_cyrl():
    assert KazakhGopherRepetitionFilter().dup_line_frac == 0.304
    # 4 duplicate lines out of 14 (0.29) stay under 0.304
    check_filter(KazakhGopherRepetitionFilter(), make_doc("\n".join(SENTENCES + ["Рахмет!"] * 5)), True)


# ------------------------------------------------------------------------------------------ FineWeb rules
HEADLINES = [s.rstrip(".").split(",")[0] for s in SENTENCES]
FINEWEB_CASES = {
    "quality:line_punctuation": "\n".join(HEADLINES),
    "quality:short_lines": "\n".join(f"{w.capitalize()} бүгін жабық." for w in NOUNS),
    "quality:char_duplicates": GOOD_TEXT + "\n\n" + " ".join(SENTENCES[8:10]),  # its last paragraph again
    "quality:newline_ratio": "\n".join(f"{w.capitalize()} мемлекеттендірілгеннен жөнделді." for w in NOUNS),
}


@pytest.mark.parametrize("reason", sorted(FINEWEB_CASES))
def test_fineweb_rules(reason):
    check_filter(KazakhFineWebQualityFilter(), make_doc(FINEWEB_CASES[reason]), reason)


def test_kazakh_quotes_and_ellipsis_end_a_line():
    lines = [
        "«Біз бұл жобаны келесі жылы да жалғастырамыз»",
        "Ол ұзақ үнсіз отырып, терезеге қарады…",
        "Кітаптың аты «Абай жолы» деп аталады.",
    ]
    check_filter(KazakhFineWebQualityFilter(line_punct_thr=1.0), make_doc("\n".join(lines)), True)


# --------------------------------------------------------------------------------------- real-data checks
def run_all(texts: list[str]) -> tuple[dict[str, float], float]:
    """Share of documents each filter rejects (each filter sees every document), and the share kept."""
    remover = BoilerplateLineRemover()
    filters = [KazakhGopherQualityFilter(), KazakhGopherRepetitionFilter(), KazakhFineWebQualityFilter()]
    rejected = {type(f).__name__: 0 for f in filters}
    kept = 0
    for i, text in enumerate(texts):
        doc = Document(text=remover.clean(text)[0], id=str(i))
        results = [f.filter(doc) for f in filters]
        for f, result in zip(filters, results):
            rejected[type(f).__name__] += result is not True
        kept += all(result is True for result in results)
    return {name: n / len(texts) for name, n in rejected.items()}, kept / len(texts)


@pytest.mark.skipif(not REAL_KK.exists(), reason="shared Kazakh text not available")
def test_real_kazakh_text_is_mostly_kept():
    lines = REAL_KK.read_text(encoding="utf-8").splitlines()
    docs = ["\n".join(lines[i : i + 20]) for i in range(0, len(lines), 20)]
    rejected, kept = run_all(docs)
    print(f"\nreal kk, {len(docs)} documents of 20 lines: kept {kept:.3f}, rejected by {rejected}")
    assert rejected["KazakhGopherQualityFilter"] <= 0.02
    assert rejected["KazakhFineWebQualityFilter"] <= 0.02
    # KazNERD, part of this file, gives many sentences twice (numbers as words, then as digits): those
    # documents really are ~half repeated 5-grams, and the repetition filter is right to drop them.
    assert rejected["KazakhGopherRepetitionFilter"] <= 0.2
    assert kept >= 0.85
    # Without those pairs (a line opening like the previous one is dropped) almost everything is kept.
    deduped = [line for prev, line in zip([""] + lines, lines) if line[:20] != prev[:20]]
    rejected, kept = run_all(["\n".join(deduped[i : i + 20]) for i in range(0, len(deduped), 20)])
    print(f"without repeated-sentence pairs: kept {kept:.3f}, rejected by {rejected}")
    assert kept >= 0.97


@pytest.mark.parametrize("name", ["kk_news", "kk_culture", "kk_science"])
def test_bundled_kazakh_sample_passes(name):
    path = SAMPLE_JSONL / f"{name}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not present")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rejected, kept = run_all([r["text"] for r in records])
    assert kept >= 0.95, rejected
    url_filter = UrlBlocklistFilter()
    assert all(url_filter.filter(make_doc(r["text"], url=r.get("url", ""))) is True for r in records)


def _dup_ngram_chars_by_definition(words, n):
    """Characters of the n-grams that repeat an earlier one, skipping n-1 positions after each counted one."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    chars, next_free, seen = 0, 0, set()
    for i, gram in enumerate(grams):
        if gram in seen and i >= next_free:
            chars += sum(map(len, gram))
            next_free = i + n
        seen.add(gram)
    return chars


def test_repeated_ngram_characters_follow_their_definition_for_every_n():
    import random

    from data_prep.quality import _dup_ngram_chars

    rnd = random.Random(5)
    vocab = "бір екі үш төрт бес алты жеті сегіз тоғыз он".split()
    for _ in range(400):
        words = [rnd.choice(vocab[: rnd.randint(2, 10)]) for _ in range(rnd.randint(0, 80))]
        got = dict(_dup_ngram_chars(words, [5, 6, 7, 8, 9, 10]))
        for n in range(5, 11):
            expected = _dup_ngram_chars_by_definition(words, n)
            if n not in got:  # reported until the first n without a repeat, as the filter stops there
                assert all(_dup_ngram_chars_by_definition(words, m) == 0 for m in range(n, 11))
                break
            assert got[n] == expected, (words, n)
