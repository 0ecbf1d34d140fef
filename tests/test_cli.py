"""The `kazllm` command: help at every level in one placeholder convention, --dry-run that creates
nothing, the old spellings kept for one release, and bad input gives a message, not a traceback."""

import argparse
import io
import json

import pytest

from kazllm.cli import build_parser, main
from kazllm.cli.common import PLACEHOLDERS

from .conftest import REPO, SAMPLE, run_kazllm, write_config


def _commands(parser: argparse.ArgumentParser, path=()):
    """Every command path (("eval", "compare"), ...) with its parser, old spellings included."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


COMMANDS = [path for path, _ in _commands(build_parser())]


def test_top_level_help_lists_every_stage():
    result = run_kazllm("--help")
    assert result.returncode == 0
    for name in ("prep", "text", "tokenizer", "pretokenize", "train", "export", "eval", "push", "quickstart"):
        assert name in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda path: " ".join(path) or "kazllm")
def test_every_command_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0 and len(capsys.readouterr().out) > 200


def _shown_placeholder(action: argparse.Action) -> str | None:
    """What --help shows for an argument's value, as argparse writes it (None for a flag)."""
    if isinstance(action, argparse._SubParsersAction):
        return action.metavar
    if action.nargs == 0 or action.help == argparse.SUPPRESS:
        return None
    if action.metavar is not None:
        return action.metavar
    return None if action.choices else (action.dest if not action.option_strings else action.dest.upper())


def test_every_placeholder_in_help_follows_the_convention():
    outside = {}
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            shown = _shown_placeholder(action)
            # a literal list of values ({auto,cpu,cuda,cuda:N}) is shown as argparse shows choices
            if shown is not None and shown not in PLACEHOLDERS and not shown.startswith("{"):
                outside[f"kazllm {' '.join(path)} {'/'.join(action.option_strings) or action.dest}"] = shown
    assert outside == {}


def test_bare_eval_is_eval_run_and_compare_is_a_real_subcommand():
    parser = build_parser()
    from kazllm.cli.eval import cmd_eval_compare, cmd_eval_run, default_to_run

    bare = parser.parse_args(default_to_run(["eval", "--tasks", "sample_ppl_kk", "eval.limit=3"]))
    assert bare.func is cmd_eval_run and bare.tasks == "sample_ppl_kk" and bare.overrides == ["eval.limit=3"]
    assert parser.parse_args(default_to_run(["eval"])).func is cmd_eval_run
    compare = parser.parse_args(default_to_run(["eval", "compare", "a", "b", "--out", "c"]))
    assert compare.func is cmd_eval_compare and compare.runs == ["a", "b"] and compare.out == "c"
    assert default_to_run(["eval", "--help"]) == ["eval", "--help"]  # the group's help: run, compare, ...


def test_eval_run_and_eval_compare_score_and_compare_two_systems(tmp_path, capsys):
    refs = (SAMPLE / "eval" / "translation" / "sample.en").read_text(encoding="utf-8").splitlines()
    for name, hyps in [("weak", [" ".join(r.split()[:-2]) for r in refs]), ("exact", refs)]:
        (tmp_path / f"{name}.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
        main(
            [
                "eval",
                "run",
                "--tasks",
                "sample_mt_kk_en",
                "--hypotheses",
                str(tmp_path / f"{name}.txt"),
                "--out",
                str(tmp_path / name),
            ]
        )
    capsys.readouterr()
    main(["eval", "compare", str(tmp_path / "weak"), str(tmp_path / "exact"), "--out", str(tmp_path / "cmp")])
    assert f"eval compare: 2 runs -> {tmp_path / 'cmp'}" in capsys.readouterr().out
    table = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))["table"]
    chrf = next(r for r in table if r["metric"] == "chrf++")["values"]
    assert chrf["exact"] == pytest.approx(100) and chrf["weak"] < 100


# --- old spellings, kept for one release ----------------------------------------------------------------
LINES = "Қазақстан Орталық Азиядағы ең үлкен мемлекет.\nБайланыс: +7 701 123 45 67, a.b@mail.kz\n"


