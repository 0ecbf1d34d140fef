"""Tiny randomly initialised causal LMs for the eval tests: real Hugging Face model directories (config,
safetensors, tokenizer) built in a second, no training. Their scores are meaningless; the machinery
is real."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench_eval():
    """scripts/bench_eval.py as a module: its build_tiny_model trains a throwaway sentencepiece tokenizer on
    the bundled Kazakh text and saves a seeded random Llama with it (no prep run needed)."""
    spec = importlib.util.spec_from_file_location("bench_eval", REPO / "scripts" / "bench_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_tiny_model(tokenizer_dir: Path, out: Path, arch: str = "llama") -> Path:
    """Save a tiny `arch` (llama: kazllm's own debug-tiny shape, smaller; gpt2: a foreign architecture)
    with the tokenizer in `tokenizer_dir` to `out`, as AutoModelForCausalLM loads it."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    torch.manual_seed(0)
    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}
    if arch == "llama":
        model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=len(tok),
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=1024,
                tie_word_embeddings=True,
                pad_token_id=tok.pad_token_id,
                **ids,
            )
        )
    else:
        model = GPT2LMHeadModel(
            GPT2Config(vocab_size=len(tok), n_embd=64, n_layer=2, n_head=4, n_positions=1024, **ids)
        )
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out
