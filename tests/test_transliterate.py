"""Latin-script Kazakh (data_prep.transliterate): each of the four alphabets is detected and written back in
Cyrillic, other languages written in Latin letters are never taken for it, and normalize_text applies it only
when asked. The real-data checks at the end run when /work/shared/data is there and are skipped otherwise.
"""

import re

import pytest

from data_prep.normalize import normalize_text
from data_prep.transliterate import cyrillic_to_latin, detect_latin_kazakh, is_latin_kazakh, latin_to_cyrillic
from tests.test_normalize import EN, KK, KK_2, KK_3, KK_MIX, NTREX, RU, SHARED_DATA

# The same text in the four alphabets (cyrillic_to_latin writes the decree tables letter by letter).
LATIN_SAMPLES = {
    "2017": "Qazaqstan Respy'blikasy — Ortalyq Aziiadag'y memleket. Bu'gi'n ku'n jyly boldy, balalar barady.",
    "2018": "Qazaqstan Respýblıkasy — Ortalyq Azııadaǵy memleket. Búgin kún jyly boldy, balalar barady.",
    "2021": "Qazaqstan Respublikasy — Ortalyq Aziiadağy memleket. Bügın kün jyly boldy, balalar barady.",
    "wiki": "Qazaqstan Respwblïkası — Ortalıq Azïyadağı memleket. Bügin kün jılı boldı, balalar baradı.",
}


LATIN_MEANT = "Қазақстан Республикасы — Орталық Азиядағы мемлекет. Бүгін күн жылы болды, балалар барады."


@pytest.mark.parametrize("scheme", list(LATIN_SAMPLES))
def test_latin_kazakh_is_detected_with_its_alphabet_and_transliterated(scheme):
    latin = LATIN_SAMPLES[scheme]
    assert cyrillic_to_latin(LATIN_MEANT, scheme) == latin
    assert detect_latin_kazakh(latin) == scheme and is_latin_kazakh(latin)
    assert latin_to_cyrillic(latin) == LATIN_MEANT


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("Qazaqstan Respýblıkasy", "Қазақстан Республикасы"),  # 2018
        ("Qazaqstan Respwblïkası", "Қазақстан Республикасы"),  # Kazakh Wikipedia
        # Wikipedia's 2021 sample (Kazakh alphabets article), with һ restored in шаһар
        (
            "Būryñğy ötken zamanda, bır danyşpan kısı, "
            "Bağdat şaharynyñ bır ülken qazysynyñ üiıne kelıp qonypty.",
            "Бұрыңғы өткен заманда, бір данышпан кісі, "
            "Бағдат шаһарының бір үлкен қазысының үйіне келіп қоныпты.",
        ),
        ("QAZAQSTAN RESPÝBLIKASY", "ҚАЗАҚСТАН РЕСПУБЛИКАСЫ"),  # capitals, dotless I by the next letter
        ("Iá, Ilııas keldi. Ishki isterdi qarady.", "Иә, Ілияс келді. Ішкі істерді қарады."),
        (
            "Ońtústik Qazaqstanda aýyl sharýashylyǵy damyǵan.",
            "Оңтүстік Қазақстанда ауыл шаруашылығы дамыған.",
        ),
    ],
)
def test_latin_kazakh_examples(latin, cyrillic):
    assert is_latin_kazakh(latin)
    assert latin_to_cyrillic(latin) == cyrillic


def test_the_brief_example_with_u_for_u_is_detected():
    # ï and ı are the Wikipedia alphabet's, where u is ұ and у is w; this short text cannot say otherwise.
    assert detect_latin_kazakh("Qazaqstan Respublïkası") == "wiki"


def test_urls_emails_and_foreign_words_stay_latin_when_transliterating():
    latin = "Qazaqstan Respýblıkasy týraly aqparat: https://gov.kz/p?q=1 , info@akorda.kz , Twitter jelisi."
    assert latin_to_cyrillic(latin) == (
        "Қазақстан Республикасы туралы ақпарат: https://gov.kz/p?q=1 , info@akorda.kz , Twitter желісі."
    )


def test_normalize_transliterates_only_when_asked_and_counts_words():
    latin = LATIN_SAMPLES["2021"]
    assert normalize_text(latin) == (latin, {})
    assert normalize_text(latin, transliterate_latin=True) == (LATIN_MEANT, {"latin_kazakh": 11})


