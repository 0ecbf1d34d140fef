"""PII masking (data_prep/pii.py), written as its specification.

mask_pii(text) -> (masked_text, counts) replaces personal data by typed placeholders: <IIN>, <BIN>,
<DOCUMENT>, <PLATE>, <HOUSE>, <DATE_OF_BIRTH>, <PHONE>, <EMAIL>, <IBAN>, <CARD>, <IP>; counts has one key per
kind seen (iin, bin, document, plate, address, dob, phone, email, iban, card, ip). IINs/BINs, IBANs and cards
are masked only when their check digits hold; document numbers, addresses and dates of birth only next to
their context words, which stay; dates, years, sums, times and version numbers are never touched.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import time
from pathlib import Path

import pytest

from data_prep.pii import (
    classify_iin_bin,
    find_pii,
    iban_valid,
    iin_bin_check_digit,
    luhn_valid,
    mask_pii,
)
from kazllm.placeholders import PLACEHOLDERS

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
IIN = "880512300124"  # born 1988-05-12, century/gender digit 3 (20th century, male)
IIN_2001 = "010228600457"  # born 2001-02-28, digit 6 (21st century, female)
IIN_SECOND_WEIGHTS = "900101300811"  # weights 1..11 give 10, so weights 3..11,1,2 decide the check digit
BIN = "040540012345"  # registered 2004-05, entity type 4 (legal entity, resident)
IBAN = "KZ86125KZT5004100100"
CARDS = {
    "visa": "4111111111111111",
    "mastercard": "5500000000000004",
    "mir": "2200700123456781",
    "unionpay-19": "6222021234567890128",
}


def test_example_numbers_are_valid():
    assert [classify_iin_bin(n) for n in (IIN, IIN_2001, IIN_SECOND_WEIGHTS, BIN)] == [
        "iin",
        "iin",
        "iin",
        "bin",
    ]
    assert iin_bin_check_digit("90010130080") is None  # no check digit exists: never a valid IIN
    assert iban_valid(IBAN) and all(luhn_valid(c) for c in CARDS.values())


# --- IIN / BIN ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [
        IIN,
        "880512 300124",
        "880512-300124",
        "880512 300 124",
        "880512-300-124",
        "8805 1230 0124",
        IIN_2001,
        IIN_SECOND_WEIGHTS,
    ],
)
def test_iin_in_its_written_forms_is_masked(written):
    assert mask_pii(f"ЖСН: {written}, өтініш қабылданды.") == ("ЖСН: <IIN>, өтініш қабылданды.", {"iin": 1})


@pytest.mark.parametrize("written", [BIN, "040540 012345", "040540-012-345"])
def test_bin_is_masked_as_bin(written):
    assert mask_pii(f"ТОО «Самрук», БИН {written}.") == ("ТОО «Самрук», БИН <BIN>.", {"bin": 1})


@pytest.mark.parametrize(
    "number",
    [
        "880512300123",  # wrong check digit: an order or invoice number, not an IIN
        "880512300125",
        "881312300126",  # month 13
        "900101300800",  # check digit impossible (both weightings give 10)
    ],
)
def test_twelve_digit_numbers_that_fail_the_checks_survive(number):
    text = f"Тапсырыс № {number} төленді."
    assert mask_pii(text) == (text, {})


@pytest.mark.parametrize(
    "written",
    [
        "880 512 300 124",  # 3-3-3-3
        "88 05 12 300124",  # 2-2-2-6: the birth date, then the rest
        "88 0512 300124",  # 2-4-6
        "880512 3 00124",  # 6-1-5: the century/gender digit apart
        "88 05 12 30 01 24",  # 2-2-2-2-2-2
        "880-512-300-124",
        "8805-1230-0124",  # dashes
        "880.512.300.124",
        "880512.300124",  # dots
        "880\u00a0512\u00a0300\u00a0124",  # no-break spaces
        "880\u202f512\u202f300\u202f124",  # narrow no-break spaces (French-style thousands)
        "880 512\u00a0300\u202f124",  # plain and no-break spaces mixed: still one separator kind
    ],
)
def test_iin_in_any_grouping_is_masked(written):
    assert mask_pii(f"ЖСН: {written}, өтініш қабылданды.") == ("ЖСН: <IIN>, өтініш қабылданды.", {"iin": 1})


@pytest.mark.parametrize(
    "written", ["040 540 012 345", "04 05 40 012345", "040.540.012.345", "0405\u00a04001\u00a02345"]
)
def test_bin_in_any_grouping_is_masked(written):
    assert mask_pii(f"БИН {written}.") == ("БИН <BIN>.", {"bin": 1})


@pytest.mark.parametrize(
    "text",
    [
        # a checksum-valid 12-digit number followed by a unit is an amount, in every written form
        f"Бюджетке {IIN[:3]} {IIN[3:6]} {IIN[6:9]} {IIN[9:]} теңге бөлінді.",
        f"Сумма сделки {IIN[:3]} {IIN[3:6]} {IIN[6:9]} {IIN[9:]} тенге.",
        f"Шығын {IIN[:3]}\u202f{IIN[3:6]}\u202f{IIN[6:9]}\u202f{IIN[9:]} ₸ болды.",
        f"Айналым {IIN} млн доллар.",
        f"Өсім {IIN[:6]} {IIN[6:]} % құрады.",
        # an IIN-shaped run inside a longer number is part of that number: no partial masks
        f"Жүк коды 1 {IIN[:3]} {IIN[3:6]} {IIN[6:9]} {IIN[9:]} тіркелді.",
        f"Жүк коды {IIN[:3]} {IIN[3:6]} {IIN[6:9]} {IIN[9:]} 500 тіркелді.",
        f"Код {IIN[:3]}-{IIN[3:6]}-{IIN[6:9]}-{IIN[9:]}-7 берілді.",
        f"Коэффициент {IIN[:3]} {IIN[3:6]} {IIN[6:9]} {IIN[9:]},5 болды.",
        # ordinary grouped numbers: dates, phones, ISBNs, thousands
        "Кездесу 12.03.2024, 12 03 2024 және 2024-03-12 күндері.",
        "ISBN 978-601-7566-12-3, тел. мұнда жоқ.",
        "Халық саны 19 765 004 адам, бюджеті 1 200 500 000 теңге.",
    ],
)
def test_grouped_numbers_that_are_not_iins_survive(text):
    assert mask_pii(text) == (text, {})


def test_dotted_groups_that_are_also_an_ip_address_are_masked_as_ip():
    assert classify_iin_bin("151151109114") == "bin"  # checksum and BIN structure hold ...
    assert mask_pii("Сервер 151.151.109.114 жауап бермеді.") == ("Сервер <IP> жауап бермеді.", {"ip": 1})


# --- identity documents ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("жеке куәлік № 012345678 берілген", "жеке куәлік № <DOCUMENT> берілген"),
        ("жеке куәлігі №012345678", "жеке куәлігі №<DOCUMENT>"),
        ("Жеке куәлігінің нөмірі: 012345678.", "Жеке куәлігінің нөмірі: <DOCUMENT>."),
        (
            "удостоверение личности № 012345678 выдано МВД РК 12.03.2015",
            "удостоверение личности № <DOCUMENT> выдано МВД РК 12.03.2015",
        ),
        ("уд. личности 012345678", "уд. личности <DOCUMENT>"),
        ("паспорт N12345678", "паспорт <DOCUMENT>"),
        ("паспорт № N 1234567", "паспорт № <DOCUMENT>"),
        ("passport no. N12345678", "passport no. <DOCUMENT>"),
        ("төлқұжат № N12345678", "төлқұжат № <DOCUMENT>"),
        (
            "паспорт гражданина Республики Казахстан № N12345678",
            "паспорт гражданина Республики Казахстан № <DOCUMENT>",
        ),
        ("ID card 012345678", "ID card <DOCUMENT>"),
    ],
)
def test_document_numbers_after_a_document_word_are_masked_and_the_word_kept(text, expected):
    assert mask_pii(text) == (expected, {"document": 1})


@pytest.mark.parametrize(
    "text",
    [
        "Паспортов выдано 1234567 штук.",  # a count after the word, not a number of one
        "Паспорт алу үшін 1234567 теңге төленді.",  # other words in between
        "Паспорт 12345678 теңге тұрады.",  # followed by a unit: a price
        "Жеке куәлік 2015 жылы 12.03.2015 берілді.",  # dates and years
        "Тапсырыс № 012345678, жеткізу 3 күн.",  # a 9-digit number without a document word
        "паспорт AB1234567 жарамсыз.",  # letters glued to the number: some other code
    ],
)
def test_numbers_near_document_words_that_are_not_document_numbers_survive(text):
    assert mask_pii(text) == (text, {})


# --- vehicle plates -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Көлік 123ABC02 тоқтатылды.", "Көлік <PLATE> тоқтатылды."),
        ("123 ABC 02 нөмірлі көлік", "<PLATE> нөмірлі көлік"),
        ("Водитель 777 АВС 17 скрылся.", "Водитель <PLATE> скрылся."),  # Cyrillic look-alike letters
        ("Машина 123 AB 05 (заңды тұлға).", "Машина <PLATE> (заңды тұлға)."),  # two letters: a legal entity
        ("123\u00a0KZA\u00a001 тұрақта тұр.", "<PLATE> тұрақта тұр."),
        (
            "автокөлігі 450 ZZZ 45 айдап кетті",
            "автокөлігі <PLATE> айдап кетті",
        ),  # other region: with a vehicle word
        ("мемлекеттік нөмірі A 123 BCD болатын автокөлік", "мемлекеттік нөмірі <PLATE> болатын автокөлік"),
        ("госномер A123BCD", "госномер <PLATE>"),
        ("гос. номер Z 777 KZ", "гос. номер <PLATE>"),
    ],
)
def test_vehicle_plates_are_masked(text, expected):
    assert mask_pii(text) == (expected, {"plate": 1})


@pytest.mark.parametrize(
    "text",
    [
        "Ноутбук 512 GB 16 GB RAM, бағасы 450 000 теңге.",  # units after numbers
        "Курс 448 USD 10 центке өсті.",
        "Айыппұл 100 АЕК 12 айға дейін төленеді.",  # Cyrillic look-alike unit "АЕК"
        # model names; the older format needs a vehicle word
        "Boeing 737 MAX 8 және Airbus A 320 NEO ұшақтары.",
        "Өнім коды 123 ABC 45 қоймада.",  # region 45 without a vehicle word
        "Партия X123ABC02 и 123ABC02Z на складе.",  # letters glued to either end
        "Тапсырыс 123 ABC 2024 жылы жеткізілді.",
    ],
)
def test_plate_like_codes_survive(text):
    assert mask_pii(text) == (text, {})


# --- postal addresses -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected", "n"),
    [
        ("Абай көшесі, 12-үй, 45-пәтер", "Абай көшесі, <HOUSE>-үй, <HOUSE>-пәтер", 2),
        ("ул. Ленина, д. 5, кв. 12", "ул. Ленина, д. <HOUSE>, кв. <HOUSE>", 2),
        ("пр. Абая 150/1, кв 7", "пр. Абая <HOUSE>, кв <HOUSE>", 2),
        ("Достық даңғылы 5, 12 пәтер", "Достық даңғылы <HOUSE>, <HOUSE> пәтер", 2),
        ("Алматы қ., Абай көшесі 12", "Алматы қ., Абай көшесі <HOUSE>", 1),
        ("Қабанбай батыр даңғылы, 53-үй, 12-пәтер", "Қабанбай батыр даңғылы, <HOUSE>-үй, <HOUSE>-пәтер", 2),
        ("Мәңгілік Ел даңғылы, 55/2", "Мәңгілік Ел даңғылы, <HOUSE>", 1),
        ("Самал-2 шағынауданы, 45-үй", "Самал-2 шағынауданы, <HOUSE>-үй", 1),  # the district number stays
        ("мкр Самал-2, д. 45, кв. 3", "мкр Самал-2, д. <HOUSE>, кв. <HOUSE>", 2),
        ("г. Астана, ул. Кенесары 40", "г. Астана, ул. Кенесары <HOUSE>", 1),
        ("ул. Толе би 59, оф. 12", "ул. Толе би <HOUSE>, оф. <HOUSE>", 2),
        ("проспект Абая, дом 12а, квартира 7", "проспект Абая, дом <HOUSE>, квартира <HOUSE>", 2),
        ("Жібек жолы 50, 3-кеңсе", "Жібек жолы <HOUSE>, <HOUSE>-кеңсе", 2),
        ("12-үй, 45-пәтер", "<HOUSE>-үй, <HOUSE>-пәтер", 2),  # no street: a house and a flat together
        ("д. 5, кв. 12", "д. <HOUSE>, кв. <HOUSE>", 2),
    ],
)
def test_house_and_flat_numbers_are_masked_and_the_street_kept(text, expected, n):
    assert mask_pii(text) == (expected, {"address": n})


@pytest.mark.parametrize(
    "text",
    [
        "Заңның 5-бабы 2-тармағына сәйкес, 12-сыныпта 2024 жылы оқыды.",  # articles, clauses, grades, years
        "Кітаптың 45-бетінде, 3-тарауда, 12-суретте.",
        "Су тасқынынан 15 үй зардап шекті, 45 пәтерлік үй салынды.",  # counts of houses and flats
        "2 бөлмелі пәтер 57 шаршы метр, ас үйі 12 кв. м.",
        "Абай көшесі 2024 жылы жөнделді, Достық даңғылы 5 км.",  # a year or distance after a street
        "Абай көшесі 5 мамырда жабылады, 12 жастағы бала.",
        "Абай көшесінде 1500 адам жиналды.",  # not the street word itself
        "На ул. Абая 25 человек ждали автобус 15 минут.",
        "Бұл жолы 5 команда қатысты, Мәселені шешу жолы 3 тәсіл.",  # "жолы" as "time"/"way"
        "Москва 2024, Астана 2030 және Ленина 5 томдық шығармасы.",  # names before numbers, no street word
        "12-үй жөнделді, 45-пәтер сатылды.",  # a house or a flat alone, no street
    ],
)
def test_numbers_that_are_not_house_numbers_survive(text):
    assert mask_pii(text) == (text, {})


# --- dates of birth -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("туған күні: 12.03.1985", "туған күні: <DATE_OF_BIRTH>"),
        ("12.03.1985 ж.т.", "<DATE_OF_BIRTH> ж.т."),
        ("1985 жылы 12 наурызда туған", "<DATE_OF_BIRTH> туған"),
        ("Ол 1985 жылдың 12 наурызында туған", "Ол <DATE_OF_BIRTH> туған"),
        ("Туған күні 12.03.85", "Туған күні <DATE_OF_BIRTH>"),
        ("дата рождения 12.03.1985", "дата рождения <DATE_OF_BIRTH>"),
        ("Дата рождения: 12/03/1985", "Дата рождения: <DATE_OF_BIRTH>"),
        ("12.03.1985 г.р.", "<DATE_OF_BIRTH> г.р."),
        ("родился 5 мая 1985 года", "родился <DATE_OF_BIRTH>"),
        ("родилась 5 мая 1985 г., в Алматы", "родилась <DATE_OF_BIRTH>, в Алматы"),
        ("д.р. 12.03.1985", "д.р. <DATE_OF_BIRTH>"),
        ("born 12 March 1985", "born <DATE_OF_BIRTH>"),
        ("born on March 12, 1985", "born on <DATE_OF_BIRTH>"),
        ("date of birth: 1985-03-12", "date of birth: <DATE_OF_BIRTH>"),
        # a bare year of birth
        ("Иванов И.И., 1985 г.р.", "Иванов И.И., <DATE_OF_BIRTH> г.р."),
        ("Ол 1990 жылы туған.", "Ол <DATE_OF_BIRTH> туған."),
        ("житель Шымкента, 1988 года рождения", "житель Шымкента, <DATE_OF_BIRTH> рождения"),
        ("родился в 1985 году в Алматы", "родился в <DATE_OF_BIRTH> в Алматы"),
        ("a woman born in 1986", "a woman born in <DATE_OF_BIRTH>"),
        ("Туған жылы: 1985", "Туған жылы: <DATE_OF_BIRTH>"),
    ],
)
def test_dates_of_birth_are_masked_and_the_birth_word_kept(text, expected):
    assert mask_pii(text) == (expected, {"dob": 1})


@pytest.mark.parametrize(
    "text",
    [
        "Кездесу 12.03.2024 өтті, 5 мая 2023 года, March 12, 2024.",  # dates without a birth word
        "2024 жылғы 12 наурызда шешім қабылданды, 1985 жылы зауыт салынды.",
        "Ол 2024 жылы туған жеріне оралды.",  # "туған" = native
        "12 наурызда туған күнін тойлады, туған ағасы 2019 жылы келді.",  # birthday party, own brother
        "Компания 2010 жылы құрылды; 2019 жылы 1 200 адам туған.",
        "День рождения компании 12 марта отмечают ежегодно.",
    ],
)
def test_dates_without_a_birth_word_survive(text):
    assert mask_pii(text) == (text, {})


# --- phones ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "phone",
    [
        "+7 701 123 45 67",
        "+7 (701) 123-45-67",
        "+7(701)123-45-67",
        "8 (701) 123-45-67",
        "8(701)123 45 67",
        "+77011234567",
        "87011234567",
        "8-747-123-45-67",
        "+7-747-123-45-67",
        "8.701.123.45.67",
        "8 701 123 4567",
        "8 (701)-123-45-67",
        "+7\u00a0701\u00a0123\u00a045\u00a067",
        "+7 727 234 56 78",
        "8 (727) 234-56-78",
        "+7 (7172) 55-12-34",
        "8 (7172) 55-12-34",
        "8 7172 55 12 34",
        "+7 7252 551234",
        "8 800 080 77 77",
    ],
)
def test_phone_numbers_with_prefix_are_masked(phone):
    assert mask_pii(f"Байланыс: {phone}, хабарласыңыз.") == ("Байланыс: <PHONE>, хабарласыңыз.", {"phone": 1})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
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
    ],
)
def test_short_local_numbers_are_masked_after_a_phone_keyword(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Бағасы 55-12-34 теңге емес, 12-34 мың.",  # no keyword: a short number stays
        "Телефон арқылы 2 500 адам хабарласты.",
        "Телефоны подорожали на 12-15%, продано 250 000 штук.",
        "Телефонның бағасы 150 000 теңге.",
        "Телефонға 150000 теңге жұмсалды.",
        "тел. 55 12 34 56 78 90",  # no partial masks of longer digit runs
    ],
)
def test_numbers_near_a_phone_keyword_that_are_not_phones_survive(text):
    assert mask_pii(text) == (text, {})


# --- e-mails --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Пошта: aigerim.s@mail.kz.", "Пошта: <EMAIL>."),
        ("Почта: Info@Akimat.Almaty.Gov.KZ", "Почта: <EMAIL>"),
        ("e-mail: nurlan_88+news@inbox.kz;", "e-mail: <EMAIL>;"),
        ("Жазыңыз: пример@мысал.қаз", "Жазыңыз: <EMAIL>"),
        ("mailto:press@gov.kz", "mailto:<EMAIL>"),
        ("Пишите: name [at] mail.kz", "Пишите: <EMAIL>"),
        ("Пишите: name(at)mail.kz", "Пишите: <EMAIL>"),
        ("Жазыңыз: name (at) mail dot kz", "Жазыңыз: <EMAIL>"),
        ("Жазыңыз: name [at] mail [dot] kz", "Жазыңыз: <EMAIL>"),
    ],
)
def test_emails_are_masked(text, expected):
    assert mask_pii(text) == (expected, {"email": 1})


def test_at_and_dot_as_plain_words_are_not_an_email():
    text = "We met at the office, then went home at noon."
    assert mask_pii(text) == (text, {})


# --- IBAN -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [
        IBAN,
        "KZ86 125K ZT50 0410 0100",
        "KZ86-125K-ZT50-0410-0100",
        IBAN.lower(),
        "KZ18722S000012345678",
        "KZ886010000012345678",
    ],
)
def test_valid_kz_iban_is_masked(written):
    assert mask_pii(f"ИИК {written}, БИК HSBKKZKX.") == ("ИИК <IBAN>, БИК HSBKKZKX.", {"iban": 1})


def test_iban_with_wrong_check_digits_survives():
    text = "ИИК KZ87125KZT5004100100."
    assert mask_pii(text) == (text, {})


# --- cards ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [
        *CARDS.values(),
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500\u00a00000\u00a00000\u00a00004",
        "3782 822463 10005",
        "378282246310005",
        "6222 0212 3456 7890 128",
    ],
)
def test_luhn_valid_cards_are_masked(written):
    assert mask_pii(f"Карта нөмірі: {written}, мерзімі 09/27.") == (
        "Карта нөмірі: <CARD>, мерзімі 09/27.",
        {"card": 1},
    )


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "4111111111111112",
        "2057000070169587855",  # a 19-digit id that passes Luhn but starts like no 19-digit card
        "1234 5678 9012 3452",  # Luhn-valid, no card starts with 1
    ],
)
def test_numbers_that_are_not_cards_survive(number):
    text = f"Номер заказа {number}."
    assert mask_pii(text) == (text, {})


# --- IP addresses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IP: 192.168.1.15", "IP: <IP>"),
        ("кіру 10.0.0.1-ден жасалды", "кіру <IP>-ден жасалды"),
        ("сервер 95.56.234.11:8080", "сервер <IP>:8080"),
        ("адрес 2001:db8:85a3::8a2e:370:7334.", "адрес <IP>."),
        ("адрес 2001:0DB8:0000:0000:0008:0800:200C:417A", "адрес <IP>"),
        ("адрес ::ffff:192.0.2.1", "адрес <IP>"),
    ],
)
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
    "Заңның 5-бабы, 12-сынып, 2024 жылы, 45-бет, 3.1.2-тармақ.",
    "Сағат 12.30-да, 12-13 наурызда, 1-2 қазан аралығында.",
    "Статья 5, пункт 12, подпункт 3) закона от 12.03.2024 № 45-VIII, версия 2.4.1.",
    "Газета «Егемен Қазақстан» № 45 (30123), 12.03.2024, индекс 010000.",
    "iPhone 15 Pro Max 256 GB, Toyota Camry 70, Samsung S24 Ultra.",
    "Сот 2023 жылғы 5 мамырда шешім шығарды, іс № 2-1234/2023.",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_sentences_with_numbers_are_untouched(text):
    assert mask_pii(text) == (text, {})


# --- counts, overlaps, idempotence ----------------------------------------------------------------------
def test_counts_per_kind_in_a_mixed_document():
    text = (
        f"Өтініш иесі: ЖСН {IIN}, тел. +7 701 123 45 67, 8 (7172) 55-12-34, пошта a.b@mail.kz. "
        f"ЖШС БСН {BIN}, шот {IBAN}, карта 4111 1111 1111 1111, IP 10.20.30.40. 2024 жылғы 5 мамыр."
    )
    out, counts = mask_pii(text)
    assert counts == {"iin": 1, "phone": 2, "email": 1, "bin": 1, "iban": 1, "card": 1, "ip": 1}
    assert out == (
        "Өтініш иесі: ЖСН <IIN>, тел. <PHONE>, <PHONE>, пошта <EMAIL>. "
        "ЖШС БСН <BIN>, шот <IBAN>, карта <CARD>, IP <IP>. 2024 жылғы 5 мамыр."
    )


def test_counts_per_kind_for_the_identifier_kinds():
    text = (
        "Азамат, туған күні: 12.03.1985, жеке куәлік № 012345678, мекенжайы: Абай көшесі, 12-үй, 45-пәтер; "
        "автокөлігі 123 ABC 02. ЖСН 880 512 300 124, 2024 жылғы 5 мамыр."
    )
    out, counts = mask_pii(text)
    assert counts == {"dob": 1, "document": 1, "address": 2, "plate": 1, "iin": 1}
    assert out == (
        "Азамат, туған күні: <DATE_OF_BIRTH>, жеке куәлік № <DOCUMENT>, мекенжайы: Абай көшесі, "
        "<HOUSE>-үй, <HOUSE>-пәтер; автокөлігі <PLATE>. ЖСН <IIN>, 2024 жылғы 5 мамыр."
    )


def test_every_kind_has_a_placeholder():
    ev = _load_eval()
    assert set(PLACEHOLDERS) | {"person"} == set(ev.KINDS)  # person: kazllm.placeholders.PERSON, policy full
    assert all(
        p.startswith("<") and p.endswith(">") and not any(c.isdigit() for c in p)
        for p in PLACEHOLDERS.values()
    )


def test_overlapping_candidates_give_one_whole_placeholder():
    # digits of an e-mail's local part, a card or an IBAN never turn into a second, nested placeholder
    assert masked("87011234567@mail.ru") == "<EMAIL>"
    assert masked(f"{IIN}@mail.kz") == "<EMAIL>"
    assert masked("KZ86 125K ZT50 0410 0100") == "<IBAN>"
    spans = find_pii(f"тел. 8 701 123 45 67, ЖСН {IIN}, {IBAN}")
    assert [kind for _, _, kind in spans] == ["phone", "iin", "iban"]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_masking_is_idempotent():
    out, _ = mask_pii(
        f"ЖСН {IIN}, тел. 8 701 123 45 67, a@b.kz, {IBAN}, паспорт N12345678, 123 ABC 02, "
        "ул. Ленина, д. 5, кв. 12, родился 5 мая 1985 года"
    )
    assert out.count("<") == 9
    assert mask_pii(out) == (out, {})


def test_text_without_personal_data_is_returned_as_is():
    assert mask_pii("") == ("", {})
    assert mask_pii("Сәлем, әлем!") == ("Сәлем, әлем!", {})


@pytest.mark.parametrize(
    "text",
    [
        "@" * 200_000,
        "1234567890" * 20_000,
        "12 345 678 " * 20_000,
        "ab:cd:" * 40_000,
        "тел: " * 50_000,
        "(at) " * 50_000,
        "12-үй, " * 30_000,
        "ул. Ленина 5 " * 20_000,
        "1985 жылы туған " * 20_000,
        "123 ABC 02 " * 20_000,
        "5 мая " * 40_000,
        "паспорт " * 40_000 + "1234567",
        "1 " * 100_000,
        "1.2.3.4.5." * 20_000,
    ],
)
def test_pathological_inputs_stay_fast(text):
    start = time.perf_counter()
    mask_pii(text)
    assert time.perf_counter() - start < 5


# --- generated variants and look-alikes (scripts/eval_pii.py) -------------------------------------------
def test_recall_on_generated_variants_is_at_least_99_percent():
    ev = _load_eval()
    variants = ev.generate_variants(4400, seed=7)
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
@pytest.mark.parametrize(
    "name",
    [
        "ntrex128/newstest2019-ref.kaz.txt",
        "ntrex128/newstest2019-ref.rus.txt",
        "ntrex128/newstest2019-src.eng.txt",
        "text_mix/kk.txt",
        "text_mix/ru.txt",
        "text_mix/en.txt",
    ],
)
def test_real_news_text_is_changed_in_at_most_1_percent_of_lines(name):
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    report = _load_eval().real_text_report(path)
    assert report.fp_rate <= 0.01, report.false_positive_lines[:5]
