"""Assemble the bundled sample corpus (data/sample/corpus/) from the team-written texts.

    python scripts/build_sample_corpus.py

Input: data/sample/written/*.txt (documents separated by a line `@@@`, first line a title).
Output, deterministic for a given input:
    corpus/jsonl/kk_<topic>.jsonl   Kazakh documents as JSONL (id, text, url, date)
    corpus/jsonl/web_mixed.jsonl    Russian and English documents, exact duplicates (also with other
                                    case/spacing), near duplicates, junk, one broken JSON line and one
                                    record without text: work for every prep filter
    corpus/kk_literature.txt        plain text, documents split by `@@@`
    corpus/official/*.txt           one state document per file, plus one binary file to quarantine
    eval/heldout_kk.txt             held-out Kazakh text for perplexity (never in the corpus)
PII-like strings (emails, +7 phones, IINs with valid checksums) are synthetic and inserted into a
share of the Kazakh documents.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
WRITTEN, CORPUS = SAMPLE / "written", SAMPLE / "corpus"
rng = random.Random(2026)


def read_docs(name: str) -> list[str]:
    text = (WRITTEN / f"{name}.txt").read_text(encoding="utf-8")
    return [d.strip() for d in text.split("\n@@@\n") if d.strip()]


def iin(birth: str, gender_digit: int) -> str:
    """A synthetic IIN (YYMMDD + gender/century digit + 4 serial digits + check digit)
    with a valid checksum."""
    while True:
        body = [int(c) for c in birth] + [gender_digit] + [rng.randrange(10) for _ in range(4)]
        check = sum(w * d for w, d in zip(range(1, 12), body)) % 11
        if check == 10:
            check = sum(w * d for w, d in zip([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2], body)) % 11
        if check != 10:
            return "".join(map(str, body)) + str(check)


def phone() -> str:
    op = rng.choice(["701", "702", "705", "707", "747", "771", "775", "778"])
    d = [rng.randrange(10) for _ in range(7)]
    a, b, c = "".join(map(str, d[:3])), "".join(map(str, d[3:5])), "".join(map(str, d[5:]))
    return rng.choice(
        [f"+7 {op} {a} {b} {c}", f"8 ({op}) {a}-{b}-{c}", f"+7{op}{a}{b}{c}", f"8-{op}-{a}-{b}-{c}"]
    )


def email() -> str:
    user = rng.choice(["aigerim.s", "nurlan_88", "info", "kense", "baurzhan.t", "press", "dana.k"])
    return f"{user}@{rng.choice(['mail.kz', 'example.kz', 'akimat-example.gov.kz', 'inbox.kz'])}"


def pii_sentence() -> str:
    templates = [
        "Толық ақпарат алу үшін {phone} нөміріне хабарласыңыз немесе {email} поштасына жазыңыз.",
        "Өтініш берушінің ЖСН: {iin}, байланыс телефоны: {phone}.",
        "Сұрақтарыңызды {email} электрондық поштасына жіберуге болады.",
        "Жауапты маман: телефон {phone}, электрондық пошта {email}.",
        "Құжатқа азаматтың ЖСН {iin} нөмірі көрсетілген.",
    ]
    return rng.choice(templates).format(
        phone=phone(),
        email=email(),
        iin=iin(f"{rng.randrange(60, 99)}0{rng.randrange(1, 10)}1{rng.randrange(0, 9)}", rng.choice([3, 4])),
    )


def with_pii(doc: str) -> str:
    paragraphs = doc.split("\n\n")
    paragraphs.insert(rng.randrange(1, len(paragraphs) + 1), pii_sentence())
    return "\n\n".join(paragraphs)


def near_duplicate(doc: str) -> str:
    """The same document with a few words swapped: exact dedup misses it (MinHash will catch it)."""
    words = doc.split(" ")
    for _ in range(3):
        i = rng.randrange(len(words))
        words[i] = rng.choice(["және", "жаңа", "үлкен", "бүгін"])
    return " ".join(words)


JUNK = [
    "Басты бет | Жаңалықтар | Біз туралы | Байланыс | Іздеу\n"
    "Басты бет | Жаңалықтар | Біз туралы | Байланыс | Іздеу\n"
    "© 2024 Барлық құқықтар қорғалған",
    "Кіру\nТіркелу\nҚұпиясөзді ұмыттыңыз ба?\nКіру\nТіркелу\nҚұпиясөзді ұмыттыңыз ба?",
    "12 345 678 910 11 12 13 14 15 16 17 18 19 20 "
    "21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40",
    "Жарнама",
    "Ð¢Ñ–Ð»Ñ– Ð±Ñ–Ñ€ ÐµÐ»Ð´Ñ–Ò£ Ð¶Ð°Ð½Ñ‹ Ð¶Ó™Ð½Ðµ ÐºÓ©Ð½Ñ–Ð»Ñ–",
    "http://example.kz/a http://example.kz/b http://example.kz/c http://example.kz/d",
    "Бағасы: 2500 тг\nБағасы: 2500 тг\nБағасы: 2500 тг\nБағасы: 2500 тг\nБағасы: 2500 тг",
    "ок",
    "",
]


def record(source: str, i: int, text: str) -> dict:
    day = 1 + (i * 7) % 28
    return {
        "id": f"{source}-{i:03d}",
        "text": text,
        "url": f"https://example.kz/{source}/{i}",
        "date": f"2025-03-{day:02d}",
    }


def write_jsonl(path: Path, records: list[dict], extra_lines: list[str] = ()) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    shutil.rmtree(CORPUS, ignore_errors=True)
    (CORPUS / "jsonl").mkdir(parents=True)
    (CORPUS / "official").mkdir()

    kazakh_jsonl: dict[str, list[dict]] = {}
    # Every other kk_<topic>.txt becomes a JSONL source (news, culture, science, everyday, ...).
    special = {"kk_literature", "kk_official", "kk_heldout"}
    topics = sorted(p.stem[3:] for p in WRITTEN.glob("kk_*.txt") if p.stem not in special)
    for topic in topics:
        docs = read_docs(f"kk_{topic}")
        recs = [
            record(f"kk_{topic}", i, with_pii(d) if rng.random() < 0.12 else d) for i, d in enumerate(docs)
        ]
        kazakh_jsonl[topic] = recs
        write_jsonl(CORPUS / "jsonl" / f"kk_{topic}.jsonl", recs)

    all_kk = [r for recs in kazakh_jsonl.values() for r in recs]
    mixed = [record("web_ru", i, d) for i, d in enumerate(read_docs("ru_docs"))]
    mixed += [record("web_en", i, d) for i, d in enumerate(read_docs("en_docs"))]
    for i, src in enumerate(rng.sample(all_kk, 14)):  # exact copies, some with other case and spacing
        text = src["text"] if i % 2 else src["text"].upper().replace(" ", "  ")
        mixed.append(record("web_copy", i, text))
    for i, src in enumerate(rng.sample(all_kk, 8)):
        mixed.append(record("web_near", i, near_duplicate(src["text"])))
    mixed += [record("web_junk", i, text) for i, text in enumerate(JUNK)]
    rng.shuffle(mixed)
    broken = [
        '{"id": "web-broken-1", "text": "Бұл жол жартылай жазылып қалған',
        '{"id": "web-notext-1", "body": "мәтін өрісі жоқ"}',
    ]
    write_jsonl(CORPUS / "jsonl" / "web_mixed.jsonl", mixed, broken)

    literature = read_docs("kk_literature")
    literature = [with_pii(d) if rng.random() < 0.05 else d for d in literature]
    (CORPUS / "kk_literature.txt").write_text("\n@@@\n".join(literature) + "\n", encoding="utf-8")

    for i, doc in enumerate(read_docs("kk_official")):
        doc = with_pii(doc) if rng.random() < 0.3 else doc
        (CORPUS / "official" / f"state_doc_{i:03d}.txt").write_text(doc + "\n", encoding="utf-8")
    (CORPUS / "official" / "scan_broken.txt").write_bytes(
        bytes(rng.randrange(256) for _ in range(512)) + b"\x00"
    )

    heldout = read_docs("kk_heldout")
    (SAMPLE / "eval" / "heldout_kk.txt").write_text("\n@@@\n".join(heldout) + "\n", encoding="utf-8")

    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    print(f"corpus: {total / 1024:.0f} KiB in {sum(1 for p in CORPUS.rglob('*') if p.is_file())} files")


if __name__ == "__main__":
    main()
