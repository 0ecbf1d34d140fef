r"""`kazllm tokenizer extend`: grow a real checkpoint's BPE tokenizer with Kazakh pieces,
keeping every old id.

    kazllm tokenizer extend --base Qwen2_dir/ --input kk=kk.txt ru=ru.txt --out extended/ --max-new 32000 \
        --eval-text kk=ntrex.kaz en=ntrex.eng

How: continued BPE training. Each training word (a pre-token of the base's own pre-tokenizer) is first
cut by the base's BPE exactly as the base would cut it; then BPE training goes on from there, merging the
adjacent pair that occurs most often, again and again. Every new merge joins two tokens that already exist
(base tokens or earlier new merges), and new merges rank after all of the base's, so:

- the pieces are reachable by the base's own algorithm, inside words, and ranked by frequency gain (a
  merge's count is the number of tokens it saves on the training text);
- any prefix of the list is closed under its merges: `--max-new N` never cuts a merge chain;
- a merge is only allowed when its result contains a letter of a target script (default Cyrillic) or a
  UTF-8 lead byte that only such letters use, so it can only ever fire on text holding such letters: text
  in every other script (English, Chinese, code) keeps the base's ids exactly;
- new ids start after the highest existing id, added/special tokens included (a checkpoint keeps them
  above the BPE ranks: Llama-3.1 at 128000-128255, Qwen2 at 151643-151850), and no new piece spells a
  special token;
- byte-level pieces are byte strings, so every text decodes back to itself.

A sentencepiece-style base (▁-words with <0xNN> byte fallback, Llama-2/Mistral) works the same way, after
the target-script letters it only knows as bytes are added as single-character pieces.

embedding_init.json (in the output directory) maps each new id to the ids the BASE tokenizer gives for the
same bytes; `kazllm model extend` (kazllm/model_extend.py) sets each new embedding row to their mean.
Its name and layout are kazllm/tokenizer_files.py's, which writer and readers share.
"""

from __future__ import annotations

import heapq
import json
import logging
import shutil
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

from data_prep.tokenizer_inputs import load_lines, read_input_files
from data_prep.tokenizer_report import BYTE_PIECE, measure
from kazllm.artifacts import file_sha256, progress_interval, read_json, reset_user_out_dir, write_json
from kazllm.errors import InputError, KazllmError
from kazllm.tokenizer_files import EXTEND_MANIFEST, resolve_hf_dir, write_embedding_init

log = logging.getLogger("kazllm.tokenizer")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by ByteLevel pre-tokenizers."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_CHARS = bytes_to_unicode()
CHAR_BYTES = {c: b for b, c in BYTE_CHARS.items()}


