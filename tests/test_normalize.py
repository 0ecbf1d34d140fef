"""normalize: what each repair fixes, what it must leave alone, and that correct text is never changed.

Read top to bottom as the specification of data_prep/normalize.py; its Latin-script transliteration has its
own, tests/test_transliterate.py. The real-data checks at the end run when /work/shared/data is there and are
skipped otherwise.
"""

import time
import unicodedata
from pathlib import Path

import pytest

from data_prep import normalize as nz
from data_prep.normalize import normalize_text

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
NTREX = SHARED_DATA / "ntrex128"
KK_MIX = SHARED_DATA / "text_mix" / "kk.txt"

KK = (
    "Қазақстан Республикасы — Орталық Азиядағы мемлекет. Елордасы Астана қаласы. Халқы жиырма миллионнан "
    "асады. Мемлекеттік тілі қазақ тілі болып табылады. Елде көптеген ұлт өкілдері тату-тәтті өмір сүреді."
)
KK_2 = (
    "Бүгін таңертең ауа райы жылы болды, балалар мектепке жаяу барды. Әкем жаңа үй салып жатыр, ол "
    "қыркүйекте бітеді деп үміттенеміз. Ғалымдар өзен суының сапасын тексеріп, нәтижесін жариялады."
)
KK_3 = (
    "Абай Құнанбайұлы 1845 жылы Шыңғыстау өңірінде дүниеге келген. Оның «Қара сөздері» көп тілге аударылған."
)
RU = (
    "Республика Казахстан — государство в Центральной Азии. Столица — город Астана. Население превышает "
    "двадцать миллионов человек. Государственным языком является казахский язык."
)
EN = (
    "Kazakhstan is a country in Central Asia. Its capital is Astana and its population exceeds twenty "
    "million."
)
MIXED = (
    "Компания Apple iPhone 15 смартфонын 2023 жылы шығарды, толығырақ: https://www.apple.com/kz/iphone "
    "немесе support@apple.kz. Python-да print('Сәлем') деп жазыңыз; OKта, BBCдің, Wi-Fi, e-mail."
)


def _fixed(text: str, **kw) -> tuple[str, dict[str, int]]:
    return normalize_text(text, **kw)


# --------------------------------------------------------------------------------------------------------
# NFC, control characters, whitespace (the first layer, unchanged in spirit)
# --------------------------------------------------------------------------------------------------------


def test_nfc_composes_kazakh_letters_and_counts_it():
    text, repairs = _fixed(unicodedata.normalize("NFD", "Әйел және қыз, ғалым, өнер, үй, ұлт"))
    assert text == "Әйел және қыз, ғалым, өнер, үй, ұлт" and repairs == {"nfc": 1}


def test_control_characters_soft_hyphens_and_whitespace_are_cleaned():
    text, repairs = _fixed("\ufeffСәлем\x00  әлем\r\n\n\n\nжаңа\u00a0жол\t \nсөз\u00adдер  ")
    assert text == "Сәлем әлем\n\nжаңа жол\nсөздер"
    assert repairs == {"control_chars": 3, "whitespace": 1}


def test_windows_line_ends_count_as_a_whitespace_repair():
    assert _fixed("бір\r\nекі") == ("бір\nекі", {"whitespace": 1})


