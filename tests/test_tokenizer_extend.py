"""tokenizer extend on a REAL checkpoint's tokenizer (Qwen2: 151,643 byte-level ranks, 208 special tokens
above them): new ids after the specials, every text decodes to itself, other scripts keep the base's ids,
and any --max-new cap keeps every merge chain whole."""

import json

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from data_prep.tokenizer import PARITY_EDGE_CASES
from data_prep.tokenizer_extend import extend_tokenizer, read_training_lines
from data_prep.tokenizer_report import measure
from tests.conftest import SAMPLE, SHARED_DATA, run_kazllm

KK_TRAIN = [f"kk={p}" for p in sorted((SAMPLE / "written").glob("kk_*.txt")) if p.name != "kk_heldout.txt"]
KK_HELDOUT = SAMPLE / "eval" / "heldout_kk.txt"
EN_TEXT = SAMPLE / "written" / "en_docs.txt"
NTREX = {
    lang: SHARED_DATA / "ntrex128" / f"newstest2019-{'src' if lang == 'eng' else 'ref'}.{lang}.txt"
    for lang in ("kaz", "rus", "eng", "kir", "tat", "bak", "bel", "ukr", "tur", "uzb")
}
QWEN_FIRST_SPECIAL, QWEN_SIZE = 151643, 151851


