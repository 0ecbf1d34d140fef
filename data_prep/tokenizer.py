"""`kazllm tokenizer train`: sentencepiece on prep/kept -> tokenizer/ (spm model + Hugging Face directory).

Why the Hugging Face side is built by hand: transformers' Llama conversion uses a Metaspace
pre-tokeniser that drops sentencepiece's dummy prefix when a text starts with a space, so ids differ
on such lines. We keep sentencepiece's exact behaviour (prepend "▁", spaces -> "▁", identity
normalisation, byte fallback) in tokenizer.json and save it with the generic fast-tokenizer class,
which `AutoTokenizer` loads as written. Training ends with a parity check on real lines; any
mismatch fails the command with examples.

    kazllm tokenizer train --config configs/quickstart.yaml
    kazllm tokenizer train --input kk=kk.txt ru=ru.txt corpus.jsonl --vocab-size 48000 --out tok/

The sample is drawn per language by `tokenizer.language_weights` under a line and byte cap (see
`sample_by_language`); reserved chat tokens follow pad as user-defined pieces.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm

from data_prep.tokenizer_extend import extend_tokenizer
from data_prep.tokenizer_inputs import iter_input_paragraphs, iter_kept_paragraphs, split_lang_path
from data_prep.tokenizer_report import WORD, measure
from kazllm.artifacts import (
    dump_config,
    file_sha256,
    require_stage,
    reset_user_out_dir,
    write_json,
    write_stage_manifest,
)
from kazllm.config import KazllmConfig
from kazllm.errors import InputError, KazllmError
from kazllm.tokenizer_files import EMBEDDING_INIT

log = logging.getLogger("kazllm.tokenizer")

SPECIAL_TOKENS = {"unk": (0, "<unk>"), "bos": (1, "<s>"), "eos": (2, "</s>"), "pad": (3, "<pad>")}
# Lines that exercise the edges of the conversion: spaces, emoji, other scripts, digits, empty.
PARITY_EDGE_CASES = [
    "",
    " ",
    "  бос орын",
    " leading space",
    "trailing space ",
    "   ",
    "tab\tseparated",
    "line\nbreak",
    "Сәлем, әлем! 😀🇰🇿",
    "👩‍👩‍👧 ZWJ 🏳️‍🌈",
    "日本語のテキスト",
    "عربي",
    "ქართული",
    "עברית",
    "हिन्दी",
    "ไทย",
    "ᠮᠣᠩᠭᠣᠯ",
    "𐰴𐰆𐰺𐱃",
    "Ωмега Ⅻ ﬁ",
    "e\u0301 combining",
    "nbsp\u00a0here",
    "zero\u200bwidth",
    "1234567890 және 3,14",
    "ҚАЗАҚСТАН қазақстан",
    "«тырнақша» — сызықша…",
    "a\r\nb",
    "<|user|> сәлем<|end|>",
    " <|assistant|>",
    "<s> </s> <unk> <pad> are text here",
]


def allocate_bytes(
    size: dict[str, int], shares: dict[str, float], max_bytes: int, max_upsample: float
) -> dict[str, float]:
    """Bytes per language: each gets its share of max_bytes, but at most its text x max_upsample; what a
    short language cannot use goes to the others by their weights (water-filling)."""
    alloc: dict[str, float] = {}
    open_langs, left = dict(shares), float(max_bytes)
    while open_langs:
        total = sum(open_langs.values())
        full = {lang for lang, w in open_langs.items() if size[lang] * max_upsample <= left * w / total}
        if not full:
            alloc.update({lang: left * w / total for lang, w in open_langs.items()})
            break
        for lang in full:
            alloc[lang] = size[lang] * max_upsample
            left -= alloc[lang]
            del open_langs[lang]
    return alloc


Paragraphs = Callable[[], Iterable[tuple[str, str]]]
"""A re-readable source of (language, line): called once per pass, so the corpus is never held in memory."""


@dataclass
class TokenizerSample:
    lines: list[str]
    """The training lines, shuffled, at most max_lines."""
    languages: dict
    """Per language: weight, available_bytes, lines, bytes (for the manifest)."""
    check: list[str]
    """Up to `check_lines` lines drawn uniformly from ALL the text (every language), for the parity check."""
    kk_check: list[str]
    """Up to `check_lines` Kazakh lines drawn uniformly (all lines when no weighted language is present)."""


class _Reservoir:
    """A uniform sample of at most k items of a stream of unknown length (Vitter's algorithm R)."""

    def __init__(self, k: int, rng: random.Random):
        self.k, self.rng, self.seen, self.items = k, rng, 0, []

    def offer(self, item: str) -> None:
        self.seen += 1
        if len(self.items) < self.k:
            self.items.append(item)
        else:
            j = self.rng.randrange(self.seen)
            if j < self.k:
                self.items[j] = item


# Pass 2 keeps a line of a sampled-down language with this many times its share's probability (plus a
# little), then trims the shuffled pick to the share: memory stays ~1.2x the byte cap, never the corpus.
_OVERSAMPLE = 1.2


def sample_by_language(
    paragraphs: Paragraphs | dict[str, list[str]],
    weights: dict[str, float],
    max_bytes: int,
    max_lines: int,
    seed: int,
    max_upsample: float = 1.0,
    check_lines: int = 0,
) -> TokenizerSample:
    """Draw training lines so that each language gets its weight's share of the byte cap, in two streaming
    passes over `paragraphs` (sizes, then the draw), so memory is bounded by max_bytes, not the corpus.

    Weights are renormalised over the languages present; text in languages without a weight is left out
    (and logged), unless no named language is present at all, in which case every language counts by its
    size. A language with more text than its share is sampled down at random; one with less gives all of
    it, repeated up to `max_upsample` times, and its unused share goes to the others (`allocate_bytes`)."""
    if isinstance(paragraphs, dict):
        groups = paragraphs
        paragraphs = lambda: ((lang, line) for lang, lines in groups.items() for line in lines)  # noqa: E731
    rng = random.Random(seed)
    size: dict[str, int] = defaultdict(int)
    for lang, line in paragraphs():
        size[lang] += len(line.encode("utf-8")) + 1
    present = {lang: w for lang, w in weights.items() if w > 0 and size.get(lang)}
    if not present:
        present = {lang: float(n) for lang, n in size.items() if n}
        log.info("no language of tokenizer.language_weights in the input (%s): using all text", sorted(size))
    else:
        missing = sorted(lang for lang, w in weights.items() if w > 0 and lang not in present)
        dropped = sorted(set(size) - set(present))
        if missing or dropped:
            log.info(
                "language weights renormalised over %s (no text for: %s; text without a weight left out: %s)",
                sorted(present),
                ", ".join(missing) or "-",
                ", ".join(dropped) or "-",
            )
    total_w = sum(present.values())
    shares = {lang: w / total_w for lang, w in present.items()}
    alloc = allocate_bytes(size, shares, max_bytes, max_upsample)
    keep_p = {lang: min(1.0, _OVERSAMPLE * alloc[lang] / size[lang] + 0.01) for lang in present}
    kk_lang = "kk" if "kk" in size or any(lang in size for lang in weights) else None
    picked: dict[str, list[str]] = {lang: [] for lang in present}
    check, kk_check = _Reservoir(check_lines, rng), _Reservoir(check_lines, rng)
    for lang, line in paragraphs():
        if check_lines:
            check.offer(line)
            if kk_lang is None or lang == kk_lang:
                kk_check.offer(line)
        p = keep_p.get(lang)
        if p is not None and (p >= 1.0 or rng.random() < p):
            picked[lang].append(line)
    lines: list[str] = []
    summary = {}
    for lang in sorted(present):
        pool = picked.pop(lang)
        rng.shuffle(pool)
        taken, got = [], 0
        # a cycle repeats the shuffled text when upsampling; a sampled-down language never repeats a line
        for line in itertools.cycle(pool) if alloc[lang] > size[lang] else pool:
            if got >= alloc[lang]:
                break
            taken.append(line)
            got += len(line.encode("utf-8")) + 1
        lines.extend(taken)
        summary[lang] = {
            "weight": round(shares[lang], 4),
            "available_bytes": size[lang],
            "lines": len(taken),
            "bytes": got,
        }
    rng.shuffle(lines)
    return TokenizerSample(lines[:max_lines], summary, check.items, kk_check.items)


def train_sentencepiece(lines: list[str], out_dir: Path, cfg: KazllmConfig) -> Path:
    tc = cfg.tokenizer
    if not lines:
        raise InputError("no training text: the input has no non-empty lines")
    text_file = out_dir / "train_text.txt"
    with open(text_file, "w", encoding="utf-8") as f:  # line by line: no second copy of the sample in memory
        f.writelines(line + "\n" for line in lines)
    prefix = out_dir / "spm"
    ids = {f"{name}_id": i for name, (i, _) in SPECIAL_TOKENS.items()}
    pieces = {f"{name}_piece": p for name, (_, p) in SPECIAL_TOKENS.items()}
    try:
        spm.SentencePieceTrainer.train(
            input=str(text_file),
            model_prefix=str(prefix),
            vocab_size=tc.vocab_size,
            model_type=tc.model_type,
            character_coverage=tc.character_coverage,
            byte_fallback=True,
            split_digits=True,
            split_by_unicode_script=tc.split_by_script,
            split_by_whitespace=tc.split_by_whitespace,
            max_sentencepiece_length=tc.max_piece_length,
            # user-defined pieces take the ids right after the specials and are never split
            user_defined_symbols=list(tc.chat_tokens),
            # Text is already NFC from prep; identity keeps ids reproducible by the HF tokenizer.
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True,
            max_sentence_length=1 << 16,
            input_sentence_size=tc.max_sentences,
            shuffle_input_sentence=True,
            hard_vocab_limit=True,
            num_threads=os.cpu_count() or 1,
            minloglevel=2,
            **ids,
            **pieces,
        )
    except RuntimeError as e:
        # e.g. "Vocabulary size too high": the corpus is too small for the requested size.
        raise KazllmError(
            f"sentencepiece training failed: {e} (tokenizer.vocab_size={tc.vocab_size})"
        ) from None
    finally:
        text_file.unlink(missing_ok=True)
    return prefix.with_suffix(".model")


def dummy_prefix_normalizer(user_defined: list[str]):
    r"""Prepend "▁" to the text, as sentencepiece does. tokenizers also normalises the content of
    normalized added tokens, so the prefix must skip a text that is exactly one of them, or "<|end|>"
    would be looked for as "▁<|end|>"; `\A` (not `^`) so that lines after a newline get no prefix."""
    from tokenizers import Regex, normalizers

    if not user_defined:
        return normalizers.Prepend("▁")
    alternatives = "|".join(re.sub(r"([\\.^$|?*+()\[\]{}/-])", r"\\\1", t) for t in user_defined)
    return normalizers.Replace(Regex(rf"\A(?!(?:{alternatives})\z)"), "▁")


def export_hf_tokenizer(spm_model: Path, hf_dir: Path) -> None:
    """Write a Hugging Face fast tokenizer with sentencepiece's exact ids."""
    from tokenizers import AddedToken, normalizers
    from transformers import LlamaTokenizer, PreTrainedTokenizerFast

    hf_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(spm_model, hf_dir / "tokenizer.model")
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto.FromString(spm_model.read_bytes())
    user_defined = [p.piece for p in proto.pieces if p.type == p.USER_DEFINED]
    # Use transformers' converter for the vocabulary, merges and byte-fallback decoder ...
    converted = LlamaTokenizer.from_pretrained(str(hf_dir)).backend_tokenizer
    # ... then restore sentencepiece's dummy-prefix behaviour (see module docstring).
    converted.normalizer = normalizers.Sequence(
        [dummy_prefix_normalizer(user_defined), normalizers.Replace(" ", "▁")]
    )
    converted.pre_tokenizer = None
    # Chat tokens are matched in the normalised text, as sentencepiece matches user-defined pieces: the
    # dummy prefix then goes before the first one only ("<|user|> hi" -> ▁ <|user|> ▁hi).
    converted.add_tokens([AddedToken(t, normalized=True, special=False) for t in user_defined])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=converted,
        unk_token=SPECIAL_TOKENS["unk"][1],
        bos_token=SPECIAL_TOKENS["bos"][1],
        eos_token=SPECIAL_TOKENS["eos"][1],
        pad_token=SPECIAL_TOKENS["pad"][1],
        clean_up_tokenization_spaces=False,
        # sentencepiece spells out "<s>" written in text; so does the HF tokenizer with this flag
        split_special_tokens=True,
        model_max_length=1 << 20,
    )
    fast.save_pretrained(str(hf_dir))


