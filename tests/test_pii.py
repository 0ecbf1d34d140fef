"""PII masking (data_prep/pii.py), written as its specification.

mask_pii(text) -> (masked_text, counts) replaces personal data by typed placeholders: <IIN>, <BIN>, <PHONE>,
<EMAIL>, <IBAN>, <CARD>, <IP>; counts has one key per kind seen (iin, bin, phone, email, iban, card, ip).
IINs/BINs, IBANs and cards are masked only when their check digits hold; dates, years, sums, times and
version numbers are never touched.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import time
from pathlib import Path

import pytest

from data_prep.pii import classify_iin_bin, find_pii, iban_valid, iin_bin_check_digit, luhn_valid, mask_pii

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@functools.cache
def _load_eval():
    """scripts/eval_pii.py (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location("eval_pii", REPO / "scripts" / "eval_pii.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_pii"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def masked(text: str) -> str:
    return mask_pii(text)[0]


# --- the example numbers used below are valid ----------------------------------------------------------
IIN = "880512300124"        # born 1988-05-12, century/gender digit 3 (20th century, male)
IIN_2001 = "010228600457"   # born 2001-02-28, digit 6 (21st century, female)
IIN_SECOND_WEIGHTS = "900101300811"  # weights 1..11 give 10, so weights 3..11,1,2 decide the check digit
BIN = "040540012345"        # registered 2004-05, entity type 4 (legal entity, resident)
IBAN = "KZ86125KZT5004100100"
CARDS = {"visa": "4111111111111111", "mastercard": "5500000000000004", "mir": "2200700123456781",
         "unionpay-19": "6222021234567890128"}


def test_example_numbers_are_valid():
    assert [classify_iin_bin(n) for n in (IIN, IIN_2001, IIN_SECOND_WEIGHTS, BIN)] == ["iin", "iin", "iin", "bin"]
    assert iin_bin_check_digit("90010130080") is None  # no check digit exists: never a valid IIN
    assert iban_valid(IBAN) and all(luhn_valid(c) for c in CARDS.values())


# --- IIN / BIN ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("written", [IIN, "880512 300124", "880512-300124", "880512 300 124", "880512-300-124",
                                     "8805 1230 0124", IIN_2001, IIN_SECOND_WEIGHTS])
def test_iin_in_its_written_forms_is_masked(written):
    assert mask_pii(f"ЖСН: {written}, өтініш қабылданды.") == ("ЖСН: <IIN>, өтініш қабылданды.", {"iin": 1})


@pytest.mark.parametrize("written", [BIN, "040540 012345", "040540-012-345"])
def test_bin_is_masked_as_bin(written):
    assert mask_pii(f"ТОО «Самрук», БИН {written}.") == ("ТОО «Самрук», БИН <BIN>.", {"bin": 1})


@pytest.mark.parametrize("number", [
    "880512300123",   # wrong check digit: an order or invoice number, not an IIN
    "880512300125",
    "881312300126",   # month 13
    "900101300800",   # check digit impossible (both weightings give 10)
])
def test_twelve_digit_numbers_that_fail_the_checks_survive(number):
    text = f"Тапсырыс № {number} төленді."
    assert mask_pii(text) == (text, {})


# --- phones ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("phone", [
    "+7 701 123 45 67", "+7 (701) 123-45-67", "+7(701)123-45-67", "8 (701) 123-45-67", "8(701)123 45 67",
    "+77011234567", "87011234567", "8-747-123-45-67", "+7-747-123-45-67", "8.701.123.45.67", "8 701 123 4567",
    "8 (701)-123-45-67", "+7\u00a0701\u00a0123\u00a045\u00a067", "+7 727 234 56 78", "8 (727) 234-56-78",
    "+7 (7172) 55-12-34", "8 (7172) 55-12-34", "8 7172 55 12 34", "+7 7252 551234", "8 800 080 77 77",
])
def test_phone_numbers_with_prefix_are_masked(phone):
    assert mask_pii(f"Байланыс: {phone}, хабарласыңыз.") == ("Байланыс: <PHONE>, хабарласыңыз.", {"phone": 1})


