"""Llama-3-style decoder presets (RMSNorm, SwiGLU, RoPE, GQA) built with transformers' LlamaForCausalLM.

`debug-tiny` trains on a CPU in seconds; the others follow the published Llama 3 shapes.
"""

from __future__ import annotations

from typing import Any

from transformers import LlamaConfig

from kazllm.config import ModelSection
from kazllm.errors import ConfigError

PRESETS: dict[str, dict[str, Any]] = {
    "debug-tiny": dict(hidden_size=128, intermediate_size=352, num_hidden_layers=4, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True, rope_theta=10000.0),
    "125m": dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
                 num_key_value_heads=4, max_position_embeddings=4096, tie_word_embeddings=True, rope_theta=500000.0),
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, max_position_embeddings=8192, tie_word_embeddings=True, rope_theta=500000.0),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, max_position_embeddings=8192, tie_word_embeddings=False, rope_theta=500000.0),
    "70b": dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
                num_key_value_heads=8, max_position_embeddings=8192, tie_word_embeddings=False, rope_theta=500000.0),
}


def build_llama_config(model: ModelSection, vocab_size: int, bos_id: int, eos_id: int, pad_id: int) -> LlamaConfig:
    if model.preset not in PRESETS:
        raise ConfigError(f"model.preset '{model.preset}' is not one of: {', '.join(PRESETS)}")
    fields = {**PRESETS[model.preset], **model.overrides}
    try:
        return LlamaConfig(
            vocab_size=vocab_size, bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id,
            rms_norm_eps=1e-5, attention_bias=False, mlp_bias=False, hidden_act="silu", **fields,
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model.overrides: {e}") from None


def count_parameters(config: LlamaConfig) -> int:
    """Parameters of a LlamaForCausalLM with this config, without building it."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    head_dim = h // config.num_attention_heads
    attn = h * h * 2 + h * head_dim * config.num_key_value_heads * 2  # q, o + k, v
    per_layer = attn + 3 * h * i + 2 * h  # SwiGLU MLP + two RMSNorms
    embed = config.vocab_size * h * (1 if config.tie_word_embeddings else 2)
    return layers * per_layer + embed + h


def flops_per_token(config: LlamaConfig, seq_len: int) -> float:
    """Training FLOPs per token: 6 x non-embedding params + attention (12 * layers * hidden * seq).

    The forward pass costs 2 FLOPs per weight (multiply + add) and backward twice that; the input
    embedding is a lookup, but the output projection is a matmul, so it is counted once.
    """
    n = count_parameters(config) - config.vocab_size * config.hidden_size * (0 if config.tie_word_embeddings else 1)
    return 6 * n + 12 * config.num_hidden_layers * config.hidden_size * seq_len