def _has_type(node, name: str) -> bool:
    if isinstance(node, dict):
        return node.get("type") == name or any(_has_type(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_has_type(v, name) for v in node)
    return False


# ---------------------------------------------------------------------------------------------------
# Which pieces may be added: the target scripts
# ---------------------------------------------------------------------------------------------------


class ScriptFilter:
    """Decides whether a piece may be added: it must hold a letter of a target script, or (for a byte-level
    piece cut inside a character) a UTF-8 lead byte that only target-script characters start with."""

    def __init__(self, scripts: list[str]):
        import regex

        try:
            self.letter = regex.compile("|".join(rf"\p{{Script={s}}}" for s in scripts))
        except regex.error as e:
            raise InputError(f"unknown Unicode script in {scripts}: {e}") from None
        self.scripts = list(scripts)
        self.lead_bytes = self._exclusive_lead_bytes()

    def _exclusive_lead_bytes(self) -> set[int]:
        """2-byte UTF-8 lead bytes (0xC2-0xDF) all of whose assigned characters are in a target script
        (Cyrillic: 0xD0-0xD3, i.e. U+0400-U+04FF)."""
        out = set()
        for lead in range(0xC2, 0xE0):
            chars = [chr(((lead & 0x1F) << 6) | low) for low in range(64)]
            assigned = [c for c in chars if unicodedata.category(c) != "Cn"]
            if assigned and all(self.letter.match(c) for c in assigned):
                out.add(lead)
        return out

    def text_has_target(self, text: str) -> bool:
        return self.letter.search(text) is not None

    def allows_bytes(self, data: bytes) -> bool:
        return self.text_has_target(data.decode("utf-8", errors="ignore")) or any(
            b in self.lead_bytes for b in data
        )


# ---------------------------------------------------------------------------------------------------
# The base tokenizer as data
# ---------------------------------------------------------------------------------------------------


class BaseTokenizer:
    """A base tokenizer.json: its BPE vocabulary and merges, added tokens, and how it cuts words."""

    def __init__(self, tokenizer_json: dict, source: str = "base"):
        from tokenizers import Tokenizer

        model = tokenizer_json.get("model") or {}
        if model.get("type") != "BPE":
            raise InputError(
                f"{source}: tokenizer extend needs a BPE base tokenizer, got model type {model.get('type')!r}"
            )
        self.json = tokenizer_json
        self.byte_level = _has_type(tokenizer_json.get("pre_tokenizer"), "ByteLevel")
        self.byte_fallback = bool(model.get("byte_fallback"))
        if not self.byte_level and not self.byte_fallback:
            raise InputError(
                f"{source}: the base is neither byte-level BPE nor BPE with byte fallback; "
                "it cannot represent every text, so it cannot be extended safely"
            )
        self.vocab: dict[str, int] = dict(model["vocab"])
        self.merges_as_strings = bool(model["merges"]) and isinstance(model["merges"][0], str)
        self.added = {t["content"]: t["id"] for t in tokenizer_json.get("added_tokens", [])}
        self.next_id = max([*self.vocab.values(), *self.added.values()]) + 1
        self.tokenizer = Tokenizer.from_str(json.dumps(tokenizer_json))

    def pieces_to_bytes(self, piece: str) -> bytes:
        """The bytes a vocabulary piece stands for."""
        if self.byte_level:
            return bytes(CHAR_BYTES[c] for c in piece)
        if BYTE_PIECE.fullmatch(piece):
            return bytes([int(piece[3:5], 16)])
        return piece.replace("▁", " ").encode("utf-8")

    def words(self, text: str) -> list[str]:
        """The units BPE runs on, in the base's surface form (byte characters or ▁-words)."""
        norm = self.tokenizer.normalizer
        text = norm.normalize_str(text) if norm is not None else text
        pre = self.tokenizer.pre_tokenizer
        if pre is not None:
            return [w for w, _ in pre.pre_tokenize_str(text)]
        # sentencepiece-style: BPE runs on the whole line; its pieces never cross a "▁" word start
        out, cur = [], ""
        for ch in text:
            if ch == "▁" and cur and cur != "▁" * len(cur):
                out.append(cur)
                cur = ""
            cur += ch
        return out + ([cur] if cur else [])

    def segment(self, word: str) -> list[str]:
        """The base BPE's pieces for one word (no pre-tokenisation)."""
        return [t.value for t in self.tokenizer.model.tokenize(word)]


# ---------------------------------------------------------------------------------------------------
# Continued BPE training
# ---------------------------------------------------------------------------------------------------


def count_words(base: BaseTokenizer, lines, scripts: ScriptFilter) -> Counter:
    """How often each word that holds a target-script letter occurs (other words cannot gain a merge)."""
    counts: Counter = Counter()
    for line in lines:
        counts.update(base.words(line))
    return Counter({w: c for w, c in counts.items() if scripts.allows_bytes(base.pieces_to_bytes(w))})


def missing_letters(base: BaseTokenizer, words: Counter, scripts: ScriptFilter) -> list[str]:
    """sentencepiece-style base: target-script letters it has no piece for (they fall back to bytes),
    most frequent first; each becomes a single-character piece before any merge."""
    if base.byte_level:
        return []
    freq: Counter = Counter()
    for word, c in words.items():
        for ch in word:
            if ch not in base.vocab and scripts.text_has_target(ch):
                freq[ch] += c
    return [ch for ch, _ in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))]


