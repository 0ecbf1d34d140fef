"""The `kazllm` command: help at every level, and bad input gives a message, not a traceback."""

import pytest

from .conftest import run_kazllm, write_config

COMMANDS = [["prep"], ["tokenizer"], ["tokenizer", "train"], ["pretokenize"], ["train"], ["export"], ["eval"],
            ["quickstart"]]


def test_top_level_help_lists_every_stage():
    result = run_kazllm("--help")
    assert result.returncode == 0
    for name in ("prep", "tokenizer", "pretokenize", "train", "export", "eval", "quickstart"):
        assert name in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_explains_itself(command):
    result = run_kazllm(*command, "--help")
    assert result.returncode == 0 and len(result.stdout) > 200


def test_missing_config_file(tmp_path):
    result = run_kazllm("prep", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "config file not found" in result.stderr and "Traceback" not in result.stderr


def test_unknown_config_key_names_key_and_file(tmp_path):
    path = write_config(tmp_path / "c.yaml", "tokenizer:\n  vocab: 100\n")
    result = run_kazllm("tokenizer", "train", "--config", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}: unknown config key 'tokenizer.vocab' (did you mean 'tokenizer.vocab_size'?)" in result.stderr


def test_stages_out_of_order_say_which_command_to_run(tmp_path):
    result = run_kazllm("pretokenize", f"run.out_dir={tmp_path}")
    assert result.returncode == 2 and "run `kazllm prep` first" in result.stderr


def test_empty_corpus_is_reported(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    path = write_config(tmp_path / "c.yaml", f"run: {{out_dir: {tmp_path / 'run'}}}\nprep:\n  inputs:\n    - {{path: {empty}}}\n")
    result = run_kazllm("prep", "--config", str(path))
    assert result.returncode == 2 and "prep kept 0 of 1 documents; reasons: {'unreadable:empty_file': 1}" in result.stderr


def test_print_config_shows_the_resolved_tree():
    result = run_kazllm("quickstart", "--print-config", "train.steps=7")
    assert result.returncode == 0 and "steps: 7" in result.stdout and "out_dir: runs/quickstart" in result.stdout


def test_eval_of_a_missing_model_is_a_clear_error(tmp_path):
    result = run_kazllm("eval", "--model", str(tmp_path / "no-model"), "--tasks", "sample_kkmmlu", "--out", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--model: '" in result.stderr and "no-model' is neither a local directory nor a hub id" in result.stderr


def test_training_that_cannot_fill_one_batch_fails_before_launch(sample_run):
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    result = run_kazllm("train", "--config", str(config), "train.seq_len=1000000", "train.nproc=2")
    assert result.returncode == 2 and "fewer than one batch" in result.stderr and "Traceback" not in result.stderr


def test_a_user_out_dir_holding_other_files_is_refused_not_deleted(tmp_path):
    from kazllm.artifacts import reset_user_out_dir
    from kazllm.errors import InputError

    precious = tmp_path / "notes.txt"
    precious.write_text("not ours", encoding="utf-8")
    with pytest.raises(InputError, match="not empty"):
        reset_user_out_dir(tmp_path, "manifest.json")
    corpus = tmp_path / "corpus.txt"
    with pytest.raises(InputError, match="overwrite the input"):
        reset_user_out_dir(tmp_path, "manifest.json", keep=(corpus,))
    assert precious.read_text(encoding="utf-8") == "not ours"

    ours = tmp_path / "tok"
    ours.mkdir()
    (ours / "manifest.json").write_text("{}", encoding="utf-8")
    reset_user_out_dir(ours, "manifest.json")  # an earlier run of ours is replaced
    assert ours.is_dir() and not any(ours.iterdir())
