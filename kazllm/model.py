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

from kazllm.config import ModelSection, read_yaml_mapping, resolve_path
from kazllm.errors import ConfigError
from kazllm.resources import PRESET_DIR

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


def build_llama_config(
    model: ModelSection, vocab_size: int, bos_id: int, eos_id: int, pad_id: int
) -> LlamaConfig:
    """The LlamaConfig of a run: preset fields, then `model.overrides`, with our tokenizer's ids."""
    fields = {**load_preset(model.preset), **model.overrides}
    _known_fields(fields, f"preset '{model.preset}' or overrides")
    try:
        config = LlamaConfig(
            vocab_size=vocab_size,
            bos_token_id=bos_id,
            eos_token_id=eos_id,
            pad_token_id=pad_id,
            **{
                "rms_norm_eps": 1e-5,
                "attention_bias": False,
                "mlp_bias": False,
                "hidden_act": "silu",
                **fields,
            },
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model.overrides: {e}") from None
    if (
        config.hidden_size % config.num_attention_heads
        or config.num_attention_heads % config.num_key_value_heads
    ):
        raise ConfigError(
            f"model: hidden_size {config.hidden_size} must divide into num_attention_heads "
            f"{config.num_attention_heads}, and those into num_key_value_heads "
            f"{config.num_key_value_heads} groups"
        )
    return config


ARCHITECTURE_KEYS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "tie_word_embeddings",
)
"""Config fields that decide the shape of a weight other than the embeddings (whose rows follow the
tokenizer)."""


def architecture(config: LlamaConfig) -> dict[str, Any]:
    return {k: head_dim(config) if k == "head_dim" else getattr(config, k) for k in ARCHITECTURE_KEYS}


def _known_fields(fields: dict[str, Any], where: str) -> None:
    # rope_theta / rope_scaling: the 4.x spelling, which transformers 5 still converts into rope_parameters
    known = set(LlamaConfig().to_dict()) | {"rope_theta", "rope_scaling"}
    unknown = sorted(k for k in fields if k not in known)
    if unknown:  # LlamaConfig would keep a typo as an attribute and silently ignore it
        raise ConfigError(f"model: unknown LlamaConfig field(s) {', '.join(unknown)} ({where})")


def pretrained_llama_config(path, model: ModelSection) -> LlamaConfig:
    """The LlamaConfig of a run that continues a checkpoint (model.init_from, resolved to the directory
    `path`).

    The architecture is the checkpoint's own config.json, never a preset's, so the weights always fit.
    model.overrides may change fields without weights (max_position_embeddings, rope_theta, dropout...),
    not a shape (ConfigError). A model.preset given as well must agree with the checkpoint on every shape
    field: that is what lets `kazllm plan` size a remote checkpoint offline from the preset.
    """
    saved = LlamaConfig.from_pretrained(str(path))
    overrides = dict(model.overrides)
    _known_fields(overrides, "model.overrides")
    shape = {**architecture(saved), "vocab_size": saved.vocab_size}
    changed = [
        f"{k}: checkpoint {shape[k]!r}, override {v!r}"
        for k, v in overrides.items()
        if k in shape and v != shape[k]
    ]
    if changed:
        raise ConfigError(
            f"model.overrides cannot change the shape of model.init_from '{model.init_from}' "
            f"({'; '.join(changed)}): remove them"
        )
    fields = saved.to_dict()
    rope = dict(fields.get("rope_parameters") or {})
    if "rope_theta" in overrides:
        rope["rope_theta"] = overrides.pop("rope_theta")
    rope.update(overrides.pop("rope_scaling", None) or {})
    config = LlamaConfig.from_dict({**fields, **({"rope_parameters": rope} if rope else {}), **overrides})
    if model.preset:
        check_preset_matches(model, config)
    return config


def check_preset_matches(model: ModelSection, config: LlamaConfig) -> None:
    """A preset named together with model.init_from must describe the checkpoint's shape (ConfigError naming
    both)."""
    preset = build_llama_config(ModelSection(preset=model.preset), config.vocab_size, 1, 2, 0)
    ours, theirs = architecture(preset), architecture(config)
    diff = [f"{k} {ours[k]!r} vs {theirs[k]!r}" for k in ARCHITECTURE_KEYS if ours[k] != theirs[k]]
    if diff:
        raise ConfigError(
            f"model.preset '{model.preset}' does not match the checkpoint of model.init_from "
            f"'{model.init_from}' (preset vs checkpoint: {'; '.join(diff)}): fix or empty model.preset"
        )


