"""`kazllm eval run|compare|export-lm-eval`: score a model (or a system's output) on the eval tasks,
compare eval runs, write the tasks as lm-evaluation-harness YAML. `kazllm eval [options]` without a
subcommand is `kazllm eval run`.

The eval package is imported inside the handlers: `kazllm eval` must run where only the eval extra is
installed (no DeepSpeed, no datatrove), and `kazllm --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kazllm.cli.common import (
    HELP_FORMAT,
    add_stage,
    add_subcommands,
    load_run_config,
    print_dry_run,
    with_option_overrides,
)

EVAL_COMMANDS = ("run", "compare", "export-lm-eval")


def default_to_run(argv: list[str]) -> list[str]:
    """`kazllm eval --model M ...` (and bare `kazllm eval`) as users type it means `kazllm eval run ...`;
    `kazllm eval --help` stays the group's help."""
    if argv[:1] == ["eval"] and (len(argv) == 1 or argv[1] not in (*EVAL_COMMANDS, "-h", "--help")):
        return ["eval", "run", *argv[1:]]
    return argv


def _task_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def cmd_eval_run(args):
    if args.list_tasks:
        from eval.tasks import task_table

        print(task_table())
        return
    with_option_overrides(
        args,
        {
            "eval.limit": args.limit,
            "eval.batch_size": args.batch_size,
            "eval.max_new_tokens": args.max_new_tokens,
            "eval.device": args.device,
            "eval.dtype": args.dtype,
            "eval.seed": args.seed,
            "eval.revision": args.revision,
            "eval.trust_remote_code": True if args.trust_remote_code else None,
        },
    )
    cfg = load_run_config(args)
    out_dir = Path(args.out) if args.out else cfg.stage_dir("eval")
    tasks = _task_list(args.tasks)
    if args.dry_run:
        print_dry_run("kazllm eval run", **eval_plan(cfg, args, tasks, out_dir))
        return
    from eval.runner import render_report, run_eval

    results = run_eval(
        cfg,
        model=args.model,
        tasks=tasks,
        out_dir=out_dir,
        hypotheses=args.hypotheses,
        predictions=args.predictions,
    )
    print(render_report(results))
    print(f"eval: results in {out_dir}")
    if args.update_card:
        from kazllm.model_card import update_model_card

        card = update_model_card(Path(args.update_card), results)
        print(f"eval: results written into the model card {card}")


def eval_plan(cfg, args, tasks: list[str] | None, out_dir: Path) -> dict:
    """What `kazllm eval run` would read and write, and the settings it would score with (as run_eval
    resolves them: the model defaults to eval.model, else the run's export/)."""
    e = cfg.eval
    system_output = args.hypotheses or args.predictions
    model = None if system_output else args.model or e.model or str(cfg.stage_dir("export"))
    writes = [out_dir, *([Path(args.update_card) / "README.md"] if args.update_card else [])]
    return {
        "reads": [x for x in (model, system_output) if x],
        "writes": writes,
        "model": model,
        "revision": e.revision or None,
        "tasks": tasks or list(e.tasks),
        "limit": e.limit,
        "batch_size": e.batch_size,
        "device": e.device,
        "dtype": e.dtype,
        "seed": cfg.run.seed if e.seed is None else e.seed,
    }


def cmd_eval_compare(args):
    from eval.report import compare_runs

    summary = compare_runs([Path(p) for p in args.runs], Path(args.out), significance=args.significance)
    print((Path(args.out) / "compare.md").read_text(encoding="utf-8"))
    for w in summary["warnings"]:
        print(f"eval compare: warning: {w['message']}", file=sys.stderr)
    print(f"eval compare: {len(summary['runs'])} runs -> {args.out}")


def cmd_eval_export_lm_eval(args):
    from eval.lm_eval_export import export_tasks

    written = export_tasks(Path(args.out), _task_list(args.tasks), seed=args.seed)
    print(
        f"eval export-lm-eval: {len(written)} lm-eval task files -> {args.out} (run lm_eval with "
        f"--include_path {args.out} --model_args pretrained=MODEL,add_bos_token=True; docs/eval.md)"
    )


EVAL_DESCRIPTION = """\
Evaluation commands. `kazllm eval [options]` without a subcommand is `kazllm eval run`.

  kazllm eval --model MODEL --tasks ntrex_kk_en,kazqad --limit 100 --out runs/ev
  kazllm eval --list-tasks
  kazllm eval compare runs/ev runs/ev2 --out runs/cmp --significance
  kazllm eval export-lm-eval --out lm_eval_tasks"""

RUN_DESCRIPTION = """\
Run evaluation tasks (eval/tasks/*.yaml): perplexity and bits-per-byte, translation
(chrF++/BLEU via sacrebleu), extractive QA (EM/F1) and multiple choice (acc/acc_norm).
Writes results.json, samples.jsonl and report.md. Works with only the eval extra installed
(pip install 'kazllm[eval]'); --config is optional. `kazllm eval [options]` is the same command.

  kazllm eval run --model MODEL --tasks ntrex_kk_en,kazqad --limit 100 --out runs/ev
  kazllm eval run --tasks ntrex_kk_en --hypotheses system.txt --out runs/mt
  kazllm eval run --tasks kazqad --predictions answers.jsonl --out runs/api
  kazllm eval run --list-tasks"""