# --------------------------------------------------------------------------------------------------------
# Look-alike letters inside words of the other script
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("мемлекеттiк", "мемлекеттік"),  # Latin i for і: by far the most common case in real data
        ("Мәлiк", "Мәлік"),
        ("Iзтiлеуов", "Ізтілеуов"),
        ("Aстана", "Астана"),  # capitals A C K M T ...
        ("Cаяси", "Саяси"),
        ("Mоливуд", "Моливуд"),
        ("Kинопарк", "Кинопарк"),
        ("Tаза", "Таза"),
        ("кардиоxирургиялық", "кардиохирургиялық"),
        ("формалaры", "формалары"),
        ("ҚАЗАҚСТAН", "ҚАЗАҚСТАН"),
        ("жаhан", "жаһан"),  # h for һ
        ("бəрін", "бәрін"),  # Azerbaijani/IPA schwa for ә
        ("Əлпештеп", "Әлпештеп"),
        ("ɵнер", "өнер"),  # barred o, and Turkish-keyboard ö ü ä
        ("öмір", "өмір"),
        ("кüн", "күн"),
        ("сäлем", "сәлем"),
        ("ɏлт", "ұлт"),  # y with stroke for ұ
        ("Yлкен", "Үлкен"),  # capital Y opening a front-vowel word: Ү
        ("Yрал", "Урал"),  # ... and У elsewhere
        ("Yниверситет", "Университет"),  # ... and in a loan with и
        ("өpic", "өріс"),  # Cyrillic-led word with a Kazakh letter: even a Latin majority
        # A letter only Cyrillic has (я и ы, lower-case н м т) decides, however many Latin
        # look-alikes there are.
        ("caяcи", "саяси"),
        ("нeмece", "немесе"),
        ("epтe", "ерте"),
        ("ocы", "осы"),
        ("CAЯCИ", "САЯСИ"),  # all caps: more capitals are look-alikes (A B C E H K M O P T X)
        ("TEXHИKA", "ТЕХНИКА"),
    ],
)
def test_latin_lookalikes_in_cyrillic_words_become_cyrillic(typed, meant):
    text, repairs = _fixed(f"Мысал: {typed} сөзі.")
    assert text == f"Мысал: {meant} сөзі."
    assert repairs == {"latin_lookalikes": sum(a != b for a, b in zip(typed, meant))}


def test_a_sentence_typed_with_latin_lookalikes_is_repaired():
    typed = "Бұл caяcи мәceлe нeмece экoнoмикaлық cұpaқ eмec, ҚAЗAҚCТAH үшiн мaңызды."
    text, repairs = _fixed(typed)
    assert text == "Бұл саяси мәселе немесе экономикалық сұрақ емес, ҚАЗАҚСТАН үшін маңызды."
    assert repairs == {"latin_lookalikes": sum(a != b for a, b in zip(typed, text))}


def test_a_two_letter_tie_follows_the_script_of_the_document():
    assert _fixed("Eр адам келді.")[0] == "Ер адам келді."
    assert _fixed("Тo be or not to be.")[0] == "To be or not to be."


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("meіosіs", "meiosis"),  # a global i -> і replacement gone too far (KazQAD)
        ("transplantatіon", "transplantation"),
        ("(Dіploblastіca)", "(Diploblastica)"),
        # A letter only Latin has (r, s, lower-case k t b) decides, however many Cyrillic
        # look-alikes there are.
        ("Mаrket", "Market"),
        ("MАRKЕT", "MARKET"),  # all caps
        ("Qazaqstаn", "Qazaqstan"),  # Kazakh Latin (2021): q z n are Latin only
        ("СсВb", "CcBb"),  # genotype notation: b has no Cyrillic look-alike, so the word is Latin
    ],
)
def test_cyrillic_lookalikes_in_latin_words_become_latin(typed, meant):
    text, repairs = _fixed(f"Биологияда {typed} термині бар.")
    assert text == f"Биологияда {meant} термині бар." and set(repairs) == {"cyrillic_lookalikes"}


def test_roman_numerals_typed_with_both_scripts_become_latin():
    assert _fixed("ХVІІ ғасырда, XІX ғасырда") == ("XVII ғасырда, XIX ғасырда", {"roman_numerals": 4})


def test_roman_numerals_typed_all_in_cyrillic_are_left_alone():
    assert _fixed("ХХ ғасыр, ХІХ ғасыр") == ("ХХ ғасыр, ХІХ ғасыр", {})


@pytest.mark.parametrize(
    "text",
    [
        MIXED,
        "Commodoresте жаңа компьютер шықты.",  # Latin name + Kazakh ending (т is not a look-alike)
        "USAға, ACEге, iPhone-ның, SMS-хабар.",  # abbreviations with endings, hyphenated forms
        "iPhoneның, Googleса",  # glued endings: letters only one script has on both sides,
        # or an ending of look-alikes after a Latin word (Googleса)
        "COVID-19-ға қарсы вакцина",
        "https://kk.wikipedia.org/wiki/Қазақстан_Республикасы сілтемесі",
        "def санау(x): return len(x) # сан",
        "кохаϵмо",  # a Greek letter: a third script, not ours to judge
        "x = 5 және y = 3 болса, x + y = 8.",  # single letters are words of their own
    ],
)
def test_deliberate_mixtures_and_all_latin_words_are_left_alone(text):
    assert _fixed(text) == (text, {})