def check_parity(spm_model: Path, hf_dir: Path, lines: list[str], max_examples: int = 5) -> int:
    """Encode every line with both tokenizers; raise with examples on any difference."""
    from transformers import AutoTokenizer

    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    hf = AutoTokenizer.from_pretrained(str(hf_dir))
    sample = PARITY_EDGE_CASES + lines
    hf_ids = hf(sample, add_special_tokens=False)["input_ids"]
    bad = [(s, a, b) for s, a, b in zip(sample, sp.encode(sample), hf_ids) if a != b]
    if bad:
        shown = "\n".join(
            f"  {s[:60]!r}\n    spm: {a[:12]}\n    hf:  {b[:12]}" for s, a, b in bad[:max_examples]
        )
        raise KazllmError(f"tokenizer parity failed on {len(bad)} of {len(sample)} lines:\n{shown}")
    return len(sample)


def tokens_per_word(spm_model: Path, lines: list[str]) -> float:
    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    words = sum(len(WORD.findall(line)) for line in lines)
    tokens = sum(len(ids) for ids in sp.encode(lines))
    return tokens / max(words, 1)


def run_tokenizer_train(
    cfg: KazllmConfig, inputs: list[str] | None = None, out_dir: Path | None = None
) -> dict:
    """Train on prep/kept (the stage) or on `inputs` (text/JSONL files, `LANG=FILE`) into out_dir.

    Writes spm.model, hf/ (the Hugging Face directory), resolved_config.yaml and manifest.json."""
    tc = cfg.tokenizer
    for spec in inputs or []:
        if not split_lang_path(spec)[1].is_file():  # before anything is reset
            raise InputError(f"tokenizer input not found: {split_lang_path(spec)[1]}")
    if inputs and out_dir:
        out_dir = Path(out_dir)
        reset_user_out_dir(
            out_dir, "manifest.json", keep=tuple(Path(spec.split("=", 1)[-1]) for spec in inputs)
        )
    else:
        prep_dir = None if inputs else require_stage(cfg, "prep", "kazllm prep")
        out_dir = cfg.stage_dir("tokenizer")
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
    paragraphs: Paragraphs = (
        (lambda: iter_input_paragraphs(inputs)) if inputs else (lambda: iter_kept_paragraphs(prep_dir))
    )
    sample = sample_by_language(
        paragraphs,
        tc.language_weights,
        tc.max_bytes,
        tc.max_sentences,
        cfg.run.seed,
        tc.max_upsample,
        check_lines=tc.parity_lines,
    )
    lines, languages = sample.lines, sample.languages
    if tc.extend_base:
        result = extend_base_tokenizer(cfg, sample.kk_check, lines, out_dir) | {
            "languages": languages,
            "inputs": [str(x) for x in inputs] if inputs else "prep/kept",
        }
        _write_tokenizer_manifest(cfg, out_dir, result)
        return result
    spm_model = train_sentencepiece(lines, out_dir, cfg)
    hf_dir = out_dir / "hf"
    export_hf_tokenizer(spm_model, hf_dir)
    # parity on lines of every language present, drawn from all the text (not only the training sample)
    checked = check_parity(spm_model, hf_dir, sample.check)
    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    result = {
        "vocab_size": sp.get_piece_size(),
        "model_type": tc.model_type,
        "training_lines": len(lines),
        "languages": languages,
        "inputs": [str(x) for x in inputs] if inputs else "prep/kept",
        "parity_lines_checked": checked,
        "kk_tokens_per_word": round(tokens_per_word(spm_model, sample.kk_check), 3)
        if sample.kk_check
        else None,
        "special_tokens": {name: {"id": i, "piece": p} for name, (i, p) in SPECIAL_TOKENS.items()},
        "chat_tokens": {t: sp.piece_to_id(t) for t in tc.chat_tokens},
        "spm_model": spm_model.name,
        "spm_sha256": file_sha256(spm_model),
        "hf_dir": "hf",
    }
    _write_tokenizer_manifest(cfg, out_dir, result)
    return result


