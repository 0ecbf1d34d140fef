"""A tiny Llama "base model" with a real base tokenizer (Qwen2's 151,643 byte-level ranks + 208 specials).

The continued-pretraining path (tokenizer extend -> model extend -> train with model.init_from) needs a
base checkpoint laid out as real ones are: safetensors, config.json, generation_config.json and a
tokenizer whose special tokens sit above the BPE ranks, and an embedding matrix padded past the
tokenizer (Qwen2's 151,936 rows for 151,851 tokens). Real weights cannot be downloaded here, so this
builds one with random weights; the CPU demo (`make continue-demo`) and the tests start from it.

    python scripts/make_tiny_base.py --out runs/tiny_qwen_base [--untied] [--hidden 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QWEN2_MODEL_ROWS = 151_936  # Qwen2's embedding rows: the 151,851 tokens padded to a multiple of 128


def build_tiny_base(
    out: Path,
    tie_word_embeddings: bool = True,
    hidden_size: int = 64,
    layers: int = 2,
    rows: int = QWEN2_MODEL_ROWS,
    seed: int = 0,
    tokenizer_dir: Path | None = None,
) -> Path:
    """Write a LlamaForCausalLM with Qwen2's tokenizer (or the one in tokenizer_dir) to `out`."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    from data_prep.tokenizer_tiktoken import qwen_tokenizer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if tokenizer_dir is None:
        tokenizer_dir = qwen_tokenizer("qwen2", out)
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    if tokenizer_dir != out:
        tok.save_pretrained(str(out))
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=max(rows, len(tok)),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        rope_theta=10000.0,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model.save_pretrained(str(out), safe_serialization=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output model directory")
    ap.add_argument(
        "--untied", action="store_true", help="separate input and output embeddings (Llama-3-8B style)"
    )
    ap.add_argument("--hidden", type=int, default=64, help="hidden size (default 64)")
    ap.add_argument("--layers", type=int, default=2, help="decoder layers (default 2)")
    args = ap.parse_args()
    path = build_tiny_base(
        Path(args.out), tie_word_embeddings=not args.untied, hidden_size=args.hidden, layers=args.layers
    )
    print(f"tiny base: {path}")


if __name__ == "__main__":
    main()