# --------------------------------------------------------------------------------------------------------
# Letters of other Cyrillic alphabets standing in for Kazakh ones
# --------------------------------------------------------------------------------------------------------


def test_variant_letters_in_a_kazakh_document_become_kazakh():
    text, repairs = _fixed(f"{KK} Ӏлияс Есенберлин Башҡортостан туралы жазды. Ѳнер мен ӧнер.")
    assert text.endswith("Ілияс Есенберлин Башқортостан туралы жазды. Өнер мен өнер.")
    assert repairs == {"variant_letters": 4}


@pytest.mark.parametrize(
    "text",
    [
        # Bashkir: ҡ is its own letter, and the document has no қ
        "Башҡортостан Республикаһы — Рәсәй Федерацияһы субъекты. Ҡала халҡы күп.",
        # Tajik: ӯ is its own letter
        "Тоҷикистон кишвари кӯҳсор аст. Дар он мардуми зиёд зиндагӣ мекунанд.",
        # Chechen: the palochka is a letter
        "ДӀа хӀоттийна дош.",
    ],
)
def test_variant_letters_are_left_alone_in_their_own_languages(text):
    assert _fixed(text) == (text, {})


# --------------------------------------------------------------------------------------------------------
# Legacy 8-bit Kazakh encodings (KZ-1048, PT154) shown as Windows-1251
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "codec"), [(nz._KZ1048_AS_CP1251, "kz1048"), (nz._PT154_AS_CP1251, "ptcp154")]
)
def test_legacy_tables_are_the_codecs_differences_from_windows_1251(table, codec):
    for shown, letter in table.items():
        assert shown.encode("cp1251").decode(codec) == letter
    kazakh = "әғқңөұүһӘҒҚҢӨҰҮҺ"
    expected = {k.encode(codec).decode("cp1251"): k for k in kazakh}
    assert table == expected


@pytest.mark.parametrize("codec", ["kz1048", "ptcp154"])
@pytest.mark.parametrize("original", [KK, KK_2, f"{KK_3} {KK}"])
def test_a_document_in_a_legacy_layout_gets_its_kazakh_letters_back(codec, original):
    garbled = original.encode(codec).decode("cp1251")
    assert garbled != original
    text, repairs = _fixed(garbled)
    assert text == original
    assert repairs == {"legacy_encoding": sum(a != b for a, b in zip(garbled, original))}


def test_legacy_e_is_told_apart_by_vowel_harmony_when_only_shared_characters_occur():
    # є is ә in PT154 and ғ in KZ-1048; no other layout-specific character here.
    assert (
        _fixed("Мєміле жасалды, ќазір барлыќ єріптестер ќол ќойды. Бізде бєрі ќалыпты.")[0]
        == "Мәміле жасалды, қазір барлық әріптестер қол қойды. Бізде бәрі қалыпты."
    )
    assert (
        _fixed("Миллиондаєан адамдар ќаладан ќашты. Ќазаќтардыѕ саны єасырда ґсті.")[0]
        == "Миллиондаған адамдар қаладан қашты. Қазақтардың саны ғасырда өсті."
    )


@pytest.mark.parametrize(
    "text",
    [
        # Ukrainian: ї є ґ are its letters (and it has no ы)
        "Україна є незалежною державою. Її столиця — Київ, а ґрунти родючі.",
        # Serbian and Macedonian: ј ћ ђ џ ќ ѓ ѕ are theirs
        "Београд је главни град Србије. Ћирилица и ђак, џеп.",
        "Македонија е држава. Ќерка, ѓавол, ѕвезда, јаболко.",
        # Belarusian: ы and ў, but ў is its only character in the tables
        "Беларусь — краіна ва Усходняй Еўропе. Ўсе ведаюць мову, мы ўдзельнічалі.",
        # Russian quoting Ukrainian: ы and several legacy characters, but far too few of them
        f"{RU} Он процитировал: «Україна є, її ґрунти родючі». {RU}",
        # a Kazakh document with a stray legacy character: it has the real letters, so it is Unicode already
        f"{KK} Бұқар жыраудың баїадүр туралы толғауы.",
    ],
)
def test_legacy_repair_leaves_real_letters_of_other_languages_alone(text):
    assert _fixed(text) == (text, {})


