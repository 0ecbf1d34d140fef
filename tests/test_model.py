"""kazllm.model: the LlamaConfig a run gets, its counts by hand, the decoder's forward pass, and the
Hugging Face directory a run continues from (model.init_from).

Preset coverage (every preset's count against a real build, the published Llama 3 counts, bad presets) is in
test_train.py; these tests use the CPU size, debug-tiny, with a 300-token vocabulary.
"""

import pytest
import torch

from kazllm.config import ModelSection
from kazllm.errors import ConfigError, InputError
from kazllm.model import (
    architecture,
    build_llama_config,
    build_model,
    count_parameters,
    describe,
    flops_per_token,
    load_pretrained,
    pretrained_llama_config,
)

VOCAB = 300


def tiny(preset="debug-tiny", **overrides):
    return build_llama_config(ModelSection(preset=preset, overrides=overrides), VOCAB, 1, 2, 0)


def tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    return build_model(tiny(**overrides), "sdpa").eval()


# --- the config -------------------------------------------------------------------------------------


def test_an_empty_preset_is_debug_tiny():
    assert architecture(tiny("")) == architecture(tiny("debug-tiny"))


def test_the_config_carries_the_tokenizer_ids_and_llama3_defaults():
    c = tiny()
    assert (c.vocab_size, c.bos_token_id, c.eos_token_id, c.pad_token_id) == (VOCAB, 1, 2, 0)
    assert (c.hidden_act, c.rms_norm_eps, c.attention_bias, c.mlp_bias) == ("silu", 1e-5, False, False)


def test_debug_tiny_is_a_small_gqa_decoder():
    assert architecture(tiny()) == {
        "hidden_size": 128,
        "intermediate_size": 352,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
        "tie_word_embeddings": True,
    }


# --- counts by hand ---------------------------------------------------------------------------------

# debug-tiny: hidden 128, MLP 352, 4 layers, 4 query heads and 2 KV heads of 32.
ATTENTION = 2 * 128 * 32 * 4 + 2 * 128 * 32 * 2  # q and o, then k and v
LAYER = ATTENTION + 3 * 128 * 352 + 2 * 128  # + SwiGLU's gate, up, down + two RMSNorms
BODY = 4 * LAYER + 128  # + the final RMSNorm
EMBEDDING = VOCAB * 128


def test_parameter_count_by_hand_tied_and_untied():
    assert BODY == 738_432  # the "~0.74M non-embedding parameters" of configs/model/debug-tiny.yaml
    assert count_parameters(tiny()) == BODY + EMBEDDING
    assert count_parameters(tiny(tie_word_embeddings=False)) == BODY + 2 * EMBEDDING
    assert count_parameters(tiny()) == sum(p.numel() for p in tiny_model().parameters())


def test_flops_per_token_by_hand_and_tying_does_not_change_them():
    """6 FLOPs per matmul weight (the output projection is one, the input lookup is not) + 12·L·H·Q·T."""
    attention = 12 * 4 * 4 * 32 * 64
    assert flops_per_token(tiny(), 64) == 6 * (BODY + EMBEDDING) + attention
    assert flops_per_token(tiny(tie_word_embeddings=False), 64) == flops_per_token(tiny(), 64)
    assert flops_per_token(tiny(), 128) - flops_per_token(tiny(), 64) == attention  # linear in seq_len


def test_describe_is_one_line_with_size_shape_and_cost():
    line = describe(tiny(), 64)
    assert "\n" not in line
    assert line.startswith(f"{(BODY + EMBEDDING) / 1e6:.2f}M parameters (4 layers x 128, 4 heads / 2 KV")
    assert "tied embeddings" in line and line.endswith("GFLOPs/token at seq 64")


# --- the forward pass -------------------------------------------------------------------------------