@pytest.mark.parametrize(
    "text",
    [
        EN,
        "Iraq and Qatar signed a deal; the Al-Qaeda threat was discussed in Qom and Qinghai.",
        "I don't think it's John's car, it's the neighbours' one.",
        "Türkiye'nin başkenti Ankara'dır ve en büyük şehri İstanbul'dur; çok güzel bir ülke.",  # Turkish
        "Oʻzbekiston Respublikasi poytaxti Toshkent shahri, aholisi qariyb oʻttiz besh million.",  # Uzbek
        "O'zbekiston Respublikasi poytaxti Toshkent shahri, ma'lumotlarga qaraganda aholisi ko'p.",
        "Azərbaycan Respublikasının paytaxtı Bakı şəhəridir, qədim tarixi var.",  # Azerbaijani
        "El niño comió una manzana en la mañana, y después salió con su padre.",  # Spanish
        "Der Bär läuft über die Straße, und die Kühe schauen zu.",  # German
        "Praha je hlavní město České republiky, řeka Vltava protéká městem.",  # Czech
        KK,
        RU,
    ],
)
def test_other_languages_are_not_latin_kazakh(text):
    assert not is_latin_kazakh(text)
    assert normalize_text(text, transliterate_latin=True)[0] == normalize_text(text)[0]


@pytest.mark.parametrize("scheme", ["2017", "2018", "2021", "wiki"])
def test_native_kazakh_words_round_trip_through_every_alphabet(scheme):
    for text in (KK, KK_2, KK_3):
        native = re.sub(r"\S*[цщъьэюяёЦЩЪЬЭЮЯЁ]\S*", "", text)  # Russian loans are not recoverable
        assert latin_to_cyrillic(cyrillic_to_latin(native, scheme), scheme) == native


@pytest.mark.parametrize("scheme", list(LATIN_SAMPLES))
def test_normalising_a_transliterated_document_again_changes_nothing(scheme):
    once = normalize_text(LATIN_SAMPLES[scheme], transliterate_latin=True)[0]
    assert normalize_text(once, transliterate_latin=True) == (once, {})


# --------------------------------------------------------------------------------------------------------
# Real data (skipped when /work/shared/data is absent)
# --------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not NTREX.is_dir(), reason="NTREX-128 not in shared/data")
def test_no_english_turkish_or_uzbek_line_is_taken_for_latin_kazakh():
    for name in ("newstest2019-src.eng.txt", "newstest2019-ref.tur.txt", "newstest2019-ref.uzb.txt"):
        text = (NTREX / name).read_text("utf-8")
        ascii_apostrophes = text.replace("ʻ", "'").replace("ʼ", "'")  # Uzbek as often typed
        for t in (text, ascii_apostrophes):
            assert [line for line in t.split("\n") if is_latin_kazakh(line)] == [], name
            assert not is_latin_kazakh(t)
    en = SHARED_DATA / "text_mix" / "en.txt"
    if en.is_file():
        assert [line for line in en.read_text("utf-8").split("\n") if is_latin_kazakh(line)] == []


@pytest.mark.skipif(not KK_MIX.is_file(), reason="text_mix not in shared/data")
@pytest.mark.parametrize("scheme", ["2017", "2018", "2021", "wiki"])
def test_real_kazakh_text_in_each_latin_alphabet_is_detected_and_transliterated_back(scheme):
    lines = [x for x in KK_MIX.read_text("utf-8").split("\n")[:3000] if len(x.split()) >= 10]
    detected = wrong = 0
    words = right = 0
    for line in lines:
        latin = cyrillic_to_latin(line, scheme)
        found = detect_latin_kazakh(latin)
        detected += found == scheme
        wrong += found not in (None, scheme)
        for a, b in zip(line.split(), latin_to_cyrillic(latin, scheme).split()):
            if not re.search("[цщъьэюяёЦЩЪЬЭЮЯЁ]", a):  # loan-word letters are written as sounds
                words += 1
                right += a == b
    # A line without q (the Kazakh қ) is not detected: ~15% of one-sentence lines; documents always are.
    assert detected >= 0.75 * len(lines) and wrong <= 0.01 * len(lines)
    assert right >= 0.995 * words
    document = cyrillic_to_latin("\n".join(lines[:100]), scheme)
    assert detect_latin_kazakh(document) == scheme