# --------------------------------------------------------------------------------------------------------
# Correct text is never changed
# --------------------------------------------------------------------------------------------------------

CORRECT = [
    KK,
    KK_2,
    KK_3,
    RU,
    EN,
    MIXED,
    "Шаһар, жиһаз, гауһар, Аллаһ — һ әрпі бар сөздер. Үкімет, ұлттық, өнер, ғылым, әлем, ң.",
    "Ол «Алаш» партиясының мүшесі болды (1917–1920 ж.ж.), кейін ҚазМУ-да сабақ берді.",
    "Формула: E = mc², температура 25 °C, қысым 101,3 кПа; ХХ ғасыр; №5 мектеп; 3,5 млн теңге.",
    "Москва — столица России, а Санкт-Петербург — «северная столица». Ёлка, съезд, объявление.",
    "The Kazakh words «Қазақстан» and «Астана» are written in Cyrillic; Nur-Sultan was renamed in 2022.",
    "def greet(name): return f'Сәлем, {name}!' # код",
]


@pytest.mark.parametrize("text", CORRECT)
@pytest.mark.parametrize("transliterate", [False, True])
def test_correct_text_is_returned_unchanged_with_no_repairs(text, transliterate):
    assert _fixed(text, transliterate_latin=transliterate) == (text, {})


def test_normalisation_is_idempotent():
    # Transliterated Latin-script documents: tests/test_transliterate.py
    for text in [*CORRECT, "Мәлiк Aстана", KK.encode("kz1048").decode("cp1251")]:
        once = _fixed(text, transliterate_latin=True)[0]
        assert _fixed(once, transliterate_latin=True) == (once, {})


def test_fast_on_clean_kazakh_text():
    docs = [" ".join([KK, KK_2, KK_3, RU] * 6)] * 400  # ~1.2 MB in 400 documents of ~3 KB
    size = sum(len(d.encode()) for d in docs)
    start = time.perf_counter()
    for d in docs:
        normalize_text(d)
    rate = size / (time.perf_counter() - start) / 1e6
    assert rate > 2, f"{rate:.1f} MB/s"  # ~30 MB/s on one core when measured; 2 leaves room for a busy host


# --------------------------------------------------------------------------------------------------------
# Real data (skipped when /work/shared/data is absent)
# --------------------------------------------------------------------------------------------------------

# Every change normalisation may make to real text, as (typed, meant) character pairs.
LOOKALIKE_PAIRS = {
    *nz._LATIN_TO_CYRILLIC.items(),
    *nz._CYRILLIC_TO_LATIN.items(),
    *nz._ROMAN_CYRILLIC.items(),
    *nz._VARIANTS.items(),
    ("Y", "Ү"),
    ("Ӏ", "і"),
}
LOOKALIKE_KINDS = {"latin_lookalikes", "cyrillic_lookalikes", "roman_numerals", "variant_letters"}


def _changes(path: Path, limit: int) -> tuple[int, list[tuple[str, str, dict[str, int]]]]:
    lines = path.read_text(encoding="utf-8").split("\n")[:limit]
    changed = []
    for line in lines:
        out, repairs = normalize_text(line, transliterate_latin=True)
        if out.split() != line.split():  # whitespace differences do not count
            changed.append((line, out, repairs))
    return len(lines), changed


def _changed_words(changed) -> list[tuple[str, str]]:
    pairs = []
    for line, out, _ in changed:
        a, b = line.split(), out.split()
        assert len(a) == len(b), (line, out)
        pairs += [(x, y) for x, y in zip(a, b) if x != y]
    return pairs


