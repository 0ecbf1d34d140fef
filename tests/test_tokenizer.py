"""tokenizer train: sentencepiece and the exported Hugging Face tokenizer give identical ids."""

import json

import pytest
import sentencepiece as spm
from transformers import AutoTokenizer

from data_prep.tokenizer import PARITY_EDGE_CASES, check_parity, export_hf_tokenizer, run_tokenizer_train
from kazllm.errors import InputError, KazllmError
from tests.conftest import SHARED_DATA


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
    with pytest.raises(
        KazllmError,
        match=r"(?s)tokenizer parity failed on \d+ of \d+ lines:\n.*' leading space'\n    spm: \[",
    ):
        check_parity(tok_dir / "spm.model", stock, [])
    ours = tmp_path / "ours"
    export_hf_tokenizer(tok_dir / "spm.model", ours)
    assert check_parity(tok_dir / "spm.model", ours, [" двойной  пробел"]) == len(PARITY_EDGE_CASES) + 1


def test_training_without_prep_output_is_a_clear_error(tmp_path):
    from kazllm.config import load_config

    cfg = load_config(None, [f"run.out_dir={tmp_path}"])
    with pytest.raises(InputError, match="run `kazllm prep` first"):
        run_tokenizer_train(cfg)


# --- language sampling, --input, chat tokens, report --------------------------------------------------


def test_language_weights_share_the_byte_cap_and_short_languages_give_all_they_have():
    from data_prep.tokenizer import sample_by_language

    groups = {
        "kk": ["қазақ сөзі"] * 1000,
        "ru": ["русское слово"] * 1000,
        "en": ["short"] * 10,
        "xx": ["other"] * 50,
    }
    drawn = sample_by_language(
        groups, {"kk": 0.7, "ru": 0.15, "en": 0.1, "tr": 0.05}, max_bytes=10_000, max_lines=10**6, seed=1
    )
    lines, summary = drawn.lines, drawn.languages
    assert set(summary) == {"kk", "ru", "en"}  # tr has no text, xx has no weight
    assert summary["en"]["lines"] == 10  # all of it, once (max_upsample=1)
    en_bytes = summary["en"]["bytes"]
    # en's unused share goes to kk and ru in their ratio 0.7 : 0.15
    assert abs(summary["kk"]["bytes"] / summary["ru"]["bytes"] - 0.7 / 0.15) < 0.1
    assert 10_000 - en_bytes <= summary["kk"]["bytes"] + summary["ru"]["bytes"] < 10_000 - en_bytes + 40
    assert "other" not in lines
    up = sample_by_language(
        groups, {"kk": 0.5, "en": 0.5}, max_bytes=400, max_lines=10**6, seed=1, max_upsample=3
    ).languages
    assert up["en"]["lines"] == 30  # repeated 3 times, still short of its 200-byte share
    # nothing named in the weights: every line counts
    plain = sample_by_language({"und": ["a", "b"]}, {"kk": 1.0}, 10**6, 10**6, seed=1)
    assert sorted(plain.lines) == ["a", "b"] and plain.languages["und"]["lines"] == 2


def test_the_sample_streams_the_corpus_and_never_repeats_a_line_of_a_sampled_down_language():
    from data_prep.tokenizer import sample_by_language

    passes = []

    def paragraphs():  # a re-readable stream: the sampler reads it twice (sizes, then the draw)
        passes.append(1)
        return ((("kk" if i % 4 else "ru"), f"жол {i}") for i in range(20_000))

    drawn = sample_by_language(
        paragraphs, {"kk": 0.5, "ru": 0.5}, max_bytes=50_000, max_lines=10**6, seed=3, check_lines=100
    )
    assert len(passes) == 2
    assert len(drawn.lines) == len(set(drawn.lines))  # sampled down: every line at most once
    for lang in ("kk", "ru"):
        assert 25_000 <= drawn.languages[lang]["bytes"] < 25_000 + 20  # exactly its share, not 1.2x
    assert len(drawn.check) == 100 and len(set(drawn.check)) == 100  # from all the text ...
    assert len(drawn.kk_check) == 100 and all(
        int(x.split()[1]) % 4 for x in drawn.kk_check
    )  # ... and Kazakh only