def learn_merges(
    segmented: dict[str, list[str]],
    counts: Counter,
    allowed,
    max_new: int,
    min_frequency: int = 2,
    progress=None,
) -> list[tuple[str, str, int]]:
    """Greedy BPE on words already cut by the base: repeatedly merge the most frequent allowed adjacent pair.

    Returns (left, right, count) in merge order. `max_new` counts distinct new pieces: a later pair that
    spells a piece an earlier merge made (("ab", "c") after ("a", "bc")) becomes a merge rule of its own
    without a new id. Pair counts are kept incrementally (pair -> words that hold it, a heap with lazy
    deletion), so each merge costs the words it touches, not the whole corpus. Ties break on the pair's
    symbols, so the result does not depend on dict order.
    """
    symbols: list[str] = []
    sym_id: dict[str, int] = {}

    def intern(s: str) -> int:
        if s not in sym_id:
            sym_id[s] = len(symbols)
            symbols.append(s)
        return sym_id[s]

    words = sorted(segmented)
    seqs = [[intern(p) for p in segmented[w]] for w in words]
    freq = [counts[w] for w in words]
    pair_count: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for i, seq in enumerate(seqs):
        for a, b in zip(seq, seq[1:]):
            pair_count[(a, b)] += freq[i]
            where[(a, b)].add(i)
    verdict: dict[tuple[int, int], bool] = {}

    def ok(pair: tuple[int, int]) -> bool:
        if pair not in verdict:
            verdict[pair] = allowed(symbols[pair[0]] + symbols[pair[1]])
        return verdict[pair]

    def key(pair):  # max count first, then a stable order on the symbols
        return (-pair_count[pair], symbols[pair[0]], symbols[pair[1]])

    heap = [(*key(p), p) for p in pair_count if ok(p)]
    heapq.heapify(heap)
    merges: list[tuple[str, str, int]] = []
    made: set[str] = set()
    while heap and len(made) < max_new:
        neg, _, _, pair = heapq.heappop(heap)
        if -neg != pair_count.get(pair, 0) or -neg <= 0:
            continue  # stale entry: the count changed since it was pushed
        if -neg < min_frequency:
            break
        a, b = pair
        merged = intern(symbols[a] + symbols[b])
        merges.append((symbols[a], symbols[b], -neg))
        made.add(symbols[merged])
        touched: set[tuple[int, int]] = set()
        for i in list(where[pair]):
            seq, c = seqs[i], freq[i]
            for p in zip(seq, seq[1:]):
                pair_count[p] -= c
                where[p].discard(i)
                touched.add(p)
            out, j = [], 0
            while j < len(seq):
                if j + 1 < len(seq) and seq[j] == a and seq[j + 1] == b:
                    out.append(merged)
                    j += 2
                else:
                    out.append(seq[j])
                    j += 1
            seqs[i] = out
            for p in zip(out, out[1:]):
                pair_count[p] += c
                where[p].add(i)
                touched.add(p)
        for p in touched:
            if pair_count.get(p, 0) <= 0:
                pair_count.pop(p, None)
                where.pop(p, None)
            elif ok(p):
                heapq.heappush(heap, (*key(p), p))
        if progress is not None:
            progress(len(made))
    return merges


# ---------------------------------------------------------------------------------------------------
# The extended tokenizer
# ---------------------------------------------------------------------------------------------------


def plan_extension(
    base: BaseTokenizer, lines, scripts: list[str], max_new: int, min_frequency: int = 2, progress=None
) -> tuple[dict, dict]:
    """New vocabulary entries and merges for the base; returns (new tokenizer.json, embedding-init info)."""
    script_filter = ScriptFilter(scripts)
    counts = count_words(base, lines, script_filter)
    letters = missing_letters(base, counts, script_filter)[:max_new]
    vocab = dict(base.vocab)
    next_id = base.next_id
    new_pieces: list[str] = []
    for ch in letters:
        vocab[ch] = next_id
        new_pieces.append(ch)
        next_id += 1
    if letters:  # cut the words again now that these letters are pieces of their own
        base_with_letters = BaseTokenizer(_with_vocab(base.json, vocab), "base")
        segmented = {w: base_with_letters.segment(w) for w in counts}
    else:
        segmented = {w: base.segment(w) for w in counts}

    def allowed(piece: str) -> bool:
        return (
            piece not in vocab
            and piece not in base.added
            and script_filter.allows_bytes(base.pieces_to_bytes(piece))
        )

    merges = learn_merges(segmented, counts, allowed, max_new - len(letters), min_frequency, progress)
    for a, b, _ in merges:
        if a + b not in vocab:
            vocab[a + b] = next_id
            new_pieces.append(a + b)
            next_id += 1
    out = _with_vocab(base.json, vocab)
    out["model"]["merges"] = list(out["model"]["merges"]) + [
        f"{a} {b}" if base.merges_as_strings else [a, b] for a, b, _ in merges
    ]
    # each new id -> what the base tokenizer makes of the same bytes, for the embedding init
    mapping = {
        str(vocab[p]): [base.vocab.get(t, base.added.get(t)) for t in _base_pieces(base, p)]
        for p in new_pieces
    }
    info = {
        "base_vocab_size": base.next_id,
        "vocab_size": next_id,
        "added": len(new_pieces),
        "added_letters": len(letters),
        "added_merges": len(merges),
        "merges_onto_new_pieces": len(merges) - (len(new_pieces) - len(letters)),
        "training_words": len(counts),
        "training_word_occurrences": sum(counts.values()),
        "last_merge_count": merges[-1][2] if merges else None,
        "scripts": list(scripts),
        "base_kind": "byte-level BPE" if base.byte_level else "sentencepiece-style BPE",
        "new": mapping,
    }
    return out, info


