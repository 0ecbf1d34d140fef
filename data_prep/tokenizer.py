"""`kazllm tokenizer train`: sentencepiece on prep/kept -> tokenizer/ (spm model + Hugging Face directory).

Why the Hugging Face side is built by hand: transformers' Llama conversion uses a Metaspace
pre-tokeniser that drops sentencepiece's dummy prefix when a text starts with a space, so ids differ
on such lines. We keep sentencepiece's exact behaviour (prepend "▁", spaces -> "▁", identity
normalisation, byte fallback) in tokenizer.json and save it with the generic fast-tokenizer class,
which `AutoTokenizer` loads as written. Training ends with a parity check on real lines; any
mismatch fails the command with examples.

    kazllm tokenizer train --config configs/quickstart.yaml
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import sentencepiece as spm

from kazllm.artifacts import file_sha256, iter_jsonl, require_stage, write_stage_manifest
from kazllm.config import KazllmConfig
from kazllm.errors import InputError, KazllmError

SPECIAL_TOKENS = {"unk": (0, "<unk>"), "bos": (1, "<s>"), "eos": (2, "</s>"), "pad": (3, "<pad>")}
WORD = re.compile(r"\w+")
# Lines that exercise the edges of the conversion: spaces, emoji, other scripts, digits, empty.
PARITY_EDGE_CASES = [
    "", " ", "  бос орын", " leading space", "trailing space ", "tab\tseparated", "line\nbreak",
    "Сәлем, әлем! 😀🇰🇿", "日本語のテキスト", "عربي", "ქართული", "1234567890 және 3,14", "ҚАЗАҚСТАН қазақстан",
]


def read_kept_paragraphs(prep_dir: Path) -> list[str]:
    """Paragraphs (non-empty lines) of every kept document, in file order."""
    from data_prep.pipeline import kept_files

    return [p for rec in iter_jsonl(kept_files(prep_dir)) for p in rec["text"].split("\n") if p.strip()]


def train_sentencepiece(lines: list[str], out_dir: Path, cfg: KazllmConfig) -> Path:
    tc = cfg.tokenizer
    if not lines:
        raise InputError("no training text: prep kept no documents")
    rng = random.Random(cfg.run.seed)
    if len(lines) > tc.max_sentences:
        lines = rng.sample(lines, tc.max_sentences)
    text_file = out_dir / "train_text.txt"
    text_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
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
            # Text is already NFC from prep; identity keeps ids reproducible by the HF tokenizer.
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True,
            max_sentence_length=1 << 16,
            hard_vocab_limit=True,
            num_threads=os.cpu_count() or 1,
            minloglevel=2,
            **ids,
            **pieces,
        )
    except RuntimeError as e:
        # e.g. "Vocabulary size too high": the corpus is too small for the requested size.
        raise KazllmError(f"sentencepiece training failed: {e} (tokenizer.vocab_size={tc.vocab_size})") from None
    finally:
        text_file.unlink(missing_ok=True)
    return prefix.with_suffix(".model")


def export_hf_tokenizer(spm_model: Path, hf_dir: Path) -> None:
    """Write a Hugging Face fast tokenizer with sentencepiece's exact ids."""
    from tokenizers import normalizers
    from transformers import LlamaTokenizer, PreTrainedTokenizerFast

    hf_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(spm_model, hf_dir / "tokenizer.model")
    # Use transformers' converter for the vocabulary, merges and byte-fallback decoder ...
    converted = LlamaTokenizer.from_pretrained(str(hf_dir)).backend_tokenizer
    # ... then restore sentencepiece's dummy-prefix behaviour (see module docstring).
    converted.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    converted.pre_tokenizer = None
    fast = PreTrainedTokenizerFast(
        tokenizer_object=converted,
        unk_token=SPECIAL_TOKENS["unk"][1],
        bos_token=SPECIAL_TOKENS["bos"][1],
        eos_token=SPECIAL_TOKENS["eos"][1],
        pad_token=SPECIAL_TOKENS["pad"][1],
        clean_up_tokenization_spaces=False,
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
        shown = "\n".join(f"  {s[:60]!r}\n    spm: {a[:12]}\n    hf:  {b[:12]}" for s, a, b in bad[:max_examples])
        raise KazllmError(f"tokenizer parity failed on {len(bad)} of {len(sample)} lines:\n{shown}")
    return len(sample)


def tokens_per_word(spm_model: Path, lines: list[str]) -> float:
    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    words = sum(len(WORD.findall(line)) for line in lines)
    tokens = sum(len(ids) for ids in sp.encode(lines))
    return tokens / max(words, 1)


def run_tokenizer_train(cfg: KazllmConfig) -> dict:
    prep_dir = require_stage(cfg, "prep", "kazllm prep")
    out_dir = cfg.stage_dir("tokenizer")
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    lines = read_kept_paragraphs(prep_dir)
    spm_model = train_sentencepiece(lines, out_dir, cfg)
    hf_dir = out_dir / "hf"
    export_hf_tokenizer(spm_model, hf_dir)
    rng = random.Random(cfg.run.seed)
    parity_sample = rng.sample(lines, min(len(lines), cfg.tokenizer.parity_lines))
    checked = check_parity(spm_model, hf_dir, parity_sample)
    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    result = {
        "vocab_size": sp.get_piece_size(),
        "model_type": cfg.tokenizer.model_type,
        "training_lines": len(lines),
        "parity_lines_checked": checked,
        "kk_tokens_per_word": round(tokens_per_word(spm_model, parity_sample), 3),
        "special_tokens": {name: {"id": i, "piece": p} for name, (i, p) in SPECIAL_TOKENS.items()},
        "spm_model": spm_model.name,
        "spm_sha256": file_sha256(spm_model),
        "hf_dir": "hf",
    }
    write_stage_manifest(cfg, "tokenizer", **result)
    return result