def _only_lookalike_changes(line: str, out: str) -> bool:
    """Whether `out` differs from `line` only by look-alike letters and removed control characters."""
    line = nz._CONTROL.sub("", line)
    return len(line.split()) == len(out.split()) and all(
        len(x) == len(y) and all(a == b or (a, b) in LOOKALIKE_PAIRS for a, b in zip(x, y))
        for x, y in zip(line.split(), out.split())
    )


@pytest.mark.skipif(not NTREX.is_dir(), reason="NTREX-128 not in shared/data")
def test_ntrex_references_are_unchanged_but_for_three_true_lookalike_repairs():
    total, changed = _changes(NTREX / "newstest2019-ref.kaz.txt", 10_000)
    for line, out, repairs in changed:
        print(repairs, line, "->", out, sep="\n  ")
    # All three are Latin capitals typed for Cyrillic ones at the start of a word.
    assert _changed_words(changed) == [
        ("“Mоливуд”", "“Моливуд”"),
        ("Cүтсорғышты", "Сүтсорғышты"),
        ("Cаяси", "Саяси"),
    ]
    assert all(repairs == {"latin_lookalikes": 1} for _, _, repairs in changed)
    for name in ("newstest2019-ref.rus.txt", "newstest2019-src.eng.txt"):
        total, changed = _changes(NTREX / name, 10_000)
        assert changed == [] and total > 1900, (name, changed[:5])


@pytest.mark.skipif(not KK_MIX.is_file(), reason="text_mix not in shared/data")
def test_kazakh_corpus_text_is_unchanged_but_for_lookalike_repairs():
    total, changed = _changes(KK_MIX, 5000)
    for line, out, repairs in changed:
        print(repairs, line, "->", out, sep="\n  ")
    assert len(changed) <= 0.002 * total
    assert all(set(repairs) <= LOOKALIKE_KINDS | {"control_chars", "whitespace"} for _, _, repairs in changed)
    assert all(_only_lookalike_changes(line, out) for line, out, _ in changed)


@pytest.mark.skipif(not KK_MIX.is_file(), reason="text_mix not in shared/data")
def test_every_lookalike_repair_in_the_whole_kazakh_corpus_is_a_true_one():
    # Seen in the whole file: мемлекеттiк, Aстана, жаhан, бəрін, өpic, meіosіs, ХV, Ӏлияс ... (~35 lines).
    total, changed = _changes(KK_MIX, 100_000)
    lookalike = [(line, out) for line, out, repairs in changed if set(repairs) & LOOKALIKE_KINDS]
    assert 20 <= len(lookalike) <= 0.005 * total
    assert all(_only_lookalike_changes(line, out) for line, out in lookalike)


@pytest.mark.skipif(not NTREX.is_dir(), reason="NTREX-128 not in shared/data")
@pytest.mark.parametrize("language", ["ukr", "bel", "bak", "tat", "kir", "tur", "uzb"])
def test_neighbouring_languages_get_no_legacy_variant_or_latin_repairs(language):
    total, changed = _changes(NTREX / f"newstest2019-ref.{language}.txt", 10_000)
    for line, out, repairs in changed:
        print(repairs, line, "->", out, sep="\n  ")
    # Their texts do have a few true look-alike slips (Рi, ЕC, cүз, Уэльc, сhalkash); nothing else changes.
    assert len(changed) <= 0.01 * total
    allowed = {"latin_lookalikes", "cyrillic_lookalikes", "whitespace"}
    assert all(set(repairs) <= allowed for _, _, repairs in changed)
    assert all(_only_lookalike_changes(line, out) for line, out, _ in changed)


@pytest.mark.skipif(not NTREX.is_dir(), reason="NTREX-128 not in shared/data")
@pytest.mark.parametrize("codec", ["kz1048", "ptcp154"])
def test_real_kazakh_documents_in_legacy_layouts_are_restored_exactly(codec):
    text = (NTREX / "newstest2019-ref.kaz.txt").read_text("utf-8")
    lines = [normalize_text(x)[0] for x in text.split("\n")]
    lines = [x for x in lines if x and x.encode(codec, errors="replace").decode(codec) == x]
    docs = ["\n".join(lines[i : i + 10]) for i in range(0, len(lines), 10)]
    for doc in docs:
        assert normalize_text(doc.encode(codec).decode("cp1251"))[0] == doc
