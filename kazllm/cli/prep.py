"""`kazllm prep` (raw sources -> prep/) and `kazllm pretokenize` (prep/ -> shards/): the data_prep stages
that run from a run config. datatrove is imported inside the handlers, so `kazllm --help` stays fast."""

from __future__ import annotations

import os

from kazllm.cli.common import add_stage, load_run_config, print_dry_run


def prep_reads(cfg) -> list:
    """Every file prep opens: its sources, the eval sets it decontaminates against, the pii allow-lists."""
    from kazllm.config import resolve_path

    p = cfg.prep
    allow_files = [f for s in p.inputs for f in s.pii.allow_files]
    eval_sets = [e.path for e in p.decontamination.eval_sets]
    return [resolve_path(x) for x in [*(s.path for s in p.inputs), *eval_sets, *allow_files]]


def cmd_prep(args):
    if not args.verbose:  # tqdm's own switch, read when tqdm is imported: datatrove's dedup progress bars
        os.environ.setdefault("TQDM_DISABLE", "1")
    if args.executor:
        args.overrides = [f"prep.executor.kind={args.executor}", *args.overrides]
    cfg = load_run_config(args)
    if args.dry_run and cfg.prep.executor.kind == "slurm":  # the sbatch scripts are the plan of a Slurm run
        from data_prep.pipeline import render_slurm_plan

        print(render_slurm_plan(cfg))
        return
    if args.dry_run:
        p = cfg.prep
        print_dry_run(
            "kazllm prep",
            reads=prep_reads(cfg),
            writes=[cfg.stage_dir("prep")],
            executor=p.executor.kind,
            sources=[{"path": s.path, "format": s.format, "pii_policy": p.pii_policy(s)} for s in p.inputs],
            decontamination_sets=len(p.decontamination.eval_sets),
        )
        return
    from data_prep.pipeline import run_prep

    stats = run_prep(cfg, verbose=args.verbose)
    if not stats:  # submitted to Slurm
        return
    print(
        f"prep: {stats['documents_in']} documents in, {stats['documents_kept']} kept, "
        f"{stats['documents_rejected']} rejected {stats['rejected_by_reason']}"
    )
    print(f"      PII masked {stats['pii_masked']} -> {cfg.stage_dir('prep')}")


def cmd_pretokenize(args):
    cfg = load_run_config(args)
    if args.dry_run:
        print_dry_run(
            "kazllm pretokenize",
            writes=[cfg.stage_dir("shards")],
            reads=[cfg.stage_dir("prep") / "kept", cfg.stage_dir("tokenizer") / "hf"],
            val_fraction=cfg.pretokenize.val_fraction,
            tokens_per_shard=cfg.pretokenize.tokens_per_shard,
        )
        return
    from data_prep.pretokenize import run_pretokenize

    result = run_pretokenize(cfg)
    s = result["splits"]
    print(
        f"pretokenize: train {s['train']['tokens']} tokens / {s['train']['documents']} docs, "
        f"val {s['val']['tokens']} tokens / {s['val']['documents']} docs ({result['dtype']}) "
        f"-> {cfg.stage_dir('shards')}"
    )


PREP_DESCRIPTION = """\
Read raw sources; normalise, keep Kazakh, filter quality, decontaminate against eval sets,
mask personal data, drop exact and near duplicates (global, MinHash). Writes prep/kept/*.jsonl,
prep/rejected/*.jsonl (each with its reason), prep/stats.json (in = kept + rejected per
source), prep/datasheet.md/.json and the resolved config. A rerun with the same config
resumes: finished tasks are skipped."""


def add_prep_parser(sub) -> None:
    prep = add_stage(
        sub, "prep", cmd_prep, "raw sources -> clean Kazakh corpus (prep/)", PREP_DESCRIPTION, dry_run=False
    )
    prep.add_argument(
        "--executor", choices=["local", "slurm"], help="where to run (default: prep.executor.kind)"
    )
    prep.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (sources, output directory, key settings); create nothing.\n"
        "With --executor slurm: print the sbatch scripts, submit nothing",
    )
    prep.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show datatrove's own logging (pipelines, per-task stats, progress) on the "
        "console; without it each stage prints one line (tasks, documents "
        "in/kept/rejected, time) and datatrove logs only to "
        "prep/logs/<stage>/logs/task_*.log",
    )


def add_pretokenize_parser(sub) -> None:
    add_stage(
        sub,
        "pretokenize",
        cmd_pretokenize,
        "documents -> memmap token shards (shards/)",
        "Encode prep/kept with tokenizer/hf into flat token shards (uint16/uint32, EOS after each\n"
        "document) with a document index, split train/val, and a manifest with counts and checksums.",
    )
