"""The CPU demo of continued pretraining, end to end through the real CLI (what `make continue-demo` runs):
a tiny Llama with Qwen2's real tokenizer as the base -> prep (kk + ru, en) -> tokenizer train (extends the
base's tokenizer) -> pretokenize -> train (init_from, 2 ranks, freeze phase, replay mixture) -> export
-> eval."""

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.conftest import REPO, run_kazllm

QWEN_SIZE = 151851


@pytest.mark.slow
def test_the_continue_demo_runs_end_to_end(tiny_qwen_base, tmp_path):
    run = tmp_path / "demo"
    proc = run_kazllm(
        "quickstart",
        "--config",
        str(REPO / "configs" / "continue_demo.yaml"),
        f"run.out_dir={run}",
        f"tokenizer.extend_base={tiny_qwen_base}",
        f"model.init_from={tiny_qwen_base}",
        # shorter than `make continue-demo` (80 steps): CI time; every stage, both phases, two validations
        "train.steps=30",
        "train.freeze_steps=10",
        "train.eval_every=15",
        "train.save_every=15",
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["vocab_size"] == QWEN_SIZE + 4000
    assert summary["kk_tokens_per_word"] < 0.6 * summary["kk_tokens_per_word_base"]
    by_lang = summary["val_loss_by_language"]
    assert {"kk", "en", "ru"} <= set(by_lang)
    assert by_lang["kk"][1] < by_lang["kk"][0]  # Kazakh validation loss falls; English is reported beside it
    assert "validation loss en" in proc.stdout
    # the exported model is the continued one, with the extended tokenizer
    export = run / "export"
    tok = AutoTokenizer.from_pretrained(str(export))
    model = AutoModelForCausalLM.from_pretrained(str(export))
    assert len(tok) == QWEN_SIZE + 4000 and model.config.vocab_size >= len(tok)
    assert tok.convert_tokens_to_ids("<|endoftext|>") == 151643
    assert (run / "init_model" / "extend_manifest.json").is_file()
    assert json.loads((run / "eval" / "results.json").read_text(encoding="utf-8"))
