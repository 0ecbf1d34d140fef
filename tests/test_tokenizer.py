"""tokenizer train: sentencepiece and the exported Hugging Face tokenizer give identical ids."""

import json

import pytest
import sentencepiece as spm
from transformers import AutoTokenizer

from data_prep.tokenizer import PARITY_EDGE_CASES, check_parity, export_hf_tokenizer, run_tokenizer_train
from kazllm.errors import InputError, KazllmError


def test_hf_tokenizer_matches_sentencepiece_on_edge_cases_and_real_lines(sample_run):
    tok_dir = sample_run.stage_dir("tokenizer")
    sp = spm.SentencePieceProcessor(model_file=str(tok_dir / "spm.model"))
    hf = AutoTokenizer.from_pretrained(str(tok_dir / "hf"))
    assert hf.is_fast
    kept = next((sample_run.stage_dir("prep") / "kept").glob("*.jsonl"))
    lines = [json.loads(line)["text"] for line in kept.open(encoding="utf-8")][:50]
    for text in PARITY_EDGE_CASES + lines:
        assert hf(text, add_special_tokens=False)["input_ids"] == sp.encode(text), repr(text[:40])
    assert hf.decode(sp.encode("  Сәлем, әлем! 😀")) == "  Сәлем, әлем! 😀"


def test_special_tokens_and_manifest(sample_run):
    manifest = json.loads((sample_run.stage_dir("tokenizer") / "manifest.json").read_text())
    hf = AutoTokenizer.from_pretrained(str(sample_run.stage_dir("tokenizer") / "hf"))
    assert (hf.unk_token_id, hf.bos_token_id, hf.eos_token_id, hf.pad_token_id) == (0, 1, 2, 3)
    assert manifest["vocab_size"] == len(hf) == 2000
    assert 1.0 < manifest["kk_tokens_per_word"] < 3.5
    assert (sample_run.stage_dir("tokenizer") / "resolved_config.yaml").is_file()


def test_parity_check_fails_loudly_with_examples(sample_run, tmp_path):
    """A tokenizer directory that disagrees with sentencepiece (transformers' stock Llama conversion,
    which drops the dummy prefix before a leading space) must fail the check."""
    from transformers import LlamaTokenizer

    tok_dir = sample_run.stage_dir("tokenizer")
    stock = tmp_path / "stock"
    stock.mkdir()
    (stock / "tokenizer.model").write_bytes((tok_dir / "spm.model").read_bytes())
    LlamaTokenizer.from_pretrained(str(stock)).save_pretrained(str(stock))
    with pytest.raises(KazllmError, match=r"(?s)tokenizer parity failed on \d+ of \d+ lines:\n.*' leading space'\n    spm: \["):
        check_parity(tok_dir / "spm.model", stock, [])
    ours = tmp_path / "ours"
    export_hf_tokenizer(tok_dir / "spm.model", ours)
    assert check_parity(tok_dir / "spm.model", ours, [" двойной  пробел"]) == len(PARITY_EDGE_CASES) + 1


def test_training_without_prep_output_is_a_clear_error(tmp_path):
    from kazllm.config import load_config

    cfg = load_config(None, [f"run.out_dir={tmp_path}"])
    with pytest.raises(InputError, match="run `kazllm prep` first"):
        run_tokenizer_train(cfg)
