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
from kazllm.model_extend import PARTIAL, extend_model, resize_embeddings
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
    return _tiny_base_module().build_tiny_base(
        tmp_path_factory.mktemp("untied"),
        tie_word_embeddings=False,
        tokenizer_dir=qwen2_tokenizer_dir,
        seed=1,
    )


@pytest.mark.parametrize("which", ["tied", "untied"])
def test_extended_model_is_function_preserving_and_new_rows_are_means(
    which, tiny_qwen_base, untied_base, extended_tokenizer, tmp_path
):
    base_dir = tiny_qwen_base if which == "tied" else untied_base
    out = tmp_path / "ext"
    manifest = extend_model(base_dir, extended_tokenizer, out)
    base = AutoModelForCausalLM.from_pretrained(str(base_dir)).eval()
    ext = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    assert manifest["rows"] == ext.config.vocab_size == QWEN_SIZE + ADDED  # past Qwen2's 151,936 padded rows
    assert manifest["padding_rows_overwritten"] == QWEN_ROWS - QWEN_SIZE
    assert (
        manifest["rows_appended"] == QWEN_SIZE + ADDED - QWEN_ROWS == manifest["rows"] - manifest["base_rows"]
    )
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


def test_weights_shard_past_the_size_limit_and_the_manifest_names_the_base(
    tiny_qwen_base, extended_tokenizer, tmp_path
):
    import shutil

    stage = tmp_path / "tokenizer"  # a kazllm tokenizer stage directory: the tokenizer sits in hf/
    shutil.copytree(extended_tokenizer, stage / "hf")
    out = tmp_path / "ext"
    manifest = extend_model(tiny_qwen_base, stage, out, max_shard_size="10MB", dtype="bf16")
    assert manifest["dtype"] == "bfloat16" and manifest["tokenizer"] == str(stage / "hf")
    shards = sorted(out.glob("model-*.safetensors"))
    assert len(shards) >= 2 and (out / "model.safetensors.index.json").is_file()
    assert not list(out.glob("*.bin")) and not (out.with_name("ext.tmp")).exists()
    assert manifest["base"]["path"] == str(tiny_qwen_base.resolve()) and manifest["base"]["revision"] is None
    assert set(manifest["files"]) >= {"config.json", "tokenizer.json", "embedding_init.json", shards[0].name}
    assert json.loads((out / "extend_manifest.json").read_text(encoding="utf-8")) == manifest
    assert AutoModelForCausalLM.from_pretrained(str(out)).dtype == torch.bfloat16


def test_a_directory_in_the_hub_cache_records_its_commit(tiny_qwen_base, tmp_path, monkeypatch):
    sha = "0123456789abcdef0123456789abcdef01234567"
    snap = tmp_path / "hub" / "models--org--tiny" / "snapshots" / sha
    snap.parent.mkdir(parents=True)
    snap.symlink_to(tiny_qwen_base)
    assert resolve_pretrained(str(snap)).revision is None  # a symlink resolves to where it points ...
    real = tmp_path / "hub2" / "models--org--tiny" / "snapshots" / sha
    real.mkdir(parents=True)
    assert resolve_pretrained(str(real)).revision == sha  # ... a real snapshot directory names its commit
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

    remote = _save_variant(
        tiny_qwen_base, tmp_path / "remote", auto_map={"AutoModelForCausalLM": "modeling_x.X"}
    )
    pickle = _save_variant(tiny_qwen_base, tmp_path / "pickle")
    (pickle / "model.safetensors").rename(pickle / "pytorch_model.bin")
    gpt2 = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=QWEN_ROWS)).save_pretrained(
        str(gpt2)
    )
    from transformers import LlamaConfig, LlamaForCausalLM

    small = tmp_path / "small"  # 1,000 rows: not the model the tokenizer's base belongs to
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=1000,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    ).save_pretrained(str(small))
    cases = [
        (remote, "needs remote code (auto_map)"),
        (pickle, "only PyTorch pickle weights"),
        (gpt2, "is not LlamaForCausalLM"),
        (small, "vocabulary mismatch"),
        ("no-such-org/no-such-model", "neither a local directory nor reachable"),
    ]
    for base, message in cases:
        proc = run_kazllm(
            "model",
            "extend",
            "--base",
            str(base),
            "--tokenizer",
            str(extended_tokenizer),
            "--out",
            str(tmp_path / "out"),
        )
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