def _run_in_process(argv, capsys, monkeypatch, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    main(argv)
    return capsys.readouterr()


@pytest.mark.parametrize("tool", ["normalize", "langid", "pii"])
def test_an_old_line_tool_spelling_prints_a_notice_and_the_same_stdout(tool, capsys, monkeypatch):
    new = _run_in_process(["text", tool], capsys, monkeypatch, LINES)
    old = _run_in_process([tool], capsys, monkeypatch, LINES)
    assert old.out == new.out and len(new.out.splitlines()) == 2 and new.err == ""
    assert old.err == (
        f"kazllm: note: `kazllm {tool}` is now `kazllm text {tool}` "
        "(the old spelling goes in the next release)\n"
    )


def test_plan_gpu_is_now_gpu_type_and_the_old_option_prints_a_notice(tmp_path, capsys, monkeypatch):
    args = ["plan", "--config", str(REPO / "configs" / "national_8b_13b.yaml"), f"run.out_dir={tmp_path}"]
    new = _run_in_process([*args, "--gpu-type", "a100-80gb", "--gpus", "64"], capsys, monkeypatch)
    old = _run_in_process([*args, "--gpu", "a100-80gb", "--gpus", "64"], capsys, monkeypatch)
    assert old.out == new.out and "64 x a100-80gb" in new.out and new.err == ""
    assert old.err == (
        "kazllm: note: `kazllm plan --gpu` is now `kazllm plan --gpu-type` "
        "(the old spelling goes in the next release)\n"
    )


# --- --dry-run: the plan, and nothing created -----------------------------------------------------------
RUN = "run.out_dir={tmp}/run"
DRY_RUNS = {
    "prep": ["prep", RUN],
    "tokenizer train": ["tokenizer", "train", RUN],
    "tokenizer train --input": [
        "tokenizer",
        "train",
        "--input",
        "kk={tmp}/kk.txt",
        "--out",
        "{tmp}/tok",
        RUN,
    ],
    "tokenizer extend": [
        "tokenizer",
        "extend",
        "--base",
        "Qwen/Qwen2.5-7B",
        "--input",
        "kk={tmp}/kk.txt",
        "--out",
        "{tmp}/ext",
    ],
    "pretokenize": ["pretokenize", RUN],
    "train": ["train", RUN],
    "export": ["export", "--step", "4", RUN],
    "eval": ["eval", "--model", "{tmp}/model", "--update-card", "{tmp}/card", RUN],
    "eval run --hypotheses": [
        "eval",
        "run",
        "--tasks",
        "sample_mt_kk_en",
        "--hypotheses",
        "{tmp}/kk.txt",
        "--out",
        "{tmp}/ev",
        RUN,
    ],
    "model extend": [
        "model",
        "extend",
        "--base",
        "example-org/base",
        "--tokenizer",
        "{tmp}/ext",
        "--out",
        "{tmp}/ext-model",
    ],
    "quickstart": ["quickstart", RUN],
}
"""Every stage command, as run for real but with --dry-run; `{tmp}` is the test's empty directory."""


@pytest.mark.parametrize("name", DRY_RUNS)
def test_dry_run_prints_the_plan_and_creates_nothing(name, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")  # prep sets it for datatrove; keep it out of later tests
    monkeypatch.chdir(tmp_path)  # a relative default out_dir would land here
    (tmp_path / "kk.txt").write_text("Қазақстан\n", encoding="utf-8")
    argv = [a.format(tmp=tmp_path) for a in DRY_RUNS[name]]
    main([*argv, "--dry-run"])
    out = capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kk.txt"]
    words = [a for a in argv[:2] if not a.startswith("-") and "=" not in a]
    command = "kazllm eval run" if words[0] == "eval" else f"kazllm {' '.join(words)}"
    assert out.startswith(f"dry_run: {command}\n") and "\nwrites:\n- " in out
    assert out.endswith(
        f"# {command}: dry run, nothing was created or changed; run it without --dry-run to do it\n"
    )


def test_dry_run_says_what_eval_would_read_and_write(tmp_path, capsys):
    main(
        [
            "eval",
            "--dry-run",
            "--tasks",
            "sample_ppl_kk,sample_qa_kk",
            "--limit",
            "5",
            f"run.out_dir={tmp_path}",
        ]
    )
    out = capsys.readouterr().out
    assert f"reads:\n- {tmp_path / 'export'}\nwrites:\n- {tmp_path / 'eval'}\n" in out
    assert "tasks:\n- sample_ppl_kk\n- sample_qa_kk\nlimit: 5\n" in out and not any(tmp_path.iterdir())


def test_missing_config_file(tmp_path):
    result = run_kazllm("prep", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "config file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_config_key_names_key_and_file(tmp_path):
    path = write_config(tmp_path / "c.yaml", "tokenizer:\n  vocab: 100\n")
    result = run_kazllm("tokenizer", "train", "--config", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        f"{path}: unknown config key 'tokenizer.vocab' (did you mean 'tokenizer.vocab_size'?)"
        in result.stderr
    )


def test_stages_out_of_order_say_which_command_to_run(tmp_path):
    result = run_kazllm("pretokenize", f"run.out_dir={tmp_path}")
    assert result.returncode == 2 and "run `kazllm prep` first" in result.stderr


def test_empty_corpus_is_reported(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    path = write_config(
        tmp_path / "c.yaml",
        f"run: {{out_dir: {tmp_path / 'run'}}}\nprep:\n  inputs:\n    - {{path: {empty}}}\n",
    )
    result = run_kazllm("prep", "--config", str(path))
    assert result.returncode == 2
    assert "prep kept 0 of 1 documents; reasons: {'unreadable:empty_file': 1}" in result.stderr


def test_print_config_shows_the_resolved_tree():
    result = run_kazllm("quickstart", "--print-config", "train.steps=7")
    assert result.returncode == 0 and "steps: 7" in result.stdout
    assert "out_dir: runs/quickstart" in result.stdout


def test_eval_of_a_missing_model_is_a_clear_error(tmp_path):
    result = run_kazllm(
        "eval", "--model", str(tmp_path / "no-model"), "--tasks", "sample_kkmmlu", "--out", str(tmp_path)
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--model: '" in result.stderr
    assert "no-model' is neither a local directory nor a hub id" in result.stderr


def test_training_that_cannot_fill_one_batch_fails_before_launch(sample_run):
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    result = run_kazllm("train", "--config", str(config), "train.seq_len=1000000", "train.nproc=2")
    assert result.returncode == 2 and "fewer than one batch" in result.stderr
    assert "Traceback" not in result.stderr


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