def _lines(path):
    return [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _extend(base, out, max_new, eval_files=()):
    return extend_tokenizer(
        base, out, read_training_lines(KK_TRAIN), eval_files=list(eval_files), max_new=max_new
    )


@pytest.fixture(scope="module")
def extended(qwen2_tokenizer_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("qwen2_kk")
    result = _extend(qwen2_tokenizer_dir, out, 3000, [f"kk={KK_HELDOUT}", f"en={EN_TEXT}"])
    return out, result


@pytest.fixture(scope="module")
def tokenizers_(qwen2_tokenizer_dir, extended):
    return AutoTokenizer.from_pretrained(str(qwen2_tokenizer_dir)), AutoTokenizer.from_pretrained(
        str(extended[0])
    )


def test_new_ids_come_after_the_special_tokens_and_none_is_special(
    qwen2_tokenizer_dir, extended, tokenizers_
):
    out, result = extended
    old, new = tokenizers_
    assert result["base_vocab_size"] == QWEN_SIZE and result["added"] == 3000
    assert len(new) == result["vocab_size"] == QWEN_SIZE + 3000
    # every special token keeps its id and is still one special token
    for content, i in [("<|endoftext|>", 151643), ("<|im_start|>", 151644), ("<|extra_204|>", 151850)]:
        assert new.convert_tokens_to_ids(content) == i == old.convert_tokens_to_ids(content)
        assert new("a" + content, add_special_tokens=False).input_ids[-1] == i
    new_ids = range(QWEN_SIZE, result["vocab_size"])
    assert not set(new.all_special_ids) & set(new_ids)
    assert all("<|" not in new.decode([i]) for i in new_ids)
    mapping = json.loads((out / "embedding_init.json").read_text(encoding="utf-8"))
    assert sorted(map(int, mapping["new"])) == list(new_ids)
    assert all(i < QWEN_FIRST_SPECIAL for ids in mapping["new"].values() for i in ids)
    # the base ids of a new piece spell exactly its bytes
    for new_id in list(mapping["new"])[:200]:
        assert new.decode([int(new_id)]) == old.decode(mapping["new"][new_id])


def test_kazakh_gets_far_fewer_tokens_and_the_new_pieces_are_used_inside_words(extended, tokenizers_):
    old, new = tokenizers_
    lines = _lines(KK_HELDOUT)
    before, after = measure(old, lines)["tokens_per_word"], measure(new, lines)["tokens_per_word"]
    assert after < 0.6 * before
    used = {i for row in new(lines, add_special_tokens=False).input_ids for i in row if i >= QWEN_SIZE}
    assert len(used) > 1000
    kk = extended[1]["fertility"][0]
    assert (kk["language"], kk["before"], kk["after"]) == ("kk", before, after)


def test_every_text_decodes_back_to_itself(tokenizers_):
    old, new = tokenizers_
    texts = (
        PARITY_EDGE_CASES
        + _lines(KK_HELDOUT)
        + _lines(SAMPLE / "written" / "ru_docs.txt")
        + [
            "Қазақстанның 2024 жылғы ЖІӨ-і — 262,6 млрд $",
            "ҚАЗАҚСТАН қазақстан Qazaqstan",
            "қ" * 40,
            "кiтап (Latin i) ∙ ә\u0301 combining",
            "def f(x):\n\treturn x  # код",
            "Ң\u200bҒ zero width",
        ]
    )
    for text, ids in zip(texts, new(texts, add_special_tokens=False).input_ids):
        assert new.decode(ids) == old.decode(old(text, add_special_tokens=False).input_ids), text


def test_text_in_other_scripts_keeps_the_base_ids(tokenizers_):
    old, new = tokenizers_
    texts = _lines(EN_TEXT) + [
        "日本語のテキスト",
        "عربي",
        "Türkiye Cumhuriyeti",
        "O‘zbekiston",
        "print('hi') 😀",
    ]
    assert new(texts, add_special_tokens=False).input_ids == old(texts, add_special_tokens=False).input_ids
    # inside a Kazakh line, the English words keep their ids too
    mixed = new("Apple компаниясы iPhone шығарды", add_special_tokens=False).input_ids
    assert old(" iPhone", add_special_tokens=False).input_ids[0] in mixed


@pytest.mark.parametrize("cap", [1, 40, 700])
def test_a_cap_keeps_the_most_valuable_merges_and_every_chain_whole(
    qwen2_tokenizer_dir, extended, tmp_path, cap
):
    full = json.loads((extended[0] / "tokenizer.json").read_text(encoding="utf-8"))
    out = tmp_path / "capped"
    result = _extend(
        qwen2_tokenizer_dir, out, cap, [f"kk={KK_HELDOUT}"]
    )  # the command checks the round trip too
    capped = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    base_merges = len(
        json.loads((qwen2_tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]["merges"]
    )
    new_merges = capped["model"]["merges"][base_merges:]
    assert result["added"] == cap and len(new_merges) == result["added_merges"] >= cap
    # the capped set is the full run's most frequent merges: a prefix of them, in the same order
    assert new_merges == full["model"]["merges"][base_merges : base_merges + len(new_merges)]
    known = set(
        json.loads((qwen2_tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    )
    for a, b in new_merges:  # closure: both parts are base tokens or made by an earlier merge
        assert a in known and b in known
        known.add(a + b)
    specials = {t["content"] for t in capped["added_tokens"]}  # also in the BPE vocabulary, at their ids
    assert known | specials == set(capped["model"]["vocab"])
    new = AutoTokenizer.from_pretrained(str(out))
    lines = _lines(KK_HELDOUT)
    assert [new.decode(ids) for ids in new(lines, add_special_tokens=False).input_ids] == lines


@pytest.mark.skipif(not NTREX["kaz"].is_file(), reason="needs ../shared/data/ntrex128")
def test_all_ten_ntrex_languages_round_trip_and_english_is_unchanged(qwen2_tokenizer_dir, tmp_path):
    specs = [f"{lang}={path}" for lang, path in NTREX.items()]
    result = _extend(qwen2_tokenizer_dir, tmp_path / "ext", 3000, specs)  # raises on any failure
    rows = {r["language"]: r for r in result["fertility"]}
    assert all(r["round_trip_failures"] == 0 for r in rows.values())
    assert rows["eng"]["lines_without_target_script"] > 1900 and rows["eng"]["of_those_ids_changed"] == 0
    assert (
        rows["eng"]["after"] == rows["eng"]["before"] and rows["kaz"]["after"] < 0.7 * rows["kaz"]["before"]
    )


def test_a_sentencepiece_style_base_gains_the_letters_it_only_knew_as_bytes(tmp_path):
    """Llama-2/Mistral-style: ▁-words with <0xNN> byte fallback, trained here on English only."""
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    bytes_ = [f"<0x{i:02X}>" for i in range(256)]
    tok.train(
        [str(EN_TEXT)],
        trainers.BpeTrainer(
            vocab_size=700, special_tokens=["<unk>", "<s>", "</s>", *bytes_], show_progress=False
        ),
    )
    base = tmp_path / "spm_base"
    PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        clean_up_tokenization_spaces=False,
    ).save_pretrained(str(base))
    result = _extend(base, tmp_path / "ext", 800, [f"kk={KK_HELDOUT}", f"en={EN_TEXT}"])
    assert result["added_letters"] >= 30  # а..я, ә, і, ң, ғ, ү, ұ, қ, ө, һ
    kk, en = result["fertility"]
    assert kk["after"] < 0.5 * kk["before"] and en["after"] == en["before"]


def test_the_command_line(qwen2_tokenizer_dir, tmp_path):
    out = tmp_path / "ext"
    proc = run_kazllm(
        "tokenizer",
        "extend",
        "--base",
        str(qwen2_tokenizer_dir),
        "--input",
        *KK_TRAIN,
        "--out",
        str(out),
        "--max-new",
        "200",
        "--eval-text",
        f"kk={KK_HELDOUT}",
    )
    assert proc.returncode == 0, proc.stderr
    assert "200 pieces added to 151851 -> 152051" in proc.stdout
    manifest = json.loads((out / "extend_manifest.json").read_text(encoding="utf-8"))
    assert manifest["base"]["path"] == str(qwen2_tokenizer_dir) and manifest["added"] == 200
    assert not (out / "model.safetensors").exists()


def test_bad_bases_are_refused_in_one_line(tmp_path):
    uni = tmp_path / "uni"
    PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0)], 0)), unk_token="<unk>"
    ).save_pretrained(str(uni))
    for base, message in [
        (uni, "needs a BPE base tokenizer, got model type 'Unigram'"),
        (tmp_path / "nowhere", "neither a local directory"),
    ]:
        proc = run_kazllm(
            "tokenizer", "extend", "--base", str(base), "--input", *KK_TRAIN, "--out", str(tmp_path / "o")
        )
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_tokenizer_train_with_extend_base_makes_the_extended_tokenizer_the_stage(
    sample_run, qwen2_tokenizer_dir, tmp_path
):
    """tokenizer.extend_base: `kazllm tokenizer train` writes the extended tokenizer as tokenizer/hf/, and
    pretokenize uses it unchanged."""
    import shutil

    import numpy as np

    from data_prep.pretokenize import run_pretokenize
    from data_prep.tokenizer import run_tokenizer_train
    from kazllm.artifacts import read_json
    from kazllm.config import load_config
    from kazllm.shards import TokenShardReader
    from tests.conftest import REPO

    run = tmp_path / "run"
    shutil.copytree(sample_run.stage_dir("prep"), run / "prep")
    cfg = load_config(
        REPO / "configs" / "quickstart.yaml",
        [f"run.out_dir={run}", f"tokenizer.extend_base={qwen2_tokenizer_dir}", "tokenizer.max_new=500"],
    )
    run_tokenizer_train(cfg)
    manifest = read_json(cfg.stage_dir("tokenizer") / "manifest.json")
    assert manifest["vocab_size"] == QWEN_SIZE + 500 and manifest["added"] == 500
    assert manifest["special_tokens"]["eos"] == {"id": 151643, "piece": "<|endoftext|>"}
    assert manifest["extended_from"]["path"] == str(qwen2_tokenizer_dir)
    assert manifest["kk_tokens_per_word"] < 0.7 * manifest["kk_tokens_per_word_base"]
    init = read_json(cfg.stage_dir("tokenizer") / "hf" / "embedding_init.json")
    assert init["base_vocab_size"] == QWEN_SIZE and len(init["new"]) == 500
    run_pretokenize(cfg)
    reader = TokenShardReader(cfg.stage_dir("shards"))
    tokens = np.concatenate([reader.document(i) for i in range(min(20, len(reader.doc_groups)))])
    assert reader.dtype == np.uint32 and tokens.max() >= QWEN_SIZE and (tokens == 151643).sum() >= 1