def head_dim(config: LlamaConfig) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def count_parameters(config: LlamaConfig) -> int:
    """Parameters of a LlamaForCausalLM with this config, without building it (tested against a real
    build)."""
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
    n = count_parameters(config) - (
        0 if config.tie_word_embeddings else config.vocab_size * config.hidden_size
    )
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
    init_path=None,
):
    """A freshly initialised LlamaForCausalLM for training, or with init_path the weights of that directory.

    Initialisation draws from torch's global RNG in one fixed order (transformers' `_init_weights`,
    module by module), also under ZeRO-3, where `zero3_config` makes the parameters born partitioned
    (deepspeed.zero.Init: a 70B model never exists whole on one rank) and rank 0 initialises each module
    before it is scattered. So one seed gives the same weights on 1 rank or on N ZeRO-3 ranks.
    With init_path the weights are loaded instead (load_pretrained), under ZeRO-3 also born partitioned.
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
            raise ConfigError(
                "train.attn_implementation=flash_attention_2 needs the flash-attn package and a GPU"
            )
    if liger_kernel:
        # Patches transformers' Llama classes, so it must run before the model is built.
        from liger_kernel.transformers import apply_liger_kernel_to_llama

        # The fused linear cross-entropy reads lm_head.weight outside lm_head's forward, where ZeRO-3 has
        # not gathered it (only recent liger-kernel releases gather it themselves): not under ZeRO-3.
        fused_ce = zero3_config is None
        apply_liger_kernel_to_llama(
            rope=True, rms_norm=True, swiglu=True, cross_entropy=False, fused_linear_cross_entropy=fused_ce
        )
        log(f"liger-kernel: fused RMSNorm, RoPE, SwiGLU{' and linear cross-entropy' if fused_ce else ''}")
    if init_path is not None:
        model = load_pretrained(init_path, config, attn_implementation, zero3_config)
    elif zero3_config is not None:
        # transformers' ZeRO-3 path (zero.Init + rank-0 init per module) is switched on by a live
        # HfDeepSpeedConfig; we keep it only while the model is built.
        from transformers.integrations import HfDeepSpeedConfig

        ds_flag = HfDeepSpeedConfig(zero3_config)  # noqa: F841 (held by a weak reference in transformers)
        model = LlamaForCausalLM._from_config(
            config, attn_implementation=attn_implementation, dtype=torch.float32
        )
        del ds_flag
    else:
        with no_init_weights():
            model = LlamaForCausalLM._from_config(
                config, attn_implementation=attn_implementation, dtype=torch.float32
            )
        model.initialize_weights()
        model.tie_weights()
    if activation_checkpointing:  # non-reentrant: works with ZeRO-3's hooks and inputs without grad
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def load_pretrained(path, config: LlamaConfig, attn_implementation: str, zero3_config: dict | None = None):
    """LlamaForCausalLM.from_pretrained in fp32 (DeepSpeed casts to bf16 and keeps fp32 master weights).

    Under ZeRO-3 a live HfDeepSpeedConfig makes transformers build the model inside deepspeed.zero.Init
    and copy the checkpoint into the partitioned parameters (rank 0 reads the safetensors, memory-mapped;
    the other ranks only need shapes), so an 8B model is never whole on one GPU. Every weight must come
    from the checkpoint: a missing or mis-shaped one would silently be a random init, so it is an error.
    """
    import torch
    from transformers import LlamaForCausalLM

    from kazllm.errors import InputError

    kwargs = dict(
        config=config,
        dtype=torch.float32,
        attn_implementation=attn_implementation,
        use_safetensors=True,
        output_loading_info=True,
    )
    if zero3_config is not None:
        from transformers.integrations import HfDeepSpeedConfig

        ds_flag = HfDeepSpeedConfig(zero3_config)  # noqa: F841 (held by a weak reference in transformers)
        model, info = LlamaForCausalLM.from_pretrained(str(path), **kwargs)
        del ds_flag
    else:
        model, info = LlamaForCausalLM.from_pretrained(str(path), **kwargs)
    missing = sorted(
        k for k in info.get("missing_keys", ()) if not (config.tie_word_embeddings and k == "lm_head.weight")
    )
    problems = (
        missing + sorted(str(k) for k in info.get("mismatched_keys", ())) + list(info.get("error_msgs", ()))
    )
    if problems:
        raise InputError(f"{path}: the checkpoint does not fill the model ({', '.join(problems[:5])})")
    return model
