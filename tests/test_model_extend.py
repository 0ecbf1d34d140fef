"""kazllm model extend: a Llama checkpoint with Qwen2's real tokenizer, resized to a Kazakh-extended one.
On text that uses only old ids the logits over the old vocabulary are exactly the base model's."""

import importlib.util
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from data_prep.tokenizer_extend import extend_tokenizer, read_training_lines
from kazllm.errors import InputError
from kazllm.hub import check_llama_checkpoint, resolve_pretrained
from kazllm.model_extend import extend_model
from tests.conftest import REPO, SAMPLE, run_kazllm

QWEN_SIZE, QWEN_ROWS, ADDED = 151851, 151936, 300
KK = "Қазақстан Республикасының астанасы — Астана қаласы, ол Есіл өзенінің жағасында орналасқан."
EN = "The capital of Kazakhstan is Astana, a city on the banks of the Ishim river."


def _tiny_base_module():
    spec = importlib.util.spec_from_file_location("make_tiny_base", REPO / "scripts" / "make_tiny_base.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def extended_tokenizer(qwen2_tokenizer_dir, tmp_path_factory):
    train = [f"kk={p}" for p in sorted((SAMPLE / "written").glob("kk_*.txt")) if p.name != "kk_heldout.txt"]
    out = tmp_path_factory.mktemp("ext_tok")
    extend_tokenizer(qwen2_tokenizer_dir, out, read_training_lines(train), max_new=ADDED)
    return out


@pytest.fixture(scope="module")
def untied_base(qwen2_tokenizer_dir, tmp_path_factory):
    return _tiny_base_module().build_tiny_base(tmp_path_factory.mktemp("untied"), tie_word_embeddings=False,
                                               tokenizer_dir=qwen2_tokenizer_dir, seed=1)


@pytest.mark.parametrize("which", ["tied", "untied"])
def test_extended_model_is_function_preserving_and_new_rows_are_means(which, tiny_qwen_base, untied_base,
                                                                      extended_tokenizer, tmp_path):
    base_dir = tiny_qwen_base if which == "tied" else untied_base
    out = tmp_path / "ext"
    manifest = extend_model(base_dir, extended_tokenizer, out)
    base = AutoModelForCausalLM.from_pretrained(str(base_dir)).eval()
    ext = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    assert manifest["rows"] == ext.config.vocab_size == QWEN_SIZE + ADDED  # past Qwen2's 151,936 padded rows
    assert manifest["tied_embeddings"] == (which == "tied") == ext.config.tie_word_embeddings
    # old rows bit-identical, new rows the mean of their base sub-token rows (in the padding and appended)
    old_in, new_in = base.get_input_embeddings().weight, ext.get_input_embeddings().weight
    assert torch.equal(new_in[:QWEN_SIZE], old_in[:QWEN_SIZE])
    mapping = json.loads((out / "embedding_init.json").read_text(encoding="utf-8"))["new"]
    for new_id, src in list(mapping.items())[:40] + list(mapping.items())[-40:]:
        assert torch.allclose(new_in[int(new_id)], old_in[src].mean(0))
        if which == "untied":
            assert torch.allclose(ext.lm_head.weight[int(new_id)], base.lm_head.weight[src].mean(0))
    if which == "tied":
        assert ext.lm_head.weight.data_ptr() == ext.get_input_embeddings().weight.data_ptr()
    # function preservation: the same old ids give exactly the same logits over the old vocabulary
    old_tok = AutoTokenizer.from_pretrained(str(base_dir))
    for text in (KK, EN):
        ids = old_tok(text, return_tensors="pt").input_ids
        with torch.no_grad():
            a, b = base(ids).logits, ext(ids).logits
        assert torch.equal(b[..., :QWEN_SIZE], a[..., :QWEN_SIZE])
    # the extended tokenizer saved with it uses the new rows on Kazakh text
    new_tok = AutoTokenizer.from_pretrained(str(out))
    ids = new_tok(KK, return_tensors="pt").input_ids
    assert ids.max() >= QWEN_SIZE and ext(ids).logits.shape[-1] == QWEN_SIZE + ADDED


def test_weights_shard_past_the_size_limit_and_the_manifest_names_the_base(tiny_qwen_base, extended_tokenizer, tmp_path):
    out = tmp_path / "ext"
    manifest = extend_model(tiny_qwen_base, extended_tokenizer, out, max_shard_size="10MB")
    shards = sorted(out.glob("model-*.safetensors"))
    assert len(shards) >= 2 and (out / "model.safetensors.index.json").is_file()
    assert not list(out.glob("*.bin")) and not (out.with_name("ext.tmp")).exists()
    assert manifest["base"]["path"] == str(tiny_qwen_base.resolve()) and manifest["base"]["revision"] is None
    assert set(manifest["files"]) >= {"config.json", "tokenizer.json", "embedding_init.json", shards[0].name}
    assert json.loads((out / "extend_manifest.json").read_text(encoding="utf-8")) == manifest
    AutoModelForCausalLM.from_pretrained(str(out))


def test_a_directory_in_the_hub_cache_records_its_commit(tiny_qwen_base, tmp_path, monkeypatch):
    sha = "0123456789abcdef0123456789abcdef01234567"
    snap = tmp_path / "hub" / "models--org--tiny" / "snapshots" / sha
    snap.parent.mkdir(parents=True)
    snap.symlink_to(tiny_qwen_base)
    assert resolve_pretrained(str(snap)).revision is None  # a symlink resolves to where it points ...
    real = tmp_path / "hub2" / "models--org--tiny" / "snapshots" / sha
    real.mkdir(parents=True)
    assert resolve_pretrained(str(real)).revision == sha   # ... a real snapshot directory names its commit
    with pytest.raises(InputError, match="neither a local directory nor reachable on the hub"):
        resolve_pretrained("no-such-org/no-such-model@main")  # HF_HUB_OFFLINE=1 in the tests


def _save_variant(base, out, **config_changes):
    import shutil

    shutil.copytree(base, out)
    cfg = json.loads((out / "config.json").read_text())
    cfg.update(config_changes)
    (out / "config.json").write_text(json.dumps(cfg))
    return out


def test_bad_bases_get_one_line_errors(tiny_qwen_base, extended_tokenizer, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    remote = _save_variant(tiny_qwen_base, tmp_path / "remote", auto_map={"AutoModelForCausalLM": "modeling_x.X"})
    pickle = _save_variant(tiny_qwen_base, tmp_path / "pickle")
    (pickle / "model.safetensors").rename(pickle / "pytorch_model.bin")
    gpt2 = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=QWEN_ROWS)).save_pretrained(str(gpt2))
    from transformers import LlamaConfig, LlamaForCausalLM

    small = tmp_path / "small"  # 1,000 rows: not the model the tokenizer's base belongs to
    LlamaForCausalLM(LlamaConfig(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(str(small))
    cases = [(remote, "needs remote code (auto_map)"), (pickle, "only PyTorch pickle weights"),
             (gpt2, "is not LlamaForCausalLM"), (small, "vocabulary mismatch"),
             ("no-such-org/no-such-model", "neither a local directory nor reachable")]
    for base, message in cases:
        proc = run_kazllm("model", "extend", "--base", str(base), "--tokenizer", str(extended_tokenizer),
                          "--out", str(tmp_path / "out"))
        assert proc.returncode == 2 and message in proc.stderr, (base, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    with pytest.raises(InputError, match="needs remote code"):
        check_llama_checkpoint(remote)


def test_a_tokenizer_extended_from_another_base_is_refused(untied_base, extended_tokenizer, tmp_path):
    """The base ships a tokenizer that is not the one the extension started from."""
    import shutil

    other = tmp_path / "other"
    shutil.copytree(untied_base, other)
    tok = json.loads((other / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    a, b = next(iter(vocab)), list(vocab)[1]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    (other / "tokenizer.json").write_text(json.dumps(tok), encoding="utf-8")
    with pytest.raises(InputError, match="was not extended from the tokenizer of"):
        extend_model(other, extended_tokenizer, tmp_path / "out")
