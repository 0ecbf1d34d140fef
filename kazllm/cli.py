"""The `kazllm` command: one entry point for every stage of the flow.

    sources -> prep/ -> tokenizer/ -> shards/ -> checkpoints/ -> export/ -> eval/

Every stage subcommand takes `--config FILE.yaml` plus `key.sub=value` overrides and writes its
resolved config beside its outputs under `run.out_dir`.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

from kazllm.errors import KazllmError

EPILOG = """\
overrides:
  Any config key can be set after the options as key.sub=value, e.g.
    train.steps=20 train.lr=1e-3 tokenizer.vocab_size=8000 eval.tasks=[sample_ppl]
  An unknown or mistyped key is an error that names it.
"""

QUICKSTART_CONFIG = "configs/quickstart.yaml"


def _load(args: argparse.Namespace):
    from kazllm.config import load_config, resolve_path

    path = args.config
    cfg = load_config(resolve_path(path) if path and not Path(path).exists() else path, args.overrides)
    if getattr(args, "print_config", False):
        import yaml

        from kazllm.config import config_to_dict

        print(yaml.safe_dump(config_to_dict(cfg), allow_unicode=True, sort_keys=False))
        raise SystemExit(0)
    return cfg


def cmd_prep(args):
    from data_prep.pipeline import render_slurm_plan, run_prep

    if args.executor:
        args.overrides = [f"prep.executor.kind={args.executor}", *args.overrides]
    cfg = _load(args)
    if args.dry_run:
        if cfg.prep.executor.kind != "slurm":
            raise KazllmError("--dry-run shows the Slurm submission: use it with --executor slurm")
        print(render_slurm_plan(cfg))
        return
    stats = run_prep(cfg)
    if not stats:  # submitted to Slurm
        return
    print(f"prep: {stats['documents_in']} documents in, {stats['documents_kept']} kept, "
          f"{stats['documents_rejected']} rejected {stats['rejected_by_reason']}")
    print(f"      PII masked {stats['pii_masked']} -> {cfg.stage_dir('prep')}")


def _line_tool(args, process) -> None:
    """Read one text per line (FILE or stdin), write one result per line, in order."""
    stream = open(args.file, encoding="utf-8") if args.file else sys.stdin
    try:
        for line in stream:
            print(process(line.rstrip("\n")), flush=not args.file)
    finally:
        if args.file:
            stream.close()


def cmd_normalize(args):
    from data_prep.normalize import normalize_text

    _line_tool(args, lambda text: normalize_text(text)[0])


def cmd_langid(args):
    from data_prep.langid import identify_language

    def label(text: str) -> str:
        lang, score = identify_language(text)
        return f"{lang}\t{score:.4f}"

    _line_tool(args, label)


def cmd_pii(args):
    from data_prep.pii import mask_pii

    _line_tool(args, lambda text: mask_pii(text)[0])


def cmd_tokenizer_train(args):
    from data_prep.tokenizer import run_tokenizer_train

    cfg = _load(args)
    result = run_tokenizer_train(cfg)
    print(f"tokenizer: vocab {result['vocab_size']}, Kazakh tokens/word {result['kk_tokens_per_word']}, "
          f"parity OK on {result['parity_lines_checked']} lines -> {cfg.stage_dir('tokenizer')}")


def cmd_pretokenize(args):
    from data_prep.pretokenize import run_pretokenize

    cfg = _load(args)
    result = run_pretokenize(cfg)
    s = result["splits"]
    print(f"pretokenize: train {s['train']['tokens']} tokens / {s['train']['documents']} docs, "
          f"val {s['val']['tokens']} tokens / {s['val']['documents']} docs ({result['dtype']}) -> {cfg.stage_dir('shards')}")


def cmd_train(args):
    from kazllm.train import launch_training

    launch_training(_load(args))


def cmd_export(args):
    from kazllm.export import run_export

    cfg = _load(args)
    result = run_export(cfg)
    print(f"export: {result['checkpoint']} -> {cfg.stage_dir('export')} (reload max |Δlogit| {result['max_logit_diff']:.2e})")


def cmd_eval(args):
    # Imports stay inside: `kazllm eval` must run where only the eval extra is installed (no DeepSpeed).
    from eval.runner import render_report, run_eval

    flags = {"limit": args.limit, "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens,
             "device": args.device, "dtype": args.dtype, "seed": args.seed}
    # Options become overrides, so resolved_config.yaml records exactly what ran.
    args.overrides = [f"eval.{k}={v}" for k, v in flags.items() if v is not None] + args.overrides
    cfg = _load(args)
    out_dir = Path(args.out) if args.out else cfg.stage_dir("eval")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    results = run_eval(cfg, model=args.model, tasks=tasks, out_dir=out_dir, hypotheses=args.hypotheses)
    print(render_report(results))
    print(f"eval: results in {out_dir}")


def cmd_eval_compare(args):
    from eval.report import compare_runs

    summary = compare_runs([Path(p) for p in args.runs], Path(args.out))
    print((Path(args.out) / "compare.md").read_text(encoding="utf-8"))
    print(f"eval compare: {len(summary['runs'])} runs -> {args.out}")


def cmd_quickstart(args):
    from kazllm.quickstart import run_quickstart

    run_quickstart(_load(args))


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="kazllm", formatter_class=fmt,
        description=textwrap.dedent("""\
            kazllm: an open training stack for Kazakh LLMs.

            The flow, each stage reading the previous stage's directory under run.out_dir:
              prep -> tokenizer train -> pretokenize -> train -> export -> eval
            `kazllm quickstart` runs all of them on the bundled Kazakh sample."""),
        epilog="Run `kazllm COMMAND --help` for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def stage(name, func, help_text, description, parent=sub, default_config=None):
        p = parent.add_parser(name, help=help_text, description=description, epilog=EPILOG, formatter_class=fmt)
        p.add_argument("--config", default=default_config, metavar="FILE.yaml",
                       help=f"run config (YAML){' [default: ' + default_config + ']' if default_config else ''}")
        p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
        p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")
        p.set_defaults(func=func)
        return p

    prep = stage("prep", cmd_prep, "raw sources -> clean Kazakh corpus (prep/)",
                 "Read raw sources; normalise, keep Kazakh, filter quality, decontaminate against eval sets,\n"
                 "mask personal data, drop exact and near duplicates (global, MinHash). Writes prep/kept/*.jsonl,\n"
                 "prep/rejected/*.jsonl (each with its reason), prep/stats.json (in = kept + rejected per\n"
                 "source), prep/datasheet.md/.json and the resolved config. A rerun with the same config\n"
                 "resumes: finished tasks are skipped.")
    prep.add_argument("--executor", choices=["local", "slurm"], help="where to run (default: prep.executor.kind)")
    prep.add_argument("--dry-run", action="store_true", help="with --executor slurm: print the sbatch scripts, submit nothing")
    for name, func, what in [
        ("normalize", cmd_normalize, "the normalised text (NFC, look-alike letters, legacy fonts, whitespace)"),
        ("langid", cmd_langid, "label<TAB>score (kk, ky, tt, ba, ru, uk, be, tr, uz, en, other)"),
        ("pii", cmd_pii, "the text with personal data replaced by typed placeholders"),
    ]:
        tool = sub.add_parser(name, help=f"line tool: {what.split(' (')[0]}", formatter_class=fmt,
                              description=f"Read one text per line from FILE (or stdin) and print {what},\n"
                                          "one line per input line, in order: exactly what the prep step does.")
        tool.add_argument("file", nargs="?", metavar="FILE", help="input file (default: stdin)")
        tool.set_defaults(func=func)
    tok = sub.add_parser("tokenizer", help="train a tokenizer on prep/ (tokenizer/)",
                         description="Tokenizer commands.", formatter_class=fmt)
    tok_sub = tok.add_subparsers(dest="tokenizer_command", metavar="SUBCOMMAND", required=True)
    stage("train", cmd_tokenizer_train, "sentencepiece BPE + Hugging Face export",
          "Train sentencepiece (BPE, byte fallback, split digits) on prep/kept and export a Hugging Face\n"
          "fast tokenizer to tokenizer/hf/. Fails, with examples, if any id differs from sentencepiece's.",
          parent=tok_sub)
    stage("pretokenize", cmd_pretokenize, "documents -> memmap token shards (shards/)",
          "Encode prep/kept with tokenizer/hf into flat token shards (uint16/uint32, EOS after each\n"
          "document) with a document index, split train/val, and a manifest with counts and checksums.")
    stage("train", cmd_train, "train a Llama model with DeepSpeed (checkpoints/)",
          "Train LlamaForCausalLM from a size preset with DeepSpeed ZeRO (stage from config) on shards/.\n"
          "Launches train.nproc ranks with torchrun unless already under a launcher. Writes metrics.jsonl,\n"
          "loss_curve.png and a DeepSpeed checkpoint.")
    stage("export", cmd_export, "ZeRO checkpoint -> Hugging Face model (export/)",
          "Gather the latest ZeRO checkpoint into safetensors with tokenizer, generation config and model\n"
          "card; reload it with AutoModelForCausalLM and check the logits match.")
    ev = stage("eval", cmd_eval, "evaluate a model (eval/)",
               "Run evaluation tasks (eval/tasks/*.yaml): perplexity and bits-per-byte, translation\n"
               "(chrF++/BLEU via sacrebleu), extractive QA (EM/F1) and multiple choice (acc/acc_norm).\n"
               "Writes results.json, samples.jsonl and report.md. Works with only the eval extra installed\n"
               "(pip install 'kazllm[eval]'); --config is optional.\n\n"
               "  kazllm eval --model DIR_OR_HUB_ID --tasks ntrex_kk_en,kazqad --limit 100 --out runs/ev\n"
               "  kazllm eval --tasks ntrex_kk_en --hypotheses system.txt --out runs/mt\n"
               "  kazllm eval compare runs/ev runs/ev2 --out runs/cmp   (table + charts across runs)")
    ev.add_argument("--model", help="model directory or hub id (default: eval.model, else this run's export/)")
    ev.add_argument("--tasks", help="comma-separated task names or YAML paths (default: eval.tasks)")
    ev.add_argument("--out", help="output directory (default: <run>/eval)")
    ev.add_argument("--limit", type=int, help="items per task, 0 = all (eval.limit)")
    ev.add_argument("--batch-size", type=int, help="sequences per forward pass (eval.batch_size)")
    ev.add_argument("--max-new-tokens", type=int, help="generation budget per item (eval.max_new_tokens)")
    ev.add_argument("--device", help="auto, cpu, cuda or cuda:N (eval.device)")
    ev.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"], help="weights dtype (eval.dtype)")
    ev.add_argument("--seed", type=int, help="few-shot sampling and torch seed (eval.seed, default run.seed)")
    ev.add_argument("--hypotheses", metavar="FILE",
                    help="score FILE (one translation per line) against the references of the one translation\n"
                         "task in --tasks with the same metrics; no model is loaded")
    cmp = sub.add_parser("eval-compare", prog="kazllm eval compare", formatter_class=fmt,
                         description="Compare `kazllm eval` runs (checkpoints or models): writes compare.md,\n"
                                     "compare.json and one PNG bar chart per metric into --out.")
    cmp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="eval output directories (with results.json)")
    cmp.add_argument("--out", required=True, help="output directory")
    cmp.set_defaults(func=cmd_eval_compare)
    stage("quickstart", cmd_quickstart, "run the whole flow on the bundled Kazakh sample",
          "prep -> tokenizer train -> pretokenize -> train (2 ranks, DeepSpeed) -> export -> eval\n"
          "on data/sample/, into runs/quickstart/, then print a summary table.",
          default_config=QUICKSTART_CONFIG)
    return parser


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["eval", "compare"]:  # `eval` takes free overrides, so compare cannot be its subparser
        argv = ["eval-compare", *argv[2:]]
    args, extra = parser.parse_known_args(argv)
    # Overrides may also follow options (`--dry-run train.steps=5`); anything else unknown is an error.
    stray = [x for x in extra if x.startswith("-") or "=" not in x or not hasattr(args, "overrides")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    try:
        args.func(args)
    except KazllmError as e:
        print(f"kazllm: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("kazllm: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