def test_train_from_own_files_with_chat_tokens(tmp_path):
    from tests.conftest import SAMPLE, run_kazllm

    written = SAMPLE / "written"
    out = tmp_path / "tok"
    r = run_kazllm(
        "tokenizer",
        "train",
        "--input",
        f"kk={written / 'kk_news.txt'}",
        str(written / "kk_science.txt"),
        f"ru={written / 'ru_docs.txt'}",
        "--vocab-size",
        "1200",
        "--out",
        str(out),
        "tokenizer.parity_lines=300",
        f"run.out_dir={tmp_path / 'run'}",
    )
    assert r.returncode == 0, r.stderr
    assert "parity OK" in r.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["languages"]) == {"kk", "ru"}  # the bare path is "und": no weight, left out
    assert manifest["chat_tokens"] == {t: 4 + i for i, t in enumerate(manifest["chat_tokens"])}
    hf = AutoTokenizer.from_pretrained(str(out / "hf"))
    sp = spm.SentencePieceProcessor(model_file=str(out / "spm.model"))
    assert hf.is_fast and len(hf) == 1200 == sp.get_piece_size()
    chat = "<|user|> Сәлем!<|end|>\n<|assistant|>  Қалың қалай?<|end|>"
    assert hf(chat, add_special_tokens=False)["input_ids"] == sp.encode(chat)
    assert (
        hf.convert_tokens_to_ids("<|user|>") == 5
        and hf.decode(hf(chat)["input_ids"], skip_special_tokens=True) == chat
    )


def test_report_table_and_json(sample_run, tmp_path):
    from tests.conftest import SAMPLE, run_kazllm

    text = SAMPLE / "eval" / "heldout_kk.txt"
    other = tmp_path / "other"
    AutoTokenizer.from_pretrained(str(sample_run.stage_dir("tokenizer") / "hf")).save_pretrained(str(other))
    r = run_kazllm(
        "tokenizer",
        "report",
        "--tokenizer",
        str(sample_run.stage_dir("tokenizer")),
        "--compare",
        str(other),
        "--json",
        str(tmp_path / "r.json"),
        str(text),
        f"ru={SAMPLE / 'written' / 'ru_docs.txt'}",
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads((tmp_path / "r.json").read_text())
    assert [(x["tokenizer"], x["language"]) for x in rows] == [
        ("tokenizer", "kk"),
        ("tokenizer", "ru"),
        ("other", "kk"),
        ("other", "ru"),
    ]
    kk = rows[0]
    assert kk["tokens_per_word"] == round(kk["tokens"] / kk["words"], 4) and 1.0 < kk["tokens_per_word"] < 3.5
    assert kk["bytes_per_token"] > 2 and 0 <= kk["byte_fallback_rate"] < 0.01
    assert (
        rows[1]["tokens_per_word"] > kk["tokens_per_word"]
    )  # a Kazakh-only 2k vocabulary spends more on Russian
    assert "| tokenizer | kk | heldout_kk.txt |" in r.stdout


@pytest.mark.skipif(not (SHARED_DATA / "text_mix").is_dir(), reason="needs ../shared/data")
def test_shared_corpora_tokenizer_parity_on_ntrex(tmp_path):
    """A small tokenizer on text_mix (NTREX lines removed) matches sentencepiece on unseen NTREX lines."""
    from data_prep.tokenizer import check_parity, run_tokenizer_train
    from kazllm.config import load_config

    ntrex = SHARED_DATA / "ntrex128"
    held = {
        x.strip()
        for f in ntrex.glob("newstest2019-*.txt")
        for x in f.read_text(encoding="utf-8").splitlines()
    }
    specs = []
    for lang in ("kk", "ru", "en"):
        lines = [
            x
            for x in (SHARED_DATA / "text_mix" / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
            if x.strip() and x.strip() not in held
        ][:3000]
        (tmp_path / f"{lang}.txt").write_text("\n".join(lines), encoding="utf-8")
        specs.append(f"{lang}={tmp_path / f'{lang}.txt'}")
    cfg = load_config(
        None, ["tokenizer.vocab_size=2000", "tokenizer.parity_lines=200", "tokenizer.split_by_script=false"]
    )
    run_tokenizer_train(cfg, inputs=specs, out_dir=tmp_path / "tok")
    test = [
        x
        for f in ("newstest2019-ref.kaz.txt", "newstest2019-ref.rus.txt", "newstest2019-src.eng.txt")
        for x in (ntrex / f).read_text(encoding="utf-8").splitlines()[:300]
    ]
    assert check_parity(tmp_path / "tok" / "spm.model", tmp_path / "tok" / "hf", test) > 900