def _write_tokenizer_manifest(cfg: KazllmConfig, out_dir: Path, result: dict) -> None:
    if out_dir == cfg.stage_dir("tokenizer"):
        write_stage_manifest(cfg, "tokenizer", **result)
    else:
        dump_config(cfg, out_dir / "resolved_config.yaml")
        write_json(out_dir / "manifest.json", {"stage": "tokenizer", **result})


def base_special_tokens(tok) -> dict:
    """bos/eos/pad/unk of a base tokenizer as the manifest records them (None where the base has none)."""
    out = {}
    for name in ("unk", "bos", "eos", "pad"):
        piece = getattr(tok, f"{name}_token", None)
        out[name] = {"id": tok.convert_tokens_to_ids(piece), "piece": piece} if piece else None
    if out["eos"] is None:
        raise InputError(
            f"{tok.name_or_path}: the base tokenizer names no eos_token (tokenizer_config.json); "
            "pretokenize needs one to separate documents"
        )
    return out


def extend_base_tokenizer(cfg: KazllmConfig, kk_sample: list[str], lines: list[str], out_dir: Path) -> dict:
    """tokenizer.extend_base: learn Kazakh merges over the base's tokenizer (data_prep/tokenizer_extend.py)
    on the sampled lines and write the extended tokenizer as out_dir/hf, embedding_init.json inside it."""
    from transformers import AutoTokenizer

    from kazllm.hub import resolve_pretrained

    tc = cfg.tokenizer
    base = resolve_pretrained(tc.extend_base, "tokenizer.extend_base", weights=False)
    base_info = {
        "source": base.source,
        "path": str(base.path),
        "repo_id": base.repo_id,
        "revision": base.revision,
    }
    hf_dir = out_dir / "hf"
    ext = extend_tokenizer(
        base.path, hf_dir, lines, max_new=tc.max_new, scripts=tc.extend_scripts, base_info=base_info
    )
    new_tok, old_tok = (
        AutoTokenizer.from_pretrained(str(hf_dir)),
        AutoTokenizer.from_pretrained(str(base.path)),
    )
    return {
        "vocab_size": ext["vocab_size"],
        "model_type": "bpe (byte-level, extended)" if "byte" in ext["base_kind"] else "bpe (extended)",
        "training_lines": len(lines),
        "extended_from": base_info,
        "base_vocab_size": ext["base_vocab_size"],
        "added": ext["added"],
        "kk_tokens_per_word": measure(new_tok, kk_sample)["tokens_per_word"] if kk_sample else None,
        "kk_tokens_per_word_base": measure(old_tok, kk_sample)["tokens_per_word"] if kk_sample else None,
        "special_tokens": base_special_tokens(new_tok),
        "chat_tokens": {},
        "parity_lines_checked": 0,
        "tokenizer_sha256": ext["tokenizer_sha256"],
        "hf_dir": "hf",
        "embedding_init": f"hf/{EMBEDDING_INIT}",
    }
