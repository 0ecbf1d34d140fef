"""tokenizer extend: a base BPE tokenizer gains our Kazakh pieces, keeps every old id, and uses them."""

import json

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from data_prep.tokenizer_extend import extend_tokenizer, init_new_embeddings
from data_prep.tokenizer_report import measure
from tests.conftest import SAMPLE

KK_HELDOUT = SAMPLE / "eval" / "heldout_kk.txt"


def _save(tok: Tokenizer, out, **special) -> None:
    PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False, **special).save_pretrained(str(out))


@pytest.fixture(scope="module")
def byte_level_base(tmp_path_factory):
    """A Llama-3-style base: byte-level BPE trained on English and Russian text, specials after the vocab."""
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train([str(SAMPLE / "written" / "en_docs.txt"), str(SAMPLE / "written" / "ru_docs.txt")], trainer)
    tok.add_special_tokens(["<|begin_of_text|>", "<|end_of_text|>"])
    out = tmp_path_factory.mktemp("base_bl")
    _save(tok, out, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")
    return out


@pytest.fixture(scope="module")
def spm_style_base(tmp_path_factory):
    """A sentencepiece-style base: BPE over ▁-words with byte fallback, trained on English only."""
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    bytes_ = [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>", *bytes_], show_progress=False)
    tok.train([str(SAMPLE / "written" / "en_docs.txt")], trainer)
    out = tmp_path_factory.mktemp("base_spm")
    _save(tok, out, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    return out


@pytest.mark.parametrize("base_fixture", ["byte_level_base", "spm_style_base"])
def test_extension_keeps_old_ids_and_lowers_kazakh_fertility(base_fixture, request, sample_run, tmp_path):
    base = request.getfixturevalue(base_fixture)
    out = tmp_path / "ext"
    result = extend_tokenizer(base, sample_run.stage_dir("tokenizer"), out, eval_files=[f"kk={KK_HELDOUT}"])
    old_json = json.loads((base / "tokenizer.json").read_text(encoding="utf-8"))
    new_json = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    # every old token, added ones included, keeps its id
    for token, i in old_json["model"]["vocab"].items():
        assert new_json["model"]["vocab"][token] == i
    assert [(t["content"], t["id"]) for t in old_json["added_tokens"]] == \
        [(t["content"], t["id"]) for t in new_json["added_tokens"]]
    assert result["added"] > 300
    old_tok, new_tok = AutoTokenizer.from_pretrained(str(base)), AutoTokenizer.from_pretrained(str(out))
    assert new_tok.is_fast and len(new_tok) == result["vocab_size"]
    # the new pieces are really used on unseen Kazakh text, inside words, and the text decodes unchanged
    lines = [x for x in KK_HELDOUT.read_text(encoding="utf-8").splitlines() if x.strip()]
    ids = new_tok(lines, add_special_tokens=False)["input_ids"]
    used_new = {i for row in ids for i in row if i >= result["base_vocab_size"]}
    assert len(used_new) > 100
    assert new_tok.decode(ids[0]) == old_tok.decode(old_tok(lines[0], add_special_tokens=False)["input_ids"])
    before, after = measure(old_tok, lines)["tokens_per_word"], measure(new_tok, lines)["tokens_per_word"]
    assert after < 0.75 * before
    assert result["fertility"] == [{"language": "kk", "file": str(KK_HELDOUT), "before": before, "after": after}]
    # the mapping: every new id -> the old ids that spell the same text
    mapping = json.loads((out / "embedding_init.json").read_text(encoding="utf-8"))
    new_id, old_ids = next(iter(mapping["new"].items()))
    assert int(new_id) == result["base_vocab_size"]
    assert new_tok.decode([int(new_id)]).strip() == old_tok.decode(old_ids).strip()
    assert all(i < result["base_vocab_size"] for olds in mapping["new"].values() for i in olds)


def test_new_embeddings_are_the_mean_of_their_old_sub_tokens(byte_level_base, sample_run, tmp_path):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = tmp_path / "ext"
    result = extend_tokenizer(byte_level_base, sample_run.stage_dir("tokenizer"), out)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=result["base_vocab_size"], hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                         tie_word_embeddings=False))
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    assert init_new_embeddings(model, out / "embedding_init.json") == result["added"]
    new_in, new_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert new_in.shape[0] == new_out.shape[0] == result["vocab_size"]
    assert torch.equal(new_in[: result["base_vocab_size"]], old_in)
    mapping = json.loads((out / "embedding_init.json").read_text(encoding="utf-8"))["new"]
    for new_id, old_ids in list(mapping.items())[:50]:
        assert torch.allclose(new_in[int(new_id)], old_in[old_ids].mean(0))
        assert torch.allclose(new_out[int(new_id)], old_out[old_ids].mean(0))
    ids = AutoTokenizer.from_pretrained(str(out))("Қазақстан Республикасы", return_tensors="pt").input_ids
    assert model(ids).logits.shape[-1] == result["vocab_size"]


def test_a_unigram_base_is_refused_clearly(tmp_path, sample_run):
    from kazllm.errors import InputError

    tok = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0)], 0))
    _save(tok, tmp_path / "uni", unk_token="<unk>")
    with pytest.raises(InputError, match="needs a BPE base tokenizer, got model type 'Unigram'"):
        extend_tokenizer(tmp_path / "uni", sample_run.stage_dir("tokenizer"), tmp_path / "out")