def _with_vocab(tokenizer_json: dict, vocab: dict[str, int]) -> dict:
    """tokenizer.json with this BPE vocabulary. When new ids go past the added tokens, the added tokens
    are also written into the BPE vocabulary at their own ids: `tokenizers` renumbers an added token that
    the model's vocabulary lacks to the model's size on load, which would move Qwen's <|endoftext|> from
    151643 onto a new piece's id (and decode that piece as a special token)."""
    out = json.loads(json.dumps(tokenizer_json))
    added = {t["content"]: t["id"] for t in tokenizer_json.get("added_tokens", [])}
    if added and max(vocab.values()) > max(added.values()):
        vocab = {**vocab, **{c: i for c, i in added.items() if c not in vocab}}
    out["model"]["vocab"] = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    return out


def _base_pieces(base: BaseTokenizer, piece: str) -> list[str]:
    """The base's pieces for a new piece's bytes;
    a sentencepiece-style base spells unknown letters as bytes."""
    if base.byte_level:
        return base.segment(piece)
    out = []
    for part in base.segment(piece):
        if part in base.vocab:
            out.append(part)
        else:
            out.extend(f"<0x{b:02X}>" for b in part.encode("utf-8"))
    return out


def check_extension(base_json: dict, new_json: dict, info: dict) -> None:
    """Every old id unchanged; new ids contiguous after the highest old id;
    no new piece is a special token."""
    old = dict(base_json["model"]["vocab"]) | {
        t["content"]: t["id"] for t in base_json.get("added_tokens", [])
    }
    new = dict(new_json["model"]["vocab"]) | {t["content"]: t["id"] for t in new_json.get("added_tokens", [])}
    moved = [(tok, i, new.get(tok)) for tok, i in old.items() if new.get(tok) != i]
    if moved:
        raise KazllmError(f"extend changed {len(moved)} old ids, e.g. {moved[:5]}")
    new_ids = sorted(int(i) for i in info["new"])
    if new_ids and new_ids != list(range(info["base_vocab_size"], info["vocab_size"])):
        raise KazllmError("extend: new ids are not contiguous after the highest old id")
    specials = {t["content"] for t in base_json.get("added_tokens", [])}
    shadow = [
        p for p, i in new_json["model"]["vocab"].items() if i >= info["base_vocab_size"] and p in specials
    ]
    if shadow:
        raise KazllmError(f"extend: new pieces spell special tokens: {shadow[:5]}")


def verify_on_text(old_tok, new_tok, lines: list[str], scripts: ScriptFilter) -> dict:
    """Per file: lines that round-trip, lines without target-script letters whose ids equal the base's."""
    new_ids = new_tok(lines, add_special_tokens=False)["input_ids"]
    old_ids = old_tok(lines, add_special_tokens=False)["input_ids"]
    bad_round_trip, other_script, other_changed = [], 0, []
    for line, n, o in zip(lines, new_ids, old_ids):
        expected = line if old_tok.decode(o) == line else old_tok.decode(o)  # a base that NFC-normalises
        if new_tok.decode(n) != expected:
            bad_round_trip.append(line)
        if not scripts.text_has_target(line):
            other_script += 1
            if n != o:
                other_changed.append(line)
    return {
        "round_trip_failures": len(bad_round_trip),
        "lines_without_target_script": other_script,
        "of_those_ids_changed": len(other_changed),
        "examples": (bad_round_trip + other_changed)[:3],
    }


