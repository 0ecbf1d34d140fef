"""End to end: `kazllm quickstart` on the bundled sample, with 2 DeepSpeed ranks, as a user runs it."""

import json
import re

import pytest

from .conftest import run_kazllm

pytestmark = pytest.mark.slow


def test_quickstart_runs_the_whole_flow(tmp_path):
    result = run_kazllm("quickstart", f"run.out_dir={tmp_path}", "eval.limit=6")  # the shipped config
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "kazllm quickstart summary" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["documents_kept"] < summary["documents_in"]
    assert summary["last_loss"] < summary["first_loss"]
    for stage in ("prep", "tokenizer", "shards", "checkpoints", "export", "eval"):
        assert (tmp_path / stage / "resolved_config.yaml").is_file(), stage
    results = json.loads((tmp_path / "eval" / "results.json").read_text(encoding="utf-8"))
    assert {"sample_ppl_kk", "sample_mt_kk_en", "sample_qa_kk"} <= set(results["tasks"])
    assert "## Evaluation" in (tmp_path / "export" / "README.md").read_text(encoding="utf-8")

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "export"))
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "export"))
    ids = tokenizer("Қазақ тілі", return_tensors="pt").input_ids
    generated = model.generate(ids, max_new_tokens=20, do_sample=False)[0, ids.shape[1]:]
    # Trained on Kazakh only, it continues with Cyrillic words, not just newlines or bytes.
    text = tokenizer.decode(generated)
    assert re.search(r"[а-яёәғқңөұүһі]{3,}", text.lower()), text