# ---------------------------------------------------------------------------------------------------
# resize_embeddings in memory (what the trainer reuses)
# ---------------------------------------------------------------------------------------------------


def _tiny_llama(rows: int, tied: bool):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=rows,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            tie_word_embeddings=tied,
        )
    ).eval()


def _init(base_n: int, size: int) -> dict:
    return {
        "base_vocab_size": base_n,
        "vocab_size": size,
        "new": {str(i): [i % base_n, (7 * i) % base_n, 3] for i in range(base_n, size)},
    }


@pytest.mark.parametrize("tied", [True, False])
def test_new_ids_in_padding_rows_overwrite_them_and_the_rest_are_appended(tied):
    model = _tiny_llama(rows=120, tied=tied)  # 100 tokens + 20 padding rows, as Qwen2's 151,851 + 85
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    init = _init(100, 130)
    assert resize_embeddings(model, init) == 30
    new_in, new_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert new_in.shape == new_out.shape == (130, 16) and model.config.vocab_size == 130
    assert torch.equal(new_in[:100], old_in[:100])  # old rows bit for bit
    for new_id, src in init["new"].items():  # ids 100-119 in the padding, 120-129 appended: all set
        assert torch.allclose(new_in[int(new_id)], old_in[src].mean(0))
        assert torch.allclose(new_out[int(new_id)], (old_in if tied else old_out)[src].mean(0))
    assert (new_out is new_in) == tied
    ids = torch.tensor([[1, 5, 99, 42]])
    assert model(torch.tensor([[1, 129]])).logits.shape[-1] == 130
    reference = _tiny_llama(rows=120, tied=tied)
    with torch.no_grad():
        assert torch.equal(model(ids).logits[..., :100], reference(ids).logits[..., :100])


def test_an_extension_inside_the_padding_keeps_the_matrix_size_and_the_unused_padding_rows():
    model = _tiny_llama(rows=120, tied=False)
    old_in = model.get_input_embeddings().weight.detach().clone()
    assert resize_embeddings(model, _init(100, 110)) == 10
    new_in = model.get_input_embeddings().weight
    assert new_in.shape[0] == 120 and model.config.vocab_size == 120
    assert torch.equal(new_in[110:], old_in[110:]) and torch.equal(new_in[:100], old_in[:100])


@pytest.mark.parametrize(
    "init, message",
    [
        (_init(130, 140), "extended from a base with 130 tokens, the model has 120 embedding rows"),
        ({**_init(100, 130), "new": {"99": [1]}}, "new id 99 is outside the extension's ids 100..129"),
        ({**_init(100, 130), "new": {"100": [100]}}, "source ids must be base ids, 0..99"),
        ({**_init(100, 130), "new": {"100": []}}, "source ids must be base ids"),
        ({"vocab_size": 130, "new": {}}, "missing field 'base_vocab_size'"),
        (
            {**_init(100, 130), "new": {str(i): [1] for i in range(100, 125)}},
            "new id 125 (and 4 more) has no source ids",
        ),
    ],
)
def test_a_bad_embedding_init_is_refused_before_any_row_changes(init, message):
    model = _tiny_llama(rows=120, tied=True)
    before = model.get_input_embeddings().weight.detach().clone()
    with pytest.raises(InputError) as e:
        resize_embeddings(model, init)
    assert message in str(e.value)
    assert torch.equal(model.get_input_embeddings().weight, before)


# ---------------------------------------------------------------------------------------------------
# Where the output goes: atomically, never over someone else's files
# ---------------------------------------------------------------------------------------------------


