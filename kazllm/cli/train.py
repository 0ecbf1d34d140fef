"""`kazllm train` (shards/ -> checkpoints/), `kazllm plan` (time, GPU-hours, energy) and `kazllm slurm
submit` (any of them as a Slurm job). torch and DeepSpeed are imported inside the handlers, so `kazllm
--help` stays fast."""

from __future__ import annotations

import argparse

from kazllm.cli.common import (
    HELP_FORMAT,
    RenamedOption,
    add_stage,
    add_subcommands,
    load_run_config,
    print_dry_run,
    with_option_overrides,
)
from kazllm.errors import KazllmError


def cmd_train(args):
    cfg = load_run_config(args)
    if args.dry_run:
        t, m = cfg.train, cfg.model
        reads = [cfg.stage_dir("shards"), *[x for x in (m.init_from, t.deepspeed_config) if x]]
        print_dry_run(
            "kazllm train",
            reads=reads,
            writes=[cfg.stage_dir("checkpoints")],
            model=m.init_from or m.preset or "debug-tiny",
            ranks=t.nproc,
            zero_stage=t.zero_stage,
            precision=t.precision,
            steps=t.steps,
            seq_len=t.seq_len,
            micro_batch_size=t.micro_batch_size,
            grad_accum=t.grad_accum,
            lr=t.lr,
            resume=t.resume,
        )
        return
    from kazllm.train import launch_training

    launch_training(cfg)


def cmd_plan(args):
    from kazllm.plan import estimate, render_plan

    with_option_overrides(
        args,
        {"plan.gpus": args.gpus, "plan.tokens": args.tokens, "plan.mfu": args.mfu, "plan.gpu": args.gpu_type},
    )
    cfg = load_run_config(args)
    result = estimate(cfg, metrics=args.metrics)
    print(render_plan(result))
    if args.out:
        from kazllm.artifacts import write_json

        print(f"plan: written to {write_json(args.out, result)}")


def cmd_slurm_submit(args):
    from kazllm.slurm import job_dir, submit

    if args.stage != "train" and (args.nodes or args.procs_per_node):
        raise KazllmError(
            f"--stage {args.stage} runs on one node as one task: --nodes and --procs-per-node "
            "are for the training job"
        )
    with_option_overrides(
        args,
        {
            "slurm.nodes": args.nodes,
            "slurm.gpus_per_node": args.gpus_per_node,
            "slurm.procs_per_node": args.procs_per_node,
            "slurm.partition": args.partition,
            "slurm.account": args.account,
            "slurm.time": args.time,
        },
    )
    cfg = load_run_config(args)
    script, job_id = submit(
        cfg, config_source=args.config, dry_run=args.dry_run, stage=args.stage, after=args.after
    )
    if job_id is None:
        print(script, end="")
        return
    what = f"{cfg.slurm.nodes} node(s)" if args.stage == "train" else args.stage
    print(f"submitted job {job_id}: {what} -> {job_dir(cfg, args.stage)}/slurm-{job_id}.out")


def add_train_parser(sub) -> None:
    add_stage(
        sub,
        "train",
        cmd_train,
        "train a Llama model with DeepSpeed (checkpoints/)",
        "Train LlamaForCausalLM from a size preset with DeepSpeed ZeRO (stage from config) on\n"
        "shards/. Launches train.nproc ranks with torchrun unless already under a launcher. Writes\n"
        "metrics.jsonl, loss_curve.png and a DeepSpeed checkpoint.",
    )


def add_slurm_parser(sub) -> None:
    from kazllm.slurm import STAGES  # (light: config and artifacts only)

    slurm = sub.add_parser(
        "slurm",
        help="run training (multi-node) or any other stage as a Slurm job",
        description="Slurm commands (templates in slurm/).",
        formatter_class=HELP_FORMAT,
    )
    slurm_sub = add_subcommands(slurm, "slurm_command")
    p = add_stage(
        slurm_sub,
        "submit",
        cmd_slurm_submit,
        "render a stage's batch script from the config and sbatch it",
        "Render the multi-node training job from the run config (one srun task per node, torchrun\n"
        "c10d rendezvous, NCCL/InfiniBand environment, --signal=B:USR1, --requeue), save it with the\n"
        "job config in <run>/slurm/ and submit it. On USR1 (before the time limit) or TERM the job\n"
        "checkpoints, requeues itself and resumes from that checkpoint.\n\n"
        "--stage tokenizer|pretokenize|export|eval submits that stage instead, as one task on one node\n"
        "(slurm/stage.sbatch; eval asks for one GPU when the nodes have GPUs), into <run>/slurm/<stage>/.\n"
        "--after JOBID queues a job behind another, e.g. tokenizer -> pretokenize -> train at once.",
        dry_run=False,
    )
    p.add_argument(
        "--stage", choices=list(STAGES), default="train", help="which stage the job runs (default: train)"
    )
    p.add_argument(
        "--after", metavar="JOBID", help="start only after job JOBID succeeded (it makes the input)"
    )
    p.add_argument("--nodes", type=int, metavar="N", help="nodes (default: slurm.nodes)")
    p.add_argument(
        "--gpus-per-node",
        type=int,
        metavar="N",
        help="GPUs per node, 0 for CPU nodes (default: slurm.gpus_per_node)",
    )
    p.add_argument("--procs-per-node", type=int, metavar="N", help="ranks per node (default: one per GPU)")
    p.add_argument("--partition", metavar="NAME", help="partition (default: slurm.partition)")
    p.add_argument("--account", metavar="NAME", help="account (default: slurm.account)")
    p.add_argument("--time", metavar="HH:MM:SS", help="time limit per attempt (default: slurm.time)")
    p.add_argument("--dry-run", action="store_true", help="print the batch script; write and submit nothing")


def add_plan_parser(sub) -> None:
    plan = add_stage(
        sub,
        "plan",
        cmd_plan,
        "estimate time, GPU-hours and energy of a training run",
        "Estimate wall-clock time, GPU-hours and energy for the token budget from the model's\n"
        "training FLOPs per token (6N + attention), the GPUs' peak bf16 TFLOP/s and an MFU figure:\n"
        "assumed (plan.mfu, default 0.40) or measured from a metrics.jsonl (--metrics).",
        dry_run=False,
    )  # it only prints (and with --out writes the estimate): nothing to plan ahead of it
    plan.add_argument(
        "--gpus",
        type=int,
        metavar="N",
        help="GPUs (default: plan.gpus, else slurm.nodes x slurm.gpus_per_node)",
    )
    plan.add_argument(
        "--tokens",
        type=float,
        metavar="N",
        help="training tokens, e.g. 13e9 (default: plan.tokens, else train.steps)",
    )
    plan.add_argument(
        "--mfu", type=float, metavar="N", help="model FLOPs utilisation, e.g. 0.4 (default: plan.mfu)"
    )
    plan.add_argument(
        "--gpu-type", metavar="NAME", help="GPU type: h100-sxm, h200, a100-80gb (default: plan.gpu)"
    )
    plan.add_argument(
        "--gpu", dest="gpu_type", action=RenamedOption, new_name="--gpu-type", help=argparse.SUPPRESS
    )  # the old spelling, until the next release
    plan.add_argument(
        "--metrics",
        metavar="FILE",
        help="a measured run's metrics.jsonl: take MFU from its tokens_per_s (same model,\n"
        "seq_len and GPU type)",
    )
    plan.add_argument("--out", metavar="FILE", help="also write the estimate as JSON (plan.json)")
