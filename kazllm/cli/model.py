"""`kazllm export` (checkpoints/ -> a Hugging Face model in export/), `kazllm model extend` (a base model
resized to an extended tokenizer) and `kazllm push` (an export or a prep corpus to the Hub). torch,
transformers and huggingface_hub are imported inside the handlers, so `kazllm --help` stays fast."""

from __future__ import annotations

from pathlib import Path

from kazllm.cli.common import (
    HELP_FORMAT,
    add_dry_run,
    add_stage,
    add_subcommands,
    load_run_config,
    print_dry_run,
    with_option_overrides,
)


def cmd_export(args):
    with_option_overrides(args, {"export.step": args.step})
    cfg = load_run_config(args)
    if args.dry_run:
        e, ckpt_dir = cfg.export, cfg.stage_dir("checkpoints")
        newest = f"{ckpt_dir} (the newest checkpoint that verifies)"
        checkpoint = ckpt_dir / f"step{e.step}" if e.step else newest
        print_dry_run(
            "kazllm export",
            reads=[checkpoint, cfg.stage_dir("tokenizer")],
            writes=[cfg.stage_dir("export")],
            dtype=e.dtype,
            max_shard_size=e.max_shard_size,
            model_name=e.model_name,
            license=e.license or None,
        )
        return
    from kazllm.export import run_export

    result = run_export(cfg)
    check = result["logits_check"]
    print(
        f"export: {result['checkpoint']} -> {cfg.stage_dir('export')} ({result['dtype']}"
        f"{', sharded' if result['sharded'] else ''}; reload max |Δlogit| {check['max_abs_diff']:.2e} "
        f"<= {check['tolerance']:g})"
    )


def cmd_model_extend(args):
    if args.dry_run:  # the base is named, not resolved: resolving a hub id would download it
        print_dry_run(
            "kazllm model extend",
            reads=[args.base, args.tokenizer],
            writes=[args.out],
            revision=args.revision or None,
            dtype=args.dtype,
            max_shard_size=args.max_shard_size,
        )
        return
    from kazllm.model_extend import extend_model

    m = extend_model(
        args.base,
        Path(args.tokenizer),
        Path(args.out),
        max_shard_size=args.max_shard_size,
        dtype=args.dtype,
        revision=args.revision,
    )
    print(
        f"model extend: {m['base']['source']} ({m['base_rows']} rows) -> {m['rows']} rows, "
        f"{m['rows_initialised']} new rows = mean of their base sub-token rows "
        f"({'tied' if m['tied_embeddings'] else 'untied'}, {m['dtype']}) -> {args.out}"
    )


def cmd_push(args):
    from kazllm.push import plan_export_push, plan_prep_push, push_plan, render_plan

    # a real push first points the card's loading example at --repo; a dry run changes nothing
    if args.export:
        plan = plan_export_push(
            args.export, args.repo, args.revision, private=args.private, update_card=not args.dry_run
        )
    else:
        plan = plan_prep_push(args.prep, args.repo, args.revision, private=args.private)
    print(render_plan(plan))
    if args.dry_run:
        print("push: dry run: nothing was sent and nothing was contacted; run without --dry-run to push")
        return
    info = push_plan(plan)
    print(f"push: {len(plan.files)} files in one commit {info.oid} -> {info.commit_url}")


EXPORT_DESCRIPTION = """\
Gather a verified ZeRO checkpoint (the newest, or --step N) into safetensors (export.dtype: auto =
bf16 when training ran in bf16; sharded past export.max_shard_size) with tokenizer, generation
config and model card; reload it with AutoModelForCausalLM and check the logits match. Written
to export.tmp/ and renamed to export/ only when the check passes."""

MODEL_EXTEND_DESCRIPTION = """\
Resize a LlamaForCausalLM checkpoint (safetensors only, never remote code) to a tokenizer made
by `kazllm tokenizer extend` / tokenizer.extend_base. Each new input row, and each new
output row when untied, is the mean of the base rows of the ids the base tokenizer gives
for that piece's bytes (embedding_init.json); old rows are copied, so on text with old ids
the logits over the old vocabulary equal the base model's. Writes safetensors (sharded past
--max-shard-size), the tokenizer, config and extend_manifest.json (base, revision, sha256).

  kazllm model extend --base meta-llama/Llama-3.1-8B --tokenizer runs/x/tokenizer --out ext8b/"""