def read_training_lines(specs: list[str]) -> list[str]:
    """Text lines of `[LANG=]FILE` specs (text or JSONL; see data_prep.tokenizer_inputs.read_input_files)."""
    return [line for group in read_input_files(specs).values() for line in group]


def extend_tokenizer(
    base_dir: Path,
    out_dir: Path,
    lines: list[str],
    eval_files: list[str] | None = None,
    max_new: int = 32000,
    scripts: list[str] | None = None,
    min_frequency: int = 2,
    base_info: dict | None = None,
    keep: tuple[Path, ...] = (),
) -> dict:
    """Learn up to `max_new` pieces on `lines` over the base tokenizer in base_dir; write the extended
    Hugging Face tokenizer, embedding_init.json and extend_manifest.json into out_dir."""
    from tqdm import tqdm
    from transformers import AutoTokenizer

    scripts = list(scripts or ["Cyrillic"])
    base_dir = resolve_hf_dir(base_dir)
    base_json = read_json(base_dir / "tokenizer.json")
    base = BaseTokenizer(base_json, str(base_dir / "tokenizer.json"))
    if not lines:
        raise InputError("tokenizer extend: no training text (give --input files or a prep/ stage)")
    started = time.perf_counter()
    bar = tqdm(total=max_new, desc="extend: merges", unit="merge", mininterval=progress_interval())
    new_json, info = plan_extension(
        base, lines, scripts, max_new, min_frequency, progress=lambda n: bar.update(n - bar.n)
    )
    bar.close()
    check_extension(base_json, new_json, info)
    reset_user_out_dir(out_dir, EXTEND_MANIFEST, keep=(base_dir, *keep))
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in base_dir.iterdir():  # tokenizer files only: never copy a base model's weights along
        if f.is_file() and (
            f.name.startswith(("tokenizer", "special_tokens_map")) or f.name in ("vocab.json", "merges.txt")
        ):
            shutil.copy(f, out_dir / f.name)
    for stale in (
        "tokenizer.model",
        "vocab.json",
        "merges.txt",
    ):  # slow-tokenizer files would no longer match
        (out_dir / stale).unlink(missing_ok=True)
    (out_dir / "tokenizer.json").write_text(json.dumps(new_json, ensure_ascii=False), encoding="utf-8")
    write_embedding_init(
        out_dir,
        info["base_vocab_size"],
        info["vocab_size"],
        info["new"],
        base=base_info or {"source": str(base_dir), "path": str(base_dir), "revision": None},
    )
    old_tok, new_tok = (
        AutoTokenizer.from_pretrained(str(base_dir)),
        AutoTokenizer.from_pretrained(str(out_dir)),
    )
    if not new_tok.is_fast or len(new_tok) != info["vocab_size"]:
        raise KazllmError(
            f"{out_dir}: the extended tokenizer did not load as a fast tokenizer of {info['vocab_size']} ids"
        )
    script_filter = ScriptFilter(scripts)
    evaluation = []
    for spec in eval_files or []:
        lang, path, file_lines = load_lines(spec)
        file_lines = [x for x in file_lines if x.strip()]
        checks = verify_on_text(old_tok, new_tok, file_lines, script_filter)
        if checks["round_trip_failures"] or checks["of_those_ids_changed"]:
            raise KazllmError(f"extended tokenizer broke {path}: {checks}")
        evaluation.append(
            {
                "language": lang,
                "file": str(path),
                "before": measure(old_tok, file_lines)["tokens_per_word"],
                "after": measure(new_tok, file_lines)["tokens_per_word"],
                **checks,
            }
        )
    result = {k: v for k, v in info.items() if k != "new"} | {
        "base": base_info or {"source": str(base_dir), "path": str(base_dir), "revision": None},
        "max_new": max_new,
        "min_frequency": min_frequency,
        "training_lines": len(lines),
        "seconds": round(time.perf_counter() - started, 1),
        "fertility": evaluation,
        "tokenizer_sha256": file_sha256(out_dir / "tokenizer.json"),
    }
    write_json(out_dir / EXTEND_MANIFEST, result)
    return result