def test_out_dir_that_is_not_ours_or_is_an_input_is_refused(tiny_qwen_base, extended_tokenizer, tmp_path):
    foreign = tmp_path / "data"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty and holds no extend_manifest.json"):
        extend_model(tiny_qwen_base, extended_tokenizer, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    # the tokenizer extension's own extend_manifest.json does not make its directory ours
    with pytest.raises(InputError, match="would overwrite the input"):
        extend_model(tiny_qwen_base, extended_tokenizer, extended_tokenizer)
    with pytest.raises(InputError, match="would overwrite the input"):
        extend_model(tiny_qwen_base, extended_tokenizer, tiny_qwen_base.parent)
    assert (extended_tokenizer / "tokenizer.json").is_file() and (tiny_qwen_base / "config.json").is_file()
    with pytest.raises(InputError, match="--max-shard-size 'two gigs'"):
        extend_model(tiny_qwen_base, extended_tokenizer, tmp_path / "x", max_shard_size="two gigs")
    with pytest.raises(InputError, match="--dtype must be one of"):
        extend_model(tiny_qwen_base, extended_tokenizer, tmp_path / "x", dtype="int8")


def test_a_rerun_replaces_an_earlier_output_and_an_interrupted_one(
    tiny_qwen_base, extended_tokenizer, tmp_path
):
    out = tmp_path / "ext"
    first = extend_model(tiny_qwen_base, extended_tokenizer, out)
    (out / "stale.txt").write_text("from the first run")
    leftover = tmp_path / "ext.tmp"  # what a crash mid-save leaves: no manifest, our marker
    leftover.mkdir()
    (leftover / PARTIAL).touch()
    (leftover / "model.safetensors").write_bytes(b"half")
    second = extend_model(tiny_qwen_base, extended_tokenizer, out)
    assert not leftover.exists() and not (out / "stale.txt").exists()
    assert second["files"] == first["files"] and not (out / PARTIAL).exists()
    assert (out / "tokenizer_extend_manifest.json").is_file()  # the tokenizer's provenance travels along


def test_a_foreign_tmp_dir_beside_the_output_is_left_alone(tiny_qwen_base, extended_tokenizer, tmp_path):
    (tmp_path / "ext.tmp").mkdir()
    (tmp_path / "ext.tmp" / "keep.txt").write_text("not kazllm's")
    with pytest.raises(InputError, match="is not an unfinished `kazllm model extend`"):
        extend_model(tiny_qwen_base, extended_tokenizer, tmp_path / "ext")
    assert (tmp_path / "ext.tmp" / "keep.txt").is_file()


# ---------------------------------------------------------------------------------------------------
# Resolving a base: local directories, the HF cache, hub ids offline
# ---------------------------------------------------------------------------------------------------


SHA = "89abcdef0123456789abcdef0123456789abcdef"


def _fake_hub_cache(root, repo="org--tiny", ref="main"):
    """The HF cache layout snapshot_download reads offline: refs/<branch> -> commit, snapshots/<commit>/."""
    storage = root / f"models--{repo}"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / ref).write_text(SHA)
    snap = storage / "snapshots" / SHA
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    return snap


def test_a_hub_id_resolves_offline_from_the_hf_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    snap = _fake_hub_cache(tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    for spec in ("org/tiny", "org/tiny@main", f"org/tiny@{SHA}"):
        got = resolve_pretrained(spec, "--base")
        assert (got.path, got.repo_id, got.revision, got.source) == (snap.resolve(), "org/tiny", SHA, spec)
    with pytest.raises(InputError, match="--base: 'org/tiny@v2' is neither a local directory nor reachable"):
        resolve_pretrained("org/tiny@v2", "--base")  # a branch the cache has never seen


def test_a_local_directory_wins_relative_to_the_cwd_then_to_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "tiny").mkdir(parents=True)  # spelled like a hub id, but it is here
    got = resolve_pretrained("org/tiny")
    assert (got.path, got.repo_id, got.revision) == ((tmp_path / "org" / "tiny").resolve(), None, None)
    assert resolve_pretrained("configs/model").path == (REPO / "configs" / "model").resolve()
    snap = _fake_hub_cache(tmp_path / "cache")
    assert (resolve_pretrained(str(snap)).repo_id, resolve_pretrained(str(snap)).revision) == (
        "org/tiny",
        SHA,
    )
    with pytest.raises(InputError, match="is a file"):
        resolve_pretrained(str(snap / "config.json"))
    with pytest.raises(InputError, match="empty"):
        resolve_pretrained("  ")
    with pytest.raises(InputError, match="neither a local directory nor a hub id"):
        resolve_pretrained("./no/such/dir/")


def test_an_index_naming_missing_shards_is_an_incomplete_download(tmp_path):
    base = tmp_path / "partial"
    base.mkdir()
    (base / "config.json").write_text(
        json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    )
    (base / "model-00001-of-00002.safetensors").write_bytes(b"")
    (base / "model.safetensors.index.json").write_text(
        json.dumps(
            {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
        )
    )
    with pytest.raises(
        InputError, match="names 1 shard.*model-00002-of-00002.safetensors.*incomplete download"
    ):
        check_llama_checkpoint(base, "--base")
    (base / "model-00002-of-00002.safetensors").write_bytes(b"")
    assert check_llama_checkpoint(base, "--base")["model_type"] == "llama"
