"""prep: normalisation, language ID, quality, dedup and PII masking, and the pipeline's bookkeeping."""

import json
import unicodedata

import pytest

from data_prep.langid import identify_language
from data_prep.normalize import normalize_text
from data_prep.pii import mask_pii
from data_prep.pipeline import run_prep
from kazllm.config import load_config
from kazllm.errors import InputError

KK = (
    "Қазақстан Республикасы — Орталық Азиядағы мемлекет. Елордасы Астана қаласы. Халқы жиырма миллионнан "
    "асады. Мемлекеттік тілі қазақ тілі болып табылады. Елде көптеген ұлт өкілдері тату-тәтті өмір сүреді."
)
RU = (
    "Республика Казахстан — государство в Центральной Азии. Столица — город Астана. Население превышает "
    "двадцать миллионов человек. Государственным языком является казахский язык."
)
# A document of realistic length: the quality rules judge shares of words, so a phone number in a
# two-sentence text would dominate it.
KK_LONG = KK + (
    " Бұл елде қысы суық, ал жазы ыстық болады. Табиғаты алуан түрлі: кең дала, биік таулар, терең "
    "көлдер және өзендер бар. Ауыл шаруашылығы мен өнеркәсіп қатар дамып келеді, ал жастар білім алуға "
    "көп көңіл бөледі."
)
EN = (
    "Kazakhstan is a country in Central Asia. Its capital is Astana "
    "and its population exceeds twenty million."
)


def test_nfc_composes_kazakh_letters_and_leaves_correct_text_alone():
    decomposed = unicodedata.normalize("NFD", "Әйел және қыз")
    text, repairs = normalize_text(decomposed)
    assert text == "Әйел және қыз" and repairs["nfc"] == 1
    assert normalize_text(KK) == (KK, {})


def test_normalisation_removes_control_chars_and_extra_whitespace():
    text, repairs = normalize_text("Сәлем\x00  әлем\r\n\n\n\nжаңа\u00a0жол  ")
    assert text == "Сәлем әлем\n\nжаңа жол"
    assert repairs["control_chars"] == 1 and repairs["whitespace"] == 1


@pytest.mark.parametrize(("text", "label"), [(KK, "kk"), (RU, "ru"), (EN, "en"), ("12345 !!!", "other")])
def test_language_id_separates_kazakh_russian_and_english(text, label):
    assert identify_language(text)[0] == label


def test_language_id_scores_kazakh_confidently():
    assert identify_language(KK)[1] > 0.9


@pytest.mark.parametrize(
    "phone",
    ["+7 701 123 45 67", "8 (701) 123-45-67", "+77011234567", "8-747-123-45-67", "+7 (7172) 55-12-34"],
)
def test_phone_numbers_in_common_kazakh_forms_are_masked(phone):
    masked, counts = mask_pii(f"Телефон: {phone}, хабарласыңыз.")
    assert masked == "Телефон: <PHONE>, хабарласыңыз." and counts == {"phone": 1}


def test_emails_and_iins_are_masked_and_counted():
    masked, counts = mask_pii("ЖСН 880512300124, пошта aigerim.s@mail.kz, тағы бір: info@akimat.gov.kz")
    assert masked == "ЖСН <IIN>, пошта <EMAIL>, тағы бір: <EMAIL>"
    assert counts == {"email": 2, "iin": 1}


def test_clean_text_with_numbers_is_not_masked():
    text = "2024 жылы 15 наурызда 1250 адам қатысты, бюджеті 3 500 000 теңге."
    assert mask_pii(text) == (text, {})


def _cfg(tmp_path, inputs_yaml: str, *overrides):
    path = tmp_path / "prep.yaml"
    path.write_text(
        f"run: {{out_dir: {tmp_path / 'run'}}}\nprep:\n  inputs:\n{inputs_yaml}", encoding="utf-8"
    )
    return load_config(path, list(overrides))


def _write_jsonl(path, rows):
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
        encoding="utf-8",
    )


