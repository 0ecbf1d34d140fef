"""Llama-3-style decoders (RMSNorm, SwiGLU, RoPE, GQA, tied or untied embeddings) through transformers.

Sizes are YAML presets in configs/model/<name>.yaml (debug-tiny trains on a CPU in seconds; 125m, 1b,
8b and 70b follow the published Llama 3 shapes). `model.preset` names one or gives a path to a YAML of
LlamaConfig fields; `model.overrides` replaces single fields. Parameter and FLOP counts come from the
config alone, so planning (kazllm.plan) never has to build a 70B model.

    from kazllm.model import build_llama_config, count_parameters
    cfg = build_llama_config(ModelSection(preset="1b"), vocab_size=128256, bos_id=1, eos_id=2, pad_id=0)
    count_parameters(cfg)  # 1_235_814_400, as Llama-3.2-1B
"""

from __future__ import annotations

from typing import Any

from transformers import LlamaConfig

from kazllm.config import REPO_ROOT, ModelSection, read_yaml_mapping, resolve_path
from kazllm.errors import ConfigError

PRESET_DIR = REPO_ROOT / "configs" / "model"
DEFAULT_PRESET = "debug-tiny"
"""What an empty `model.preset` means when the run does not start from a checkpoint (model.init_from)."""


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(preset: str) -> dict[str, Any]:
    """LlamaConfig fields of a named preset (configs/model/<name>.yaml) or of a YAML file path."""
    preset = preset or DEFAULT_PRESET
    path = PRESET_DIR / f"{preset}.yaml"
    if not path.is_file() and preset.endswith((".yaml", ".yml")):
        path = resolve_path(preset)
    if not path.is_file():
        raise ConfigError(
            f"model.preset '{preset}' is neither a preset ({', '.join(preset_names())}) nor a YAML file"
        )
    return read_yaml_mapping(path, "a model preset is a mapping of LlamaConfig fields")