PUSH_DESCRIPTION = """\
Publish to the Hugging Face Hub in one commit, through huggingface_hub.

  --export DIR  every file of a `kazllm export` folder (weights, tokenizer, config, card,
                manifest.json, resolved_config.yaml) to a model repo; large files go through
                the Hub's LFS/Xet path. Refused unless the export's logits check passed, its
                card has a real licence (export.license) and every file matches the sha256
                in manifest.json (README.md may have changed: eval adds its results).
  --prep DIR    the kept corpus of a `kazllm prep` folder to a dataset repo: Parquet shards
                (data/train-*.parquet, built in DIR/hub_dataset/) and a dataset card whose
                body is the datasheet. Refused if any source's licence is unknown.

The commit message names the run and the checkpoint. The token comes only from huggingface_hub's
own sources (the HF_TOKEN environment variable or `hf auth login`); kazllm never reads, prints
or stores it. --dry-run prints the planned commit (every file with its size and sha256) and
contacts nothing.

  kazllm push --export runs/quickstart/export --repo my-org/kazllm-tiny --dry-run
  kazllm push --prep runs/quickstart/prep --repo my-org/kazakh-corpus --private"""


def add_export_parser(sub) -> None:
    exp = add_stage(
        sub, "export", cmd_export, "ZeRO checkpoint -> Hugging Face model (export/)", EXPORT_DESCRIPTION
    )
    exp.add_argument(
        "--step", type=int, metavar="N", help="export checkpoints/stepN (default export.step: 0 = newest)"
    )


def add_model_parser(sub) -> None:
    model = sub.add_parser(
        "model",
        help="resize a base model to an extended tokenizer",
        description="Model commands.",
        formatter_class=HELP_FORMAT,
    )
    model_sub = add_subcommands(model, "model_command")
    ext = model_sub.add_parser(
        "extend",
        help="resize a Llama checkpoint to an extended tokenizer (function-preserving)",
        description=MODEL_EXTEND_DESCRIPTION,
        formatter_class=HELP_FORMAT,
    )
    ext.add_argument("--base", required=True, metavar="MODEL", help="a directory or ORG/NAME[@REV]")
    ext.add_argument(
        "--revision",
        default="",
        metavar="REV",
        help="hub revision of --base ORG/NAME: branch, tag or commit (default main); the\n"
        "commit it resolves to is recorded in extend_manifest.json",
    )
    ext.add_argument(
        "--tokenizer",
        required=True,
        metavar="DIR",
        help="the extended tokenizer (a directory with embedding_init.json, or a run's\ntokenizer/)",
    )
    ext.add_argument("--out", required=True, metavar="DIR", help="output model directory")
    ext.add_argument(
        "--max-shard-size", default="2GB", metavar="SIZE", help="safetensors shard size (default 2GB)"
    )
    ext.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "bf16", "fp32", "fp16"],
        help="weights dtype (default: the checkpoint's)",
    )
    add_dry_run(ext)
    ext.set_defaults(func=cmd_model_extend)


def add_push_parser(sub) -> None:
    push = sub.add_parser(
        "push",
        help="publish an export (model repo) or a prep corpus (dataset repo) to the Hugging Face Hub",
        description=PUSH_DESCRIPTION,
        formatter_class=HELP_FORMAT,
    )
    what = push.add_mutually_exclusive_group(required=True)
    what.add_argument("--export", metavar="DIR", help="an export folder (<run>/export) -> model repo")
    what.add_argument("--prep", metavar="DIR", help="a prep folder (<run>/prep) -> dataset repo")
    push.add_argument("--repo", required=True, metavar="ORG/NAME", help="Hub repo id (created if missing)")
    push.add_argument(
        "--revision", metavar="REV", help="branch to commit to (default main; created from main if new)"
    )
    push.add_argument(
        "--private",
        action="store_true",
        help="create the repo private (an existing repo keeps its visibility)",
    )
    push.add_argument("--dry-run", action="store_true", help="print the planned commit; contact nothing")
    push.set_defaults(func=cmd_push)