def test_pipeline_accounts_for_every_document_with_a_reason(tmp_path):
    src = tmp_path / "src.jsonl"
    _write_jsonl(
        src,
        [
            {"id": "kk1", "text": KK_LONG + " Байланыс: +7 701 123 45 67."},
            {"id": "kk1-copy", "text": KK_LONG.upper() + "  байланыс: +7 701 123 45 67."},
            {"id": "ru1", "text": RU},
            {"id": "short", "text": "Қысқа мәтін."},
            '{"id": "broken", "text": "жартылай',
            {"id": "notext", "body": "мәтін"},
        ],
    )
    cfg = _cfg(tmp_path, f"    - {{path: {src}, format: jsonl, name: web}}\n", "prep.quality.min_words=10")
    stats = run_prep(cfg)
    assert stats["documents_in"] == 6 and stats["documents_kept"] == 1 and stats["balanced"]
    assert stats["rejected_by_reason"] == {
        "dedup:exact": 1,
        "language:ru": 1,
        "quality:too_few_words": 1,
        "unreadable:bad_json": 1,  # line 5 of the file
        "unreadable:missing_field 'text'": 1,
    }
    assert stats["pii_masked"] == {"phone": 1}
    # each record is one document in, unreadable ones too, in every stage's count as in the readers'
    # input_counts
    assert stats["stages"]["1_filter"] == {"tasks": 1, "in": 6, "kept": 2, "rejected": 4, "balanced": True}
    assert stats["stages"]["4_exact_filter"] == {
        "tasks": 1,
        "in": 2,
        "kept": 1,
        "rejected": 1,
        "balanced": True,
    }
    prep_dir = cfg.stage_dir("prep")
    kept = [
        json.loads(line) for f in (prep_dir / "kept").glob("*.jsonl") for line in f.open(encoding="utf-8")
    ]
    assert [k["id"] for k in kept] == ["kk1"] and "<PHONE>" in kept[0]["text"]
    assert kept[0]["metadata"]["source"] == "web" and kept[0]["metadata"]["language"] == "kk"
    rejected = [
        json.loads(line) for f in (prep_dir / "rejected").glob("*.jsonl") for line in f.open(encoding="utf-8")
    ]
    assert {r["metadata"]["filter_reason"] for r in rejected} == set(stats["rejected_by_reason"])
    broken = next(r for r in rejected if r["metadata"]["filter_reason"].startswith("unreadable:bad_json"))
    assert broken["metadata"]["line"] == 5 and broken["metadata"]["path"] == str(src)
    assert broken["metadata"]["detail"] == "Unterminated string starting at, column 26"  # the parser's words
    assert (prep_dir / "resolved_config.yaml").is_file() and (prep_dir / "manifest.json").is_file()


def test_text_sources_split_on_separator_and_quarantine_binary_files(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    second = (
        "Абай Құнанбайұлы — қазақтың ұлы ақыны, ағартушы, жазба әдебиетінің негізін салушы. Ол орыс және "
        "шығыс әдебиетін терең білген, және көптеген өлең мен қара сөз жазған. "
        "Бұл шығармалар бүгін де оқылады."
    )
    (folder / "a.txt").write_text(f"{KK_LONG}\n@@@\n{second}\n", encoding="utf-8")
    (folder / "scan.txt").write_bytes(b"\x89PNG\x00\x01")
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    cfg = _cfg(
        tmp_path,
        f"    - {{path: {folder}, format: text, separator: '@@@', name: docs}}\n",
        "prep.quality.min_words=10",
    )
    stats = run_prep(cfg)
    assert stats["by_source"]["docs"] == {
        "in": 4,
        "kept": 2,
        "rejected": 2,
        "balanced": True,
        "rejected_by_reason": {"unreadable:binary (NUL bytes)": 1, "unreadable:empty_file": 1},
        "pii_masked": {},
        "pii_policy": "identifiers",
    }


def test_missing_input_is_a_clear_error(tmp_path):
    cfg = _cfg(tmp_path, "    - {path: no/such/file.jsonl, format: jsonl}\n")
    with pytest.raises(InputError, match="input not found: no/such/file.jsonl"):
        run_prep(cfg)


def test_a_corpus_with_nothing_to_keep_is_an_error_naming_the_reasons(tmp_path):
    src = tmp_path / "ru.jsonl"
    _write_jsonl(src, [{"text": RU}])
    cfg = _cfg(tmp_path, f"    - {{path: {src}, format: jsonl}}\n")
    with pytest.raises(InputError, match=r"prep kept 0 of 1 documents; reasons: \{'language:ru': 1\}"):
        run_prep(cfg)


def test_bundled_sample_gives_every_filter_work(sample_run):
    stats = json.loads((sample_run.stage_dir("prep") / "stats.json").read_text(encoding="utf-8"))
    assert stats["balanced"] and all(s["balanced"] for s in stats["by_source"].values())
    reasons = stats["rejected_by_reason"]
    for reason in ("language:ru", "language:en", "dedup:exact", "dedup:near"):
        assert reasons.get(reason, 0) > 0, reason
    assert any(r.startswith("quality:") for r in reasons) and any(
        r.startswith("unreadable:") for r in reasons
    )
    assert {"email", "phone", "iin"} <= set(stats["pii_masked"])
    assert stats["documents_kept"] > 230