@pytest.mark.parametrize(("text", "expected"), [
    ("тел.: 55-12-34", "тел.: <PHONE>"),
    ("Тел. 234-56-78", "Тел. <PHONE>"),
    ("Телефон: 234 56 78", "Телефон: <PHONE>"),
    ("телефон нөмірі: 55-12-34", "телефон нөмірі: <PHONE>"),
    ("Тел./факс: (727) 234-56-78", "Тел./факс: <PHONE>"),
    ("тел.: (7172) 55-12-34", "тел.: <PHONE>"),
    ("ұялы: 701 123 45 67", "ұялы: <PHONE>"),
    ("phone: 2345678", "phone: <PHONE>"),
    ("Телефоны: 55-12-34, 55-12-35", "Телефоны: <PHONE>, <PHONE>"),
    ("тел.: 8 (7172) 55-12-34, 55-12-35 немесе 8 701 123 45 67", "тел.: <PHONE>, <PHONE> немесе <PHONE>"),
])
def test_short_local_numbers_are_masked_after_a_phone_keyword(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize("text", [
    "Бағасы 55-12-34 теңге емес, 12-34 мың.",           # no keyword: a short number stays
    "Телефон арқылы 2 500 адам хабарласты.",
    "Телефоны подорожали на 12-15%, продано 250 000 штук.",
    "Телефонның бағасы 150 000 теңге.",
    "Телефонға 150000 теңге жұмсалды.",
    "тел. 55 12 34 56 78 90",                            # no partial masks of longer digit runs
])
def test_numbers_near_a_phone_keyword_that_are_not_phones_survive(text):
    assert mask_pii(text) == (text, {})


# --- e-mails --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("Пошта: aigerim.s@mail.kz.", "Пошта: <EMAIL>."),
    ("Почта: Info@Akimat.Almaty.Gov.KZ", "Почта: <EMAIL>"),
    ("e-mail: nurlan_88+news@inbox.kz;", "e-mail: <EMAIL>;"),
    ("Жазыңыз: пример@мысал.қаз", "Жазыңыз: <EMAIL>"),
    ("mailto:press@gov.kz", "mailto:<EMAIL>"),
    ("Пишите: name [at] mail.kz", "Пишите: <EMAIL>"),
    ("Пишите: name(at)mail.kz", "Пишите: <EMAIL>"),
    ("Жазыңыз: name (at) mail dot kz", "Жазыңыз: <EMAIL>"),
    ("Жазыңыз: name [at] mail [dot] kz", "Жазыңыз: <EMAIL>"),
])
def test_emails_are_masked(text, expected):
    assert mask_pii(text) == (expected, {"email": 1})


def test_at_and_dot_as_plain_words_are_not_an_email():
    text = "We met at the office, then went home at noon."
    assert mask_pii(text) == (text, {})


# --- IBAN -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("written", [IBAN, "KZ86 125K ZT50 0410 0100", "KZ86-125K-ZT50-0410-0100", IBAN.lower(),
                                     "KZ18722S000012345678", "KZ886010000012345678"])
def test_valid_kz_iban_is_masked(written):
    assert mask_pii(f"ИИК {written}, БИК HSBKKZKX.") == ("ИИК <IBAN>, БИК HSBKKZKX.", {"iban": 1})


def test_iban_with_wrong_check_digits_survives():
    text = "ИИК KZ87125KZT5004100100."
    assert mask_pii(text) == (text, {})


# --- cards ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("written", [
    *CARDS.values(), "4111 1111 1111 1111", "4111-1111-1111-1111", "5500\u00a00000\u00a00000\u00a00004",
    "3782 822463 10005", "378282246310005", "6222 0212 3456 7890 128",
])
def test_luhn_valid_cards_are_masked(written):
    assert mask_pii(f"Карта нөмірі: {written}, мерзімі 09/27.") == ("Карта нөмірі: <CARD>, мерзімі 09/27.",
                                                                    {"card": 1})


@pytest.mark.parametrize("number", [
    "4111 1111 1111 1112",      # Luhn fails
    "4111111111111112",
    "2057000070169587855",      # a 19-digit id that passes Luhn but starts like no 19-digit card
    "1234 5678 9012 3452",      # Luhn-valid, no card starts with 1
])
def test_numbers_that_are_not_cards_survive(number):
    text = f"Номер заказа {number}."
    assert mask_pii(text) == (text, {})


# --- IP addresses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("IP: 192.168.1.15", "IP: <IP>"),
    ("кіру 10.0.0.1-ден жасалды", "кіру <IP>-ден жасалды"),
    ("сервер 95.56.234.11:8080", "сервер <IP>:8080"),
    ("адрес 2001:db8:85a3::8a2e:370:7334.", "адрес <IP>."),
    ("адрес 2001:0DB8:0000:0000:0008:0800:200C:417A", "адрес <IP>"),
    ("адрес ::ffff:192.0.2.1", "адрес <IP>"),
])
def test_ip_addresses_are_masked(text, expected):
    assert mask_pii(text) == (expected, {"ip": 1})