def test_forward_gives_fp32_logits_for_every_position_and_token():
    ids = torch.randint(0, VOCAB, (2, 16))
    with torch.no_grad():
        logits = tiny_model()(input_ids=ids).logits
    assert logits.shape == (2, 16, VOCAB) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_a_later_token_never_changes_the_logits_before_it():
    model = tiny_model()
    ids = torch.randint(0, VOCAB, (1, 16))
    changed = ids.clone()
    changed[0, 10] = (ids[0, 10] + 1) % VOCAB
    with torch.no_grad():
        a, b = model(input_ids=ids).logits, model(input_ids=changed).logits
    torch.testing.assert_close(a[:, :10], b[:, :10], rtol=0, atol=1e-6)
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_the_seed_decides_the_initial_weights():
    same, other = tiny_model(seed=0).state_dict(), tiny_model(seed=1).state_dict()
    assert all(torch.equal(v, same[k]) for k, v in tiny_model(seed=0).state_dict().items())
    key = "model.layers.0.mlp.up_proj.weight"
    assert not torch.equal(same[key], other[key])


# --- a Hugging Face directory as the start of a run (model.init_from) -----------------------------------


@pytest.fixture
def saved(tmp_path):
    """debug-tiny saved as a Hugging Face LlamaForCausalLM directory (config.json + safetensors)."""
    model = tiny_model()
    model.save_pretrained(tmp_path / "base")
    return tmp_path / "base", model


def test_weights_round_trip_through_the_hugging_face_format(saved):
    path, model = saved
    config = pretrained_llama_config(path, ModelSection(init_from=str(path)))
    assert architecture(config) == architecture(model.config) and config.vocab_size == VOCAB
    loaded = load_pretrained(path, config, "sdpa").eval()
    assert loaded.dtype == torch.float32
    assert loaded.state_dict().keys() == model.state_dict().keys()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())
    ids = torch.randint(0, VOCAB, (2, 12))
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)


def test_build_model_with_init_path_starts_from_the_saved_weights(saved):
    path, model = saved
    torch.manual_seed(123)  # a different seed: the weights must come from the directory, not the RNG
    started = build_model(pretrained_llama_config(path, ModelSection()), "sdpa", init_path=path)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in started.state_dict().items())


def test_a_checkpoint_that_does_not_fill_the_model_is_an_input_error(saved):
    path, _ = saved
    deeper = pretrained_llama_config(path, ModelSection())
    deeper.num_hidden_layers = 5  # layer 4 is not in the checkpoint: it would silently be a random init
    with pytest.raises(InputError, match=r"does not fill the model \(model\.layers\.4\."):
        load_pretrained(path, deeper, "sdpa")


def test_overrides_on_a_checkpoint_may_change_fields_without_weights(saved):
    path, _ = saved
    overrides = {"max_position_embeddings": 4096, "rope_theta": 50000.0}
    model = ModelSection(init_from=str(path), overrides=overrides)
    config = pretrained_llama_config(path, model)
    assert config.max_position_embeddings == 4096 and config.rope_parameters["rope_theta"] == 50000.0
    assert architecture(config) == architecture(tiny())


def test_overrides_that_change_a_checkpoints_shape_are_refused(saved):
    path, _ = saved
    overrides = {"num_hidden_layers": 2, "max_position_embeddings": 4096}  # only the first is a shape
    model = ModelSection(init_from=str(path), overrides=overrides)
    message = r"cannot change the shape .* \(num_hidden_layers: checkpoint 4, override 2\): remove them"
    with pytest.raises(ConfigError, match=message):
        pretrained_llama_config(path, model)


def test_a_preset_named_with_a_checkpoint_must_describe_its_shape(saved):
    path, _ = saved
    matching = pretrained_llama_config(path, ModelSection(preset="debug-tiny"))
    assert architecture(matching) == architecture(tiny())
    with pytest.raises(ConfigError, match="preset '125m' does not match .*hidden_size 768 vs 128"):
        pretrained_llama_config(path, ModelSection(preset="125m", init_from=str(path)))