def build_llama_config(model: ModelSection, vocab_size: int, bos_id: int, eos_id: int, pad_id: int) -> LlamaConfig:
    """The LlamaConfig of a run: preset fields, then `model.overrides`, with our tokenizer's ids."""
    fields = {**load_preset(model.preset), **model.overrides}
    # rope_theta / rope_scaling: the 4.x spelling, which transformers 5 still converts into rope_parameters
    known = set(LlamaConfig().to_dict()) | {"rope_theta", "rope_scaling"}
    unknown = sorted(k for k in fields if k not in known)
    if unknown:  # LlamaConfig would keep a typo as an attribute and silently ignore it
        raise ConfigError(f"model: unknown LlamaConfig field(s) {', '.join(unknown)} (preset '{model.preset}' or overrides)")
    try:
        config = LlamaConfig(
            vocab_size=vocab_size, bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id,
            **{"rms_norm_eps": 1e-5, "attention_bias": False, "mlp_bias": False, "hidden_act": "silu", **fields},
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model.overrides: {e}") from None
    if config.hidden_size % config.num_attention_heads or config.num_attention_heads % config.num_key_value_heads:
        raise ConfigError(
            f"model: hidden_size {config.hidden_size} must divide into num_attention_heads "
            f"{config.num_attention_heads}, and those into num_key_value_heads {config.num_key_value_heads} groups"
        )
    return config


def head_dim(config: LlamaConfig) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def count_parameters(config: LlamaConfig) -> int:
    """Parameters of a LlamaForCausalLM with this config, without building it (tested against a real build)."""
    h, i, layers, d = config.hidden_size, config.intermediate_size, config.num_hidden_layers, head_dim(config)
    attn = 2 * h * d * config.num_attention_heads + 2 * h * d * config.num_key_value_heads  # q, o + k, v
    per_layer = attn + 3 * h * i + 2 * h  # SwiGLU MLP (gate, up, down) + two RMSNorms
    embed = config.vocab_size * h * (1 if config.tie_word_embeddings else 2)
    return layers * per_layer + embed + h  # + the final RMSNorm


def flops_per_token(config: LlamaConfig, seq_len: int) -> float:
    """Training FLOPs per token (PaLM appendix B / nanoGPT): 6·N + 12·L·H·Q·T.

    N counts the matmul weights: every parameter except the input embedding, which is a lookup (with
    tied embeddings the shared matrix is counted once, as the output projection). Forward costs 2 FLOPs
    per weight per token (multiply + add) and backward twice that: 6·N. The attention scores and the
    weighted sum add 12·L·H·Q·T (L layers, H heads of size Q, T = seq_len), counted without the causal
    mask's saving, as PaLM does. Activation checkpointing's recomputation is not counted (it is not
    useful work), so MFU stays comparable across settings.
    """
    n = count_parameters(config) - (0 if config.tie_word_embeddings else config.vocab_size * config.hidden_size)
    return 6 * n + 12 * config.num_hidden_layers * config.num_attention_heads * head_dim(config) * seq_len


def describe(config: LlamaConfig, seq_len: int) -> str:
    """One line for the start of a run: size, shape and cost per token."""
    return (
        f"{count_parameters(config) / 1e6:,.2f}M parameters ({config.num_hidden_layers} layers x "
        f"{config.hidden_size}, {config.num_attention_heads} heads / {config.num_key_value_heads} KV, vocab "
        f"{config.vocab_size}, {'tied' if config.tie_word_embeddings else 'untied'} embeddings), "
        f"{flops_per_token(config, seq_len) / 1e9:,.3f} GFLOPs/token at seq {seq_len}"
    )


# ---------------------------------------------------------------------------------------------------
# Building the module for training
# ---------------------------------------------------------------------------------------------------


def build_model(
    config: LlamaConfig,
    attn_implementation: str = "sdpa",
    activation_checkpointing: bool = False,
    liger_kernel: bool = False,
    zero3_config: dict | None = None,
    log=print,
):
    """A freshly initialised LlamaForCausalLM for training.

    Initialisation draws from torch's global RNG in one fixed order (transformers' `_init_weights`,
    module by module), also under ZeRO-3, where `zero3_config` makes the parameters born partitioned
    (deepspeed.zero.Init: a 70B model never exists whole on one rank) and rank 0 initialises each module
    before it is scattered. So one seed gives the same weights on 1 rank or on N ZeRO-3 ranks.
    """
    import torch
    from transformers import LlamaForCausalLM

    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # transformers 4.x
        from transformers.modeling_utils import no_init_weights

    if attn_implementation == "flash_attention_2":
        from transformers.utils import is_flash_attn_2_available

        if not is_flash_attn_2_available():
            raise ConfigError("train.attn_implementation=flash_attention_2 needs the flash-attn package and a GPU")
    if liger_kernel:
        # Patches transformers' Llama classes, so it must run before the model is built.
        from liger_kernel.transformers import apply_liger_kernel_to_llama

        # The fused linear cross-entropy reads lm_head.weight outside lm_head's forward, where ZeRO-3 has
        # not gathered it (only recent liger-kernel releases gather it themselves): not under ZeRO-3.
        fused_ce = zero3_config is None
        apply_liger_kernel_to_llama(rope=True, rms_norm=True, swiglu=True, cross_entropy=False,
                                    fused_linear_cross_entropy=fused_ce)
        log(f"liger-kernel: fused RMSNorm, RoPE, SwiGLU{' and linear cross-entropy' if fused_ce else ''}")
    if zero3_config is not None:
        # transformers' ZeRO-3 path (zero.Init + rank-0 init per module) is switched on by a live
        # HfDeepSpeedConfig; we keep it only while the model is built.
        from transformers.integrations import HfDeepSpeedConfig

        ds_flag = HfDeepSpeedConfig(zero3_config)  # noqa: F841 (held by a weak reference in transformers)
        model = LlamaForCausalLM._from_config(config, attn_implementation=attn_implementation, dtype=torch.float32)
        del ds_flag
    else:
        with no_init_weights():
            model = LlamaForCausalLM._from_config(config, attn_implementation=attn_implementation, dtype=torch.float32)
        model.initialize_weights()
        model.tie_weights()
    if activation_checkpointing:  # non-reentrant: works with ZeRO-3's hooks and inputs without grad
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model