def add_eval_parser(sub) -> None:
    ev = sub.add_parser(
        "eval",
        help="evaluate a model (eval/), compare runs, export tasks to lm-eval",
        description=EVAL_DESCRIPTION,
        formatter_class=HELP_FORMAT,
    )
    ev_sub = add_subcommands(ev, "eval_command")
    add_run_parser(ev_sub)

    cmp = ev_sub.add_parser(
        "compare",
        help="compare eval runs: table, charts, paired tests",
        formatter_class=HELP_FORMAT,
        description="Compare `kazllm eval` runs (checkpoints or models): writes compare.md,\n"
        "compare.json and one PNG bar chart per metric into --out.",
    )
    cmp.add_argument("runs", nargs="+", metavar="DIR", help="eval output directories (with results.json)")
    cmp.add_argument("--out", required=True, metavar="DIR", help="output directory")
    cmp.add_argument(
        "--significance",
        action="store_true",
        help="paired tests of every run against the first on the items both scored\n"
        "(sacrebleu's paired bootstrap for chrF++/BLEU; paired bootstrap and McNemar\n"
        "for acc/EM/F1)",
    )
    cmp.set_defaults(func=cmd_eval_compare)

    lmx = ev_sub.add_parser(
        "export-lm-eval",
        help="write the tasks as lm-evaluation-harness task YAML",
        formatter_class=HELP_FORMAT,
        description="Write every kazllm task (or --tasks) as an lm-evaluation-harness task YAML\n"
        "into --out; lm-eval then scores the same items identically (docs/eval.md).",
    )
    lmx.add_argument("--out", required=True, metavar="DIR", help="output directory (lm_eval --include_path)")
    lmx.add_argument(
        "--tasks", metavar="TASK[,TASK...]", help="task names or YAML paths (default: every shipped task)"
    )
    lmx.add_argument(
        "--seed",
        type=int,
        default=1234,
        metavar="N",
        help="few-shot draw, as kazllm eval run --seed (default 1234)",
    )
    lmx.set_defaults(func=cmd_eval_export_lm_eval)


def add_run_parser(ev_sub) -> None:
    run = add_stage(
        ev_sub,
        "run",
        cmd_eval_run,
        "score a model or a system's output on eval tasks (eval/)",
        RUN_DESCRIPTION,
    )
    run.add_argument(
        "--model",
        metavar="MODEL",
        help="model directory or hub id (default: eval.model, else this run's export/)",
    )
    run.add_argument(
        "--revision",
        metavar="REV",
        help="hub revision of a hub-id --model: branch, tag or commit (eval.revision, default\n"
        "main); results.json records the commit it resolved to",
    )
    run.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let a hub model run its own Python (auto_map); off by default\n(eval.trust_remote_code)",
    )
    run.add_argument(
        "--update-card",
        metavar="DIR",
        help="after scoring, write the results into DIR/README.md of an export (its\n"
        "model-index and Evaluation section) and refresh the export manifest's\n"
        "checksum of it",
    )
    run.add_argument(
        "--tasks", metavar="TASK[,TASK...]", help="task names or YAML paths (default: eval.tasks)"
    )
    run.add_argument("--out", metavar="DIR", help="output directory (default: <run>/eval)")
    run.add_argument("--limit", type=int, metavar="N", help="items per task, 0 = all (eval.limit)")
    run.add_argument(
        "--batch-size", type=int, metavar="N", help="sequences per forward pass (eval.batch_size)"
    )
    run.add_argument(
        "--max-new-tokens", type=int, metavar="N", help="generation budget per item (eval.max_new_tokens)"
    )
    run.add_argument(
        "--device",
        metavar="{auto,cpu,cuda,cuda:N}",
        help="auto (device_map=auto: shards a large model over the node's GPUs), cpu,\n"
        "cuda or cuda:N (eval.device)",
    )
    run.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"], help="weights dtype (eval.dtype)")
    run.add_argument(
        "--seed", type=int, metavar="N", help="few-shot sampling and torch seed (eval.seed, default run.seed)"
    )
    run.add_argument(
        "--hypotheses",
        metavar="FILE",
        help="score FILE (one translation per line) against the references of the one\n"
        "translation task in --tasks with the same metrics; no model is loaded",
    )
    run.add_argument(
        "--predictions",
        metavar="FILE",
        help='score FILE (JSONL: {"index": N, "prediction": "text"} for QA,\n'
        '{"index": N, "choice": K} 0-based for multiple choice; N as in samples.jsonl)\n'
        "for the one task in --tasks; no model is loaded",
    )
    run.add_argument(
        "--list-tasks", action="store_true", help="print every task with its metrics and data source"
    )
