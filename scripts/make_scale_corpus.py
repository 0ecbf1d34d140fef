"""A seeded corpus of realistic, distinct Kazakh documents at any size, with planted duplicates, PII and junk.

    python scripts/make_scale_corpus.py --out runs/scale/1gb --size-gb 1 [--seed 0]

Scale runs (scripts/bench_scale.py) need gigabytes of Kazakh text that behave like a crawl, reproducibly and
without shipping data. Documents are recombined at sentence level from the Kazakh text in ../shared
(text_mix/kk.txt: KazNERD, UD-KTB, KazQAD passages, NTREX, WMT19 sentences; `--data` for another folder
with a kk.txt): each document draws 4-60 sentences, so two documents share almost no 5-gram and every one
is distinct. Then, by seeded shares of the documents:

    exact duplicates  a copy of an earlier document, byte for byte                    (--exact-dups)
    near duplicates   an earlier document with words replaced until the Jaccard similarity of the
                      two documents' word 5-gram sets falls to a chosen level         (--near-dups, --jaccard)
    PII               a sentence with an IIN, a phone number, an e-mail or a person's name added
                      (the generators of scripts/eval_pii.py)                         (--pii)
    junk              Russian or English text, a menu of navigation links, one line repeated, a few
                      words, a run of symbols                                         (--junk)

Writes to --out: corpus/part_NNNNN.jsonl shards ({"id", "text"} a line, --shard-mb each; point prep.inputs
at corpus/), truth.jsonl (one line per
planted document: its id, kind, the document it copies and the measured Jaccard), and manifest.json (the
arguments, counts per kind, bytes, and the sha256 of the source text), so a rerun with the same arguments
writes the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "text_mix"
sys.path.insert(0, str(REPO))

SHINGLE = 5  # word n-gram size of the Jaccard measure: the MinHash shingles of prep (prep.dedup.ngram)
_WORD = re.compile(r"\w+")
# KazNERD-style text puts spaces around punctuation; documents read as written text
_SPACE_BEFORE = re.compile(r" ([,.!?:;»)”])")
_SPACE_AFTER = re.compile(r"([«(“]) ")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[«\"(“]?[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ])")
JUNK_KINDS = ("foreign", "menu", "repeated_line", "few_words", "symbols")
MENU = [
    "Басты бет",
    "Жаңалықтар",
    "Біз туралы",
    "Байланыс",
    "Кіру",
    "Тіркелу",
    "Іздеу",
    "Мұрағат",
    "Қызметтер",
    "Жарнама",
    "Сайт картасы",
    "Құпиялық саясаты",
    "RSS",
    "Facebook",
    "Instagram",
    "Telegram",
]


@dataclass
class Shares:
    """What share of the documents is of each planted kind (the rest are plain recombined documents)."""

    exact_dups: float = 0.03
    near_dups: float = 0.03
    pii: float = 0.05
    junk: float = 0.05
    jaccard: tuple[float, ...] = (0.95, 0.9, 0.85, 0.8)  # near duplicates are spread over these levels


@dataclass
class Counts:
    documents: int = 0
    bytes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, text: str) -> None:
        self.documents += 1
        self.bytes += len(text.encode("utf-8"))
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


def read_sentences(path: Path) -> list[str]:
    """Distinct sentences of a one-text-per-line file, detokenised, of 6 to 60 words. Lines that hold a
    whole passage (KazQAD contexts) are split into their sentences: a passage drawn into two documents
    would make them near duplicates that nobody planted."""
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text = _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", " ".join(line.split())))
        for sentence in _SENTENCE_END.split(text):
            if 6 <= len(_WORD.findall(sentence)) <= 60:
                seen.setdefault(sentence, None)
    return list(seen)


def shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_duplicate(text: str, target: float, vocabulary: list[str], rng: random.Random) -> tuple[str, float]:
    """`text` with words replaced by random vocabulary words until its word 5-gram Jaccard similarity to
    the original is at or just above `target`; returns the copy and the similarity it has."""
    original = shingles(text)
    tokens = re.split(r"(\w+)", text)  # words at odd indices, what lies between them at even ones
    words = list(range(1, len(tokens), 2))
    rng.shuffle(words)
    copy, similarity, done = tokens, 1.0, 0
    step = max(1, len(words) // 200)  # a few edits at a time: each replaced word changes up to 5 shingles
    while similarity > target and done < len(words):
        # one word at a time near the target, and the edit that would cross it undone: a copy lands at or
        # just above its level, so a pair planted at 0.8 is one of similarity >= 0.8
        n = step if similarity - target > 0.06 else 1
        before = [(i, copy[i]) for i in words[done : done + n]]
        for i, _ in before:
            copy[i] = rng.choice(vocabulary)
        done += n
        now = jaccard(original, shingles("".join(copy)))
        if now < target and n == 1:
            copy[before[0][0]] = before[0][1]
            break
        similarity = now
    return "".join(copy), similarity


class Generator:
    def __init__(self, sentences: list[str], foreign: list[str], shares: Shares, seed: int):
        from scripts.eval_pii import Gen, person_variant

        self.sentences, self.foreign, self.shares = sentences, foreign, shares
        self.rng = random.Random(seed)
        self.pii_gen, self.person = Gen(seed + 1), person_variant
        self.vocabulary = sorted({w for s in sentences[:20000] for w in _WORD.findall(s) if w.isalpha()})
        self.recent: list[tuple[str, str]] = []  # (id, text) of earlier plain documents, copied by duplicates

    def plain(self) -> str:
        r = self.rng
        n = min(60, max(4, int(r.lognormvariate(2.8, 0.6))))
        sentences = r.choices(self.sentences, k=n)
        # paragraphs of 1-6 sentences, as articles are written
        paragraphs, i = [], 0
        while i < n:
            k = r.randint(1, 6)
            paragraphs.append(" ".join(sentences[i : i + k]))
            i += k
        return "\n\n".join(paragraphs)

    def pii_sentence(self) -> tuple[str, str]:
        g, r = self.pii_gen, self.rng
        kind = r.choice(("iin", "phone", "email", "person"))
        if kind == "iin":
            return kind, f"Өтініш берушінің ЖСН: {g.iin()}."
        if kind == "phone":
            return kind, f"Анықтама үшін телефон: {g.phone()[1]}."
        if kind == "email":
            return kind, f"Хатты {g.email()[1]} мекенжайына жіберіңіз."
        return kind, f"Құжатқа {self.person(g)[2]} қол қойды."

    def junk(self) -> tuple[str, str]:
        r = self.rng
        kind = r.choice(JUNK_KINDS)
        if kind == "foreign":
            text = "\n".join(r.choices(self.foreign, k=r.randint(5, 30)))
        elif kind == "menu":
            text = "\n".join(" | ".join(r.sample(MENU, 6)) for _ in range(r.randint(3, 12)))
        elif kind == "repeated_line":
            text = "\n".join([r.choice(self.sentences)] * r.randint(8, 30))
        elif kind == "few_words":
            text = " ".join(r.choice(self.sentences).split()[: r.randint(1, 5)])
        else:
            text = "".join(r.choice("#*=+-_/|~<>[]{}0123456789 ") for _ in range(r.randint(40, 400)))
        return f"junk:{kind}", text

    def document(self, doc_id: str) -> tuple[str, dict | None]:
        """(text, truth row or None for a plain document)."""
        r, s = self.rng, self.shares
        roll = r.random()
        if self.recent and roll < s.exact_dups:
            of, text = r.choice(self.recent)
            return text, {"id": doc_id, "kind": "exact_dup", "of": of}
        roll -= s.exact_dups
        if self.recent and roll < s.near_dups:
            target = r.choice(s.jaccard)
            # One replaced word changes up to 5 of a document's N shingles, so similarity t needs about
            # N >= 5(1+t)/(1-t) words (195 for 0.95): a few tries for an original long enough.
            need = 5 * (1 + target) / (1 - target) if target < 1 else 0
            for _ in range(20):
                of, original = r.choice(self.recent)
                if len(_WORD.findall(original)) >= need:
                    break
            text, similarity = near_duplicate(original, target, self.vocabulary, r)
            return text, {
                "id": doc_id,
                "kind": "near_dup",
                "of": of,
                "target": target,
                "jaccard": round(similarity, 4),
            }
        roll -= s.near_dups
        if roll < s.pii:
            text = self.plain()
            kind, sentence = self.pii_sentence()
            paragraphs = text.split("\n\n")
            paragraphs.insert(r.randint(0, len(paragraphs)), sentence)
            return "\n\n".join(paragraphs), {"id": doc_id, "kind": "pii", "pii": kind}
        roll -= s.pii
        if roll < s.junk:
            kind, text = self.junk()
            return text, {"id": doc_id, "kind": kind}
        text = self.plain()
        self.recent.append((doc_id, text))
        if len(self.recent) > 5000:  # copies come from the recent past, as on a crawl; bounded memory
            self.recent.pop(r.randrange(len(self.recent)))
        return text, None


def generate(
    out: Path,
    size_gb: float,
    seed: int = 0,
    shares: Shares | None = None,
    shard_mb: int = 128,
    data: Path = SHARED,
    progress: bool = True,
) -> dict:
    shares = shares or Shares()
    kk, foreign_files = data / "kk.txt", [data / f"{lang}.txt" for lang in ("ru", "en")]
    sentences = read_sentences(kk)
    foreign = [s for f in foreign_files if f.is_file() for s in read_sentences(f)] or sentences[:1]
    gen = Generator(sentences, foreign, shares, seed)
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for old in corpus.glob("part_*.jsonl"):
        old.unlink()
    target, counts = int(size_gb * 1e9), Counts()
    shard, shard_bytes, handle = 0, 0, None
    started = time.time()
    with open(out / "truth.jsonl", "w", encoding="utf-8") as truth:
        while counts.bytes < target:
            if handle is None or shard_bytes >= shard_mb * 1_000_000:
                if handle:
                    handle.close()
                handle = open(corpus / f"part_{shard:05d}.jsonl", "w", encoding="utf-8")
                shard, shard_bytes = shard + 1, 0
            doc_id = f"scale-{counts.documents:09d}"
            text, row = gen.document(doc_id)
            line = json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n"
            handle.write(line)
            shard_bytes += len(line.encode("utf-8"))
            counts.add(row["kind"] if row else "plain", text)
            if row:
                truth.write(json.dumps(row, ensure_ascii=False) + "\n")
            if progress and counts.documents % 50_000 == 0:
                print(
                    f"  {counts.bytes / 1e9:.2f} / {size_gb} GB, {counts.documents:,} documents, "
                    f"{time.time() - started:.0f} s",
                    file=sys.stderr,
                )
    if handle:
        handle.close()
    manifest = {
        "generator": "scripts/make_scale_corpus.py",
        "seed": seed,
        "size_gb": size_gb,
        "shard_mb": shard_mb,
        "shares": asdict(shares),
        "documents": counts.documents,
        "text_bytes": counts.bytes,
        "kinds": dict(sorted(counts.kinds.items())),
        "shards": shard,
        "source": {
            str(f.name): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in [kk, *foreign_files]
            if f.is_file()
        },
        "distinct_sentences": len(sentences),
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for corpus/, truth.jsonl and manifest.json"
    )
    parser.add_argument(
        "--size-gb", type=float, required=True, help="text size to generate, in GB (1e9 bytes of UTF-8 text)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-mb", type=int, default=128, help="size of each part_NNNNN.jsonl")
    parser.add_argument(
        "--data", type=Path, default=SHARED, help="folder with kk.txt (and ru.txt, en.txt for junk)"
    )
    d = Shares()
    parser.add_argument("--exact-dups", type=float, default=d.exact_dups, help="share of exact copies")
    parser.add_argument("--near-dups", type=float, default=d.near_dups, help="share of near copies")
    parser.add_argument(
        "--jaccard",
        default=",".join(map(str, d.jaccard)),
        help="similarity levels of near copies (word 5-gram Jaccard), comma-separated",
    )
    parser.add_argument(
        "--pii", type=float, default=d.pii, help="share of documents with a planted identifier or name"
    )
    parser.add_argument("--junk", type=float, default=d.junk, help="share of junk documents")
    args = parser.parse_args()
    if not (args.data / "kk.txt").is_file():
        sys.exit(f"needs {args.data}/kk.txt (the shared text_mix corpus; see --data)")
    shares = Shares(
        args.exact_dups,
        args.near_dups,
        args.pii,
        args.junk,
        tuple(float(x) for x in args.jaccard.split(",") if x.strip()),
    )
    manifest = generate(args.out, args.size_gb, args.seed, shares, args.shard_mb, args.data)
    print(
        json.dumps(
            {k: manifest[k] for k in ("documents", "text_bytes", "kinds", "shards")}, ensure_ascii=False
        )
    )


if __name__ == "__main__":
    main()