# --- ordinary numbers survive ---------------------------------------------------------------------------
CLEAN = [
    "2024 жылы 15 наурызда 1250 адам қатысты, бюджеті 3 500 000 теңге.",
    "Мемлекеттік бағдарламаға 87 500 000 000 теңге бөлінді.",
    "Қаржыландыру 8 700 000 000 теңгеге жетті, 2019-2024 жылдары.",
    "Халық саны 19 765 004 адамға жетті (01.01.2024).",
    "Кездесу 12.03.2024 сағат 14:30:00-де басталады.",
    "Бағдарлама нұсқасы 1.2.3 шықты, версия 2.10.4.1 кейінірек.",
    "Заңның 3.1.2.1-тармағы өзгертілді.",
    "ҚР Үкіметінің 2023 жылғы 28 желтоқсандағы № 1234 қаулысы.",
    "Инфляция 9,8% болды, базалық мөлшерлеме 14,75%.",
    "Сумма сделки составила 1 234 567 890 тенге, НДС — 12%.",
    "В 1941–1945 годах погибли 27 миллионов человек.",
    "Счёт матча 3:1, на стадионе было 30 000 зрителей.",
    "ISBN 978-601-7566-12-3, индекс 010000, Астана.",
    "Координаты: 51.169392, 71.449074.",
    "Python 3.11.7 и CUDA 12.1 установлены.",
    "Телефон арқылы 2 500 адам хабарласты.",
    "Курс доллара 448,50 тенге, евро — 489,12.",
    "Рейс KC 852 Алматы — Астана 08:45-те ұшады.",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_sentences_with_numbers_are_untouched(text):
    assert mask_pii(text) == (text, {})


# --- counts, overlaps, idempotence ----------------------------------------------------------------------
def test_counts_per_kind_in_a_mixed_document():
    text = (f"Өтініш иесі: ЖСН {IIN}, тел. +7 701 123 45 67, 8 (7172) 55-12-34, пошта a.b@mail.kz. "
            f"ЖШС БСН {BIN}, шот {IBAN}, карта 4111 1111 1111 1111, IP 10.20.30.40. 2024 жылғы 5 мамыр.")
    out, counts = mask_pii(text)
    assert counts == {"iin": 1, "phone": 2, "email": 1, "bin": 1, "iban": 1, "card": 1, "ip": 1}
    assert out == ("Өтініш иесі: ЖСН <IIN>, тел. <PHONE>, <PHONE>, пошта <EMAIL>. "
                   "ЖШС БСН <BIN>, шот <IBAN>, карта <CARD>, IP <IP>. 2024 жылғы 5 мамыр.")


def test_overlapping_candidates_give_one_whole_placeholder():
    # digits of an e-mail's local part, a card or an IBAN never turn into a second, nested placeholder
    assert masked("87011234567@mail.ru") == "<EMAIL>"
    assert masked(f"{IIN}@mail.kz") == "<EMAIL>"
    assert masked("KZ86 125K ZT50 0410 0100") == "<IBAN>"
    spans = find_pii(f"тел. 8 701 123 45 67, ЖСН {IIN}, {IBAN}")
    assert [kind for _, _, kind in spans] == ["phone", "iin", "iban"]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_masking_is_idempotent():
    out, _ = mask_pii(f"ЖСН {IIN}, тел. 8 701 123 45 67, a@b.kz, {IBAN}")
    assert mask_pii(out) == (out, {})


def test_text_without_personal_data_is_returned_as_is():
    assert mask_pii("") == ("", {})
    assert mask_pii("Сәлем, әлем!") == ("Сәлем, әлем!", {})


@pytest.mark.parametrize("text", ["@" * 200_000, "1234567890" * 20_000, "12 345 678 " * 20_000, "ab:cd:" * 40_000,
                                  "тел: " * 50_000, "(at) " * 50_000])
def test_pathological_inputs_stay_fast(text):
    start = time.perf_counter()
    mask_pii(text)
    assert time.perf_counter() - start < 5


# --- generated variants and look-alikes (scripts/eval_pii.py) -------------------------------------------
def test_recall_on_generated_variants_is_at_least_99_percent():
    ev = _load_eval()
    variants = ev.generate_variants(2800, seed=7)
    by_kind, _, misses = ev.recall(variants)
    assert set(by_kind) == set(ev.KINDS)
    for kind, (found, total) in by_kind.items():
        assert found / total >= 0.99, (kind, misses[:5])


def test_generated_look_alikes_are_untouched():
    ev = _load_eval()
    lookalikes = ev.generate_lookalikes(1500, seed=7)
    changed = [s for s in lookalikes if mask_pii(s)[0] != s]
    assert len(changed) / len(lookalikes) <= 0.001, changed[:5]


# --- real text ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ntrex128/newstest2019-ref.kaz.txt", "ntrex128/newstest2019-ref.rus.txt",
                                  "ntrex128/newstest2019-src.eng.txt", "text_mix/kk.txt"])
def test_real_news_text_is_changed_in_at_most_1_percent_of_lines(name):
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    report = _load_eval().real_text_report(path)
    assert report.fp_rate <= 0.01, report.false_positive_lines[:5]
