"""The `kazllm` command: one entry point for every stage of the flow.

    sources -> prep/ -> tokenizer/ -> shards/ -> checkpoints/ -> export/ -> eval/

Every stage subcommand takes `--config FILE.yaml` plus `key.sub=value` overrides and writes its
resolved config beside its outputs under `run.out_dir`.
"""

from __future__ import annotations

import argparse
import json
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
PII_DESCRIPTION = """

Policies (docs/pii.md): identifiers, the default, masks the identifiers of data_prep/pii.py by typed
placeholders (<IIN>, <PHONE>, <EMAIL>, ...) and keeps names, as prep does for a source without pii
settings; full masks person names too (<PERSON>, or with --pseudonymise a fake name). With
--pseudonymise every FILE (or stdin) is one document: a name gets the same fake on each of its lines,
and the same --seed and FILE name give the same fakes.

  echo "Байланыс: +7 701 123 45 67" | kazllm pii
  kazllm pii --policy full --pseudonymise --allow "Абай Құнанбайұлы" decisions.txt"""


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
    if not args.verbose:  # tqdm's own switch, read when tqdm is imported: datatrove's dedup progress bars
        os.environ.setdefault("TQDM_DISABLE", "1")
    from data_prep.pipeline import render_slurm_plan, run_prep

    if args.executor:
        args.overrides = [f"prep.executor.kind={args.executor}", *args.overrides]
    cfg = _load(args)
    if args.dry_run:
        if cfg.prep.executor.kind != "slurm":
            raise KazllmError("--dry-run shows the Slurm submission: use it with --executor slurm")
        print(render_slurm_plan(cfg))
        return
    stats = run_prep(cfg, verbose=args.verbose)
    if not stats:  # submitted to Slurm
        return
    print(f"prep: {stats['documents_in']} documents in, {stats['documents_kept']} kept, "
          f"{stats['documents_rejected']} rejected {stats['rejected_by_reason']}")
    print(f"      PII masked {stats['pii_masked']} -> {cfg.stage_dir('prep')}")


def _line_tool(args, process=None, per_input=None) -> None:
    """Read one text per line (each FILE in turn, or stdin), write one result per line, in order.
    `per_input(name)` -> process, called once per FILE ("-" = stdin), is for tools that keep state per input."""
    files = args.file if isinstance(args.file, list) else [args.file] if args.file else []
    for name in files or ["-"]:
        fn = per_input(name) if per_input else process
        try:
            stream = sys.stdin if name == "-" else open(name, encoding="utf-8")
        except OSError as e:
            raise KazllmError(f"cannot read {name}: {e.strerror or e}") from None
        try:
            for line in stream:
                print(fn(line.rstrip("\n")), flush=stream is sys.stdin)
        finally:
            if stream is not sys.stdin:
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
    from data_prep.deidentify import Deidentifier

    if args.policy != "full" and (args.pseudonymise or args.allow or args.allow_file):
        raise KazllmError("--pseudonymise, --allow and --allow-file apply to person names: use them with --policy full")
    deidentify = Deidentifier.create(args.policy, pseudonymise=args.pseudonymise, seed=args.seed,
                                     allow=args.allow, allow_files=args.allow_file)

    def per_input(name: str):
        # one document per FILE: a name keeps the same pseudonym on every line of it
        pseudonymiser = deidentify.new_pseudonymiser(name) if args.pseudonymise else None
        return lambda text: deidentify(text, name, pseudonymiser)[0]

    _line_tool(args, per_input=per_input)


def cmd_tokenizer_train(args):
    from data_prep.tokenizer import run_tokenizer_train

    if args.vocab_size:
        args.overrides = [f"tokenizer.vocab_size={args.vocab_size}", *args.overrides]
    if bool(args.input) != bool(args.out):
        raise KazllmError("--input and --out go together (train on your files into DIR)")
    cfg = _load(args)
    result = run_tokenizer_train(cfg, inputs=args.input, out_dir=Path(args.out) if args.out else None)
    langs = ", ".join(f"{k} {v['bytes'] / 1e6:.2f} MB" for k, v in result["languages"].items())
    where = args.out or cfg.stage_dir("tokenizer")
    if "extended_from" in result:
        print(f"tokenizer: {cfg.tokenizer.extend_base} extended by {result['added']} pieces "
              f"({result['base_vocab_size']} -> {result['vocab_size']}, old ids unchanged), sample {langs}, "
              f"Kazakh tokens/word {result['kk_tokens_per_word_base']} -> {result['kk_tokens_per_word']} -> {where}")
        return
    print(f"tokenizer: vocab {result['vocab_size']}, sample {langs}, Kazakh tokens/word {result['kk_tokens_per_word']}, "
          f"parity OK on {result['parity_lines_checked']} lines -> {where}")


def cmd_tokenizer_report(args):
    from data_prep.tokenizer_report import build_report, render_table
    from kazllm.artifacts import write_json

    dirs = {}
    for path in [args.tokenizer, *args.compare]:
        p = Path(path)
        name = p.parent.name if p.name == "hf" else p.name
        dirs[name if name not in dirs else str(p)] = p
    rows = build_report(dirs, args.files)
    print(render_table(rows))
    if args.json:
        write_json(args.json, rows)
        print(f"report: JSON in {args.json}")


def cmd_tokenizer_extend(args):
    from data_prep.tokenizer_extend import extend_tokenizer, read_training_lines
    from kazllm.hub import resolve_pretrained

    if args.max_new < 1:
        raise KazllmError(f"--max-new must be >= 1, got {args.max_new}")
    base = resolve_pretrained(args.base, "--base", weights=False, revision=args.revision)  # no weights needed
    base_info = {"source": base.source, "path": str(base.path), "repo_id": base.repo_id, "revision": base.revision}
    inputs = tuple(Path(spec.split("=", 1)[-1]) for spec in args.input)
    result = extend_tokenizer(base.path, Path(args.out), read_training_lines(args.input), eval_files=args.eval_text,
                              max_new=args.max_new, scripts=[x for x in args.scripts.split(",") if x],
                              base_info=base_info, keep=inputs)
    print(f"extend: {result['added']} pieces added to {result['base_vocab_size']} -> {result['vocab_size']} "
          f"(old ids unchanged; last merge seen {result['last_merge_count']} times) -> {args.out}")
    for row in result["fertility"]:
        print(f"  {row['language']} {Path(row['file']).name}: tokens/word {row['before']:.3f} -> {row['after']:.3f}, "
              f"round trip OK, {row['lines_without_target_script']} lines without {args.scripts} kept their ids")


def cmd_model_extend(args):
    from kazllm.model_extend import extend_model

    m = extend_model(args.base, Path(args.tokenizer), Path(args.out), max_shard_size=args.max_shard_size,
                     dtype=args.dtype, revision=args.revision)
    print(f"model extend: {m['base']['source']} ({m['base_rows']} rows) -> {m['rows']} rows, "
          f"{m['rows_initialised']} new rows = mean of their base sub-token rows "
          f"({'tied' if m['tied_embeddings'] else 'untied'}, {m['dtype']}) -> {args.out}")


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

    args.overrides = [*_option_overrides({"export.step": args.step}), *args.overrides]
    cfg = _load(args)
    result = run_export(cfg)
    check = result["logits_check"]
    print(f"export: {result['checkpoint']} -> {cfg.stage_dir('export')} ({result['dtype']}"
          f"{', sharded' if result['sharded'] else ''}; reload max |Δlogit| {check['max_abs_diff']:.2e} "
          f"<= {check['tolerance']:g})")


def cmd_eval(args):
    # Imports stay inside: `kazllm eval` must run where only the eval extra is installed (no DeepSpeed).
    from eval.runner import render_report, run_eval

    if args.list_tasks:
        from eval.tasks import task_table

        print(task_table())
        return

    options = {"eval.limit": args.limit, "eval.batch_size": args.batch_size, "eval.max_new_tokens": args.max_new_tokens,
               "eval.device": args.device, "eval.dtype": args.dtype, "eval.seed": args.seed,
               "eval.revision": args.revision, "eval.trust_remote_code": True if args.trust_remote_code else None}
    # Options become overrides, so resolved_config.yaml records exactly what ran.
    args.overrides = [*_option_overrides(options), *args.overrides]
    cfg = _load(args)
    out_dir = Path(args.out) if args.out else cfg.stage_dir("eval")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    results = run_eval(cfg, model=args.model, tasks=tasks, out_dir=out_dir, hypotheses=args.hypotheses,
                       predictions=args.predictions)
    print(render_report(results))
    print(f"eval: results in {out_dir}")
    if args.update_card:
        from kazllm.model_card import update_model_card

        card = update_model_card(Path(args.update_card), results)
        print(f"eval: results written into the model card {card}")


def _option_overrides(options: dict) -> list[str]:
    """Command-line options as config overrides; strings quoted so YAML keeps 24:00:00 a string."""
    return [f"{k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in options.items() if v is not None]


def cmd_slurm_submit(args):
    from kazllm.slurm import job_dir, submit

    if args.stage != "train" and (args.nodes or args.procs_per_node):
        raise KazllmError(f"--stage {args.stage} runs on one node as one task: --nodes and --procs-per-node "
                          "are for the training job")
    options = {"slurm.nodes": args.nodes, "slurm.gpus_per_node": args.gpus_per_node,
               "slurm.procs_per_node": args.procs_per_node, "slurm.partition": args.partition,
               "slurm.account": args.account, "slurm.time": args.time}
    args.overrides = [*_option_overrides(options), *args.overrides]
    cfg = _load(args)
    script, job_id = submit(cfg, config_source=args.config, dry_run=args.dry_run, stage=args.stage, after=args.after)
    if job_id is None:
        print(script, end="")
        return
    what = f"{cfg.slurm.nodes} node(s)" if args.stage == "train" else args.stage
    print(f"submitted job {job_id}: {what} -> {job_dir(cfg, args.stage)}/slurm-{job_id}.out")


def cmd_plan(args):
    from kazllm.plan import estimate, render_plan

    options = {"plan.gpus": args.gpus, "plan.tokens": args.tokens, "plan.mfu": args.mfu, "plan.gpu": args.gpu}
    args.overrides = [*_option_overrides(options), *args.overrides]
    cfg = _load(args)
    result = estimate(cfg, metrics=args.metrics)
    print(render_plan(result))
    if args.out:
        from kazllm.artifacts import write_json

        print(f"plan: written to {write_json(args.out, result)}")


def cmd_eval_compare(args):
    from eval.report import compare_runs

    summary = compare_runs([Path(p) for p in args.runs], Path(args.out), significance=args.significance)
    print((Path(args.out) / "compare.md").read_text(encoding="utf-8"))
    for w in summary["warnings"]:
        print(f"eval compare: warning: {w['message']}", file=sys.stderr)
    print(f"eval compare: {len(summary['runs'])} runs -> {args.out}")


def cmd_eval_export_lm_eval(args):
    from eval.lm_eval_export import export_tasks

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    written = export_tasks(Path(args.out), tasks, seed=args.seed)
    print(f"eval export-lm-eval: {len(written)} lm-eval task files -> {args.out} (run lm_eval with "
          f"--include_path {args.out} --model_args pretrained=MODEL,add_bos_token=True; docs/eval.md)")


def cmd_quickstart(args):
    from kazllm.quickstart import run_quickstart

    run_quickstart(_load(args))


def cmd_push(args):
    from kazllm.push import plan_export_push, plan_prep_push, push_plan, render_plan

    if args.export:  # a real push first points the card's loading example at --repo; a dry run changes nothing
        plan = plan_export_push(args.export, args.repo, args.revision, private=args.private,
                                update_card=not args.dry_run)
    else:
        plan = plan_prep_push(args.prep, args.repo, args.revision, private=args.private)
    print(render_plan(plan))
    if args.dry_run:
        print("push: dry run: nothing was sent and nothing was contacted; run without --dry-run to push")
        return
    info = push_plan(plan)
    print(f"push: {len(plan.files)} files in one commit {info.oid} -> {info.commit_url}")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="kazllm", formatter_class=fmt,
        description=textwrap.dedent("""\
            kazllm: an open training stack for Kazakh LLMs.

            The flow, each stage reading the previous stage's directory under run.out_dir:
              prep -> tokenizer train -> pretokenize -> train -> export -> eval -> push (to a hub)
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
    prep.add_argument("-v", "--verbose", action="store_true",
                      help="also show datatrove's own logging (pipelines, per-task stats, progress) on the console; "
                           "without it each stage prints one line (tasks, documents in/kept/rejected, time) and "
                           "datatrove logs only to prep/logs/<stage>/logs/task_*.log")
    for name, func, what in [
        ("normalize", cmd_normalize, "the normalised text (NFC, look-alike letters, legacy fonts, whitespace)"),
        ("langid", cmd_langid, "label<TAB>score (kk, ky, tt, ba, ru, uk, be, tr, uz, en, other)"),
        ("pii", cmd_pii, "the text with personal data replaced by typed placeholders"),
    ]:
        tool = sub.add_parser(name, help=f"line tool: {what.split(' (')[0]}", formatter_class=fmt,
                              description=f"Read one text per line from FILE (or stdin) and print {what},\n"
                                          "one line per input line, in order: exactly what the prep step does.")
        if name == "pii":
            tool.description += PII_DESCRIPTION
            tool.add_argument("file", nargs="*", metavar="FILE", help="input files, read in turn (default: stdin)")
            tool.add_argument("--policy", choices=["identifiers", "full"], default="identifiers",
                              help="identifiers (default, as prep for a source without pii settings): IIN/BIN, "
                                   "phones, e-mails, IBANs, cards, IPs, ...; full: those and person names")
            tool.add_argument("--pseudonymise", action="store_true",
                              help="with --policy full: a fake name of the same gender and case form instead of <PERSON>")
            tool.add_argument("--seed", type=int, default=0, help="seed of the pseudonyms (default 0)")
            tool.add_argument("--allow", action="append", default=[], metavar="NAME",
                              help="with --policy full: a name kept as written (repeatable)")
            tool.add_argument("--allow-file", action="append", default=[], metavar="FILE",
                              help="with --policy full: a file of names kept as written, one per line (repeatable)")
        else:
            tool.add_argument("file", nargs="?", metavar="FILE", help="input file (default: stdin)")
        tool.set_defaults(func=func)
    tok = sub.add_parser("tokenizer", help="train, measure or extend a tokenizer (tokenizer/)",
                         description="Tokenizer commands.", formatter_class=fmt)
    tok_sub = tok.add_subparsers(dest="tokenizer_command", metavar="SUBCOMMAND", required=True)
    tok_train = stage("train", cmd_tokenizer_train, "sentencepiece BPE + Hugging Face export",
                      "Train sentencepiece (BPE, byte fallback, split digits, reserved chat tokens) on prep/kept,\n"
                      "sampled per language by tokenizer.language_weights, or on your own files (--input), and\n"
                      "export a Hugging Face fast tokenizer (hf/). Fails, with examples, if any id differs from\n"
                      "sentencepiece's on a parity sample (edge cases: spaces, emoji, other scripts, empty lines).",
                      parent=tok_sub)
    tok_train.add_argument("--input", nargs="+", metavar="[LANG=]FILE",
                           help="text (one line per sentence) or JSONL files; LANG= sets their language")
    tok_train.add_argument("--vocab-size", type=int, help="vocabulary size (= tokenizer.vocab_size)")
    tok_train.add_argument("--out", metavar="DIR", help="with --input: output directory (spm.model, hf/)")
    report = tok_sub.add_parser(
        "report", help="tokens/word, bytes/token, byte fallback per file", formatter_class=fmt,
        description="Measure tokenizers on text files (one text per line): tokens per word (words = \\w+ runs),\n"
                    "bytes per token and byte-fallback rate, per file and language, as a table (and JSON).\n"
                    "Write LANG=FILE to name a file's language; else it is guessed from the name.")
    report.add_argument("--tokenizer", required=True, metavar="DIR", help="our tokenizer (dir with hf/ or tokenizer.json)")
    report.add_argument("--compare", action="append", default=[], metavar="DIR",
                        help="another Hugging Face tokenizer directory (repeat the option for more)")
    report.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    report.add_argument("files", nargs="+", metavar="[LANG=]TEXT_FILE")
    report.set_defaults(func=cmd_tokenizer_report)
    extend = tok_sub.add_parser(
        "extend", help="grow a base model's tokenizer with Kazakh pieces (old ids unchanged)", formatter_class=fmt,
        description="Extend a real checkpoint's BPE tokenizer (byte-level: Llama-3, Qwen; or sentencepiece-style\n"
                    "with byte fallback) by continuing its BPE training on your text: the base cuts every word\n"
                    "as it always did, then the most frequent adjacent pairs are merged, up to --max-new new\n"
                    "pieces, ranked by tokens saved. New ids come after the highest existing id (special\n"
                    "tokens included); only pieces holding a letter of --scripts are added, so text in other\n"
                    "scripts (English, code) keeps the base's ids; every --eval-text line is checked to decode\n"
                    "to itself. Writes tokenizer.json, embedding_init.json (new id -> base ids, for\n"
                    "`kazllm model extend`) and extend_manifest.json with fertility before/after.\n\n"
                    "  kazllm tokenizer extend --base Qwen/Qwen2.5-7B --input kk=kk.txt ru=ru.txt --out ext/ \\\n"
                    "      --max-new 32000 --eval-text kk=news.kk en=news.en")
    extend.add_argument("--base", required=True, metavar="HF_DIR_OR_HUB_ID",
                        help="the tokenizer to extend: a directory with tokenizer.json, or ORG/NAME[@REVISION]")
    extend.add_argument("--revision", default="", metavar="REV",
                        help="hub revision of --base ORG/NAME: branch, tag or commit (default main); the commit\n"
                             "it resolves to is recorded in extend_manifest.json")
    extend.add_argument("--input", required=True, nargs="+", metavar="[LANG=]FILE",
                        help="training text: text (one line per sentence) or JSONL files")
    extend.add_argument("--out", required=True, metavar="DIR", help="output Hugging Face directory")
    extend.add_argument("--eval-text", nargs="*", default=[], metavar="[LANG=]FILE",
                        help="text files to report fertility on before and after (and to check)")
    extend.add_argument("--max-new", type=int, default=32000, metavar="N",
                        help="at most N new pieces (default 32000); any N keeps every merge chain whole")
    extend.add_argument("--scripts", default="Cyrillic", metavar="SCRIPT[,SCRIPT]",
                        help="Unicode scripts a new piece must contain a letter of (default Cyrillic)")
    extend.set_defaults(func=cmd_tokenizer_extend)
    model = sub.add_parser("model", help="resize a base model to an extended tokenizer",
                           description="Model commands.", formatter_class=fmt)
    model_sub = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND", required=True)
    m_ext = model_sub.add_parser(
        "extend", help="resize a Llama checkpoint to an extended tokenizer (function-preserving)", formatter_class=fmt,
        description="Resize a LlamaForCausalLM checkpoint (safetensors only, never remote code) to a tokenizer made\n"
                    "by `kazllm tokenizer extend` / tokenizer.extend_base. Each new input row, and each new\n"
                    "output row when untied, is the mean of the base rows of the ids the base tokenizer gives\n"
                    "for that piece's bytes (embedding_init.json); old rows are copied, so on text with old ids\n"
                    "the logits over the old vocabulary equal the base model's. Writes safetensors (sharded past\n"
                    "--max-shard-size), the tokenizer, config and extend_manifest.json (base, revision, sha256).\n\n"
                    "  kazllm model extend --base meta-llama/Llama-3.1-8B --tokenizer runs/x/tokenizer --out ext8b/")
    m_ext.add_argument("--base", required=True, metavar="HF_DIR_OR_HUB_ID", help="directory or ORG/NAME[@REVISION]")
    m_ext.add_argument("--revision", default="", metavar="REV",
                       help="hub revision of --base ORG/NAME: branch, tag or commit (default main); the commit\n"
                            "it resolves to is recorded in extend_manifest.json")
    m_ext.add_argument("--tokenizer", required=True, metavar="TOK_DIR",
                       help="the extended tokenizer (a directory with embedding_init.json, or a run's tokenizer/)")
    m_ext.add_argument("--out", required=True, metavar="DIR", help="output model directory")
    m_ext.add_argument("--max-shard-size", default="2GB", help="safetensors shard size (default 2GB)")
    m_ext.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp32", "fp16"],
                       help="weights dtype (default: the checkpoint's)")
    m_ext.set_defaults(func=cmd_model_extend)
    stage("pretokenize", cmd_pretokenize, "documents -> memmap token shards (shards/)",
          "Encode prep/kept with tokenizer/hf into flat token shards (uint16/uint32, EOS after each\n"
          "document) with a document index, split train/val, and a manifest with counts and checksums.")
    stage("train", cmd_train, "train a Llama model with DeepSpeed (checkpoints/)",
          "Train LlamaForCausalLM from a size preset with DeepSpeed ZeRO (stage from config) on shards/.\n"
          "Launches train.nproc ranks with torchrun unless already under a launcher. Writes metrics.jsonl,\n"
          "loss_curve.png and a DeepSpeed checkpoint.")
    exp = stage("export", cmd_export, "ZeRO checkpoint -> Hugging Face model (export/)",
                "Gather a verified ZeRO checkpoint (the newest, or --step N) into safetensors (export.dtype: auto =\n"
                "bf16 when training ran in bf16; sharded past export.max_shard_size) with tokenizer, generation\n"
                "config and model card; reload it with AutoModelForCausalLM and check the logits match. Written\n"
                "to export.tmp/ and renamed to export/ only when the check passes.")
    exp.add_argument("--step", type=int, metavar="N", help="export checkpoints/stepN (default export.step: 0 = newest)")
    ev = stage("eval", cmd_eval, "evaluate a model (eval/)",
               "Run evaluation tasks (eval/tasks/*.yaml): perplexity and bits-per-byte, translation\n"
               "(chrF++/BLEU via sacrebleu), extractive QA (EM/F1) and multiple choice (acc/acc_norm).\n"
               "Writes results.json, samples.jsonl and report.md. Works with only the eval extra installed\n"
               "(pip install 'kazllm[eval]'); --config is optional.\n\n"
               "  kazllm eval --model DIR_OR_HUB_ID --tasks ntrex_kk_en,kazqad --limit 100 --out runs/ev\n"
               "  kazllm eval --tasks ntrex_kk_en --hypotheses system.txt --out runs/mt\n"
               "  kazllm eval --tasks kazqad --predictions answers.jsonl --out runs/api\n"
               "  kazllm eval --list-tasks\n"
               "  kazllm eval compare runs/ev runs/ev2 --out runs/cmp --significance   (table, charts, paired tests)\n"
               "  kazllm eval export-lm-eval --out lm_eval_tasks   (every task as an lm-evaluation-harness YAML)")
    ev.add_argument("--model", help="model directory or hub id (default: eval.model, else this run's export/)")
    ev.add_argument("--revision", metavar="REV",
                    help="hub revision of a hub-id --model: branch, tag or commit (eval.revision, default main);\n"
                         "results.json records the commit it resolved to")
    ev.add_argument("--trust-remote-code", action="store_true",
                    help="let a hub model run its own Python (auto_map); off by default (eval.trust_remote_code)")
    ev.add_argument("--update-card", metavar="EXPORT_DIR",
                    help="after scoring, write the results into EXPORT_DIR/README.md (its model-index and\n"
                         "Evaluation section) and refresh the export manifest's checksum of it")
    ev.add_argument("--tasks", help="comma-separated task names or YAML paths (default: eval.tasks)")
    ev.add_argument("--out", help="output directory (default: <run>/eval)")
    ev.add_argument("--limit", type=int, help="items per task, 0 = all (eval.limit)")
    ev.add_argument("--batch-size", type=int, help="sequences per forward pass (eval.batch_size)")
    ev.add_argument("--max-new-tokens", type=int, help="generation budget per item (eval.max_new_tokens)")
    ev.add_argument("--device", help="auto (device_map=auto: shards a large model over the node's GPUs), cpu,\n"
                                     "cuda or cuda:N (eval.device)")
    ev.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"], help="weights dtype (eval.dtype)")
    ev.add_argument("--seed", type=int, help="few-shot sampling and torch seed (eval.seed, default run.seed)")
    ev.add_argument("--hypotheses", metavar="FILE",
                    help="score FILE (one translation per line) against the references of the one translation\n"
                         "task in --tasks with the same metrics; no model is loaded")
    ev.add_argument("--predictions", metavar="FILE",
                    help='score FILE (JSONL: {"index": N, "prediction": "text"} for QA, {"index": N, "choice": K}\n'
                         "0-based for multiple choice; N as in samples.jsonl) for the one task in --tasks; no model")
    ev.add_argument("--list-tasks", action="store_true", help="print every task with its metrics and data source")
    cmp = sub.add_parser("eval-compare", prog="kazllm eval compare", formatter_class=fmt,
                         description="Compare `kazllm eval` runs (checkpoints or models): writes compare.md,\n"
                                     "compare.json and one PNG bar chart per metric into --out.")
    cmp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="eval output directories (with results.json)")
    cmp.add_argument("--out", required=True, help="output directory")
    cmp.add_argument("--significance", action="store_true",
                     help="paired tests of every run against the first on the items both scored (sacrebleu's\n"
                          "paired bootstrap for chrF++/BLEU; paired bootstrap and McNemar for acc/EM/F1)")
    cmp.set_defaults(func=cmd_eval_compare)
    lmx = sub.add_parser("eval-export-lm-eval", prog="kazllm eval export-lm-eval", formatter_class=fmt,
                         description="Write every kazllm task (or --tasks) as an lm-evaluation-harness task YAML\n"
                                     "into --out; lm-eval then scores the same items identically (docs/eval.md).")
    lmx.add_argument("--out", required=True, help="output directory (lm_eval --include_path)")
    lmx.add_argument("--tasks", help="comma-separated task names or YAML paths (default: every shipped task)")
    lmx.add_argument("--seed", type=int, default=1234, help="few-shot draw, as kazllm eval --seed (default 1234)")
    lmx.set_defaults(func=cmd_eval_export_lm_eval)
    slurm = sub.add_parser("slurm", help="run training (multi-node) or any other stage as a Slurm job",
                           description="Slurm commands (templates in slurm/).", formatter_class=fmt)
    slurm_sub = slurm.add_subparsers(dest="slurm_command", metavar="SUBCOMMAND", required=True)
    sub_p = stage("submit", cmd_slurm_submit, "render a stage's batch script from the config and sbatch it",
                  "Render the multi-node training job from the run config (one srun task per node, torchrun\n"
                  "c10d rendezvous, NCCL/InfiniBand environment, --signal=B:USR1, --requeue), save it with the\n"
                  "job config in <run>/slurm/ and submit it. On USR1 (before the time limit) or TERM the job\n"
                  "checkpoints, requeues itself and resumes from that checkpoint.\n\n"
                  "--stage tokenizer|pretokenize|export|eval submits that stage instead, as one task on one node\n"
                  "(slurm/stage.sbatch; eval asks for one GPU when the nodes have GPUs), into <run>/slurm/<stage>/.\n"
                  "--after JOBID queues a job behind another, e.g. tokenizer -> pretokenize -> train at once.",
                  parent=slurm_sub)
    from kazllm.slurm import STAGES  # (light: config and artifacts only)

    sub_p.add_argument("--stage", choices=list(STAGES), default="train", help="which stage the job runs (default: train)")
    sub_p.add_argument("--after", metavar="JOBID", help="start only after job JOBID succeeded (it makes the input)")
    sub_p.add_argument("--nodes", type=int, help="nodes (default: slurm.nodes)")
    sub_p.add_argument("--gpus-per-node", type=int, help="GPUs per node, 0 for CPU nodes (default: slurm.gpus_per_node)")
    sub_p.add_argument("--procs-per-node", type=int, help="ranks per node (default: one per GPU)")
    sub_p.add_argument("--partition", help="partition (default: slurm.partition)")
    sub_p.add_argument("--account", help="account (default: slurm.account)")
    sub_p.add_argument("--time", help="time limit per attempt, HH:MM:SS (default: slurm.time)")
    sub_p.add_argument("--dry-run", action="store_true", help="print the batch script; write and submit nothing")
    plan = stage("plan", cmd_plan, "estimate time, GPU-hours and energy of a training run",
                 "Estimate wall-clock time, GPU-hours and energy for the token budget from the model's\n"
                 "training FLOPs per token (6N + attention), the GPUs' peak bf16 TFLOP/s and an MFU figure:\n"
                 "assumed (plan.mfu, default 0.40) or measured from a metrics.jsonl (--metrics).")
    plan.add_argument("--gpus", type=int, help="GPUs (default: plan.gpus, else slurm.nodes x slurm.gpus_per_node)")
    plan.add_argument("--tokens", type=float, help="training tokens, e.g. 13e9 (default: plan.tokens, else train.steps)")
    plan.add_argument("--mfu", type=float, help="model FLOPs utilisation, e.g. 0.4 (default: plan.mfu)")
    plan.add_argument("--gpu", help="GPU type: h100-sxm, h200, a100-80gb (default: plan.gpu)")
    plan.add_argument("--metrics", metavar="metrics.jsonl",
                      help="measured run: take MFU from its tokens_per_s (same model, seq_len and GPU type)")
    plan.add_argument("--out", metavar="plan.json", help="also write the estimate as JSON")
    push = sub.add_parser(
        "push", help="publish an export (model repo) or a prep corpus (dataset repo) to the Hugging Face Hub",
        formatter_class=fmt,
        description="Publish to the Hugging Face Hub in one commit, through huggingface_hub.\n\n"
                    "  --export DIR  every file of a `kazllm export` folder (weights, tokenizer, config, card,\n"
                    "                manifest.json, resolved_config.yaml) to a model repo; large files go through\n"
                    "                the Hub's LFS/Xet path. Refused unless the export's logits check passed, its\n"
                    "                card has a real licence (export.license) and every file matches the sha256\n"
                    "                in manifest.json (README.md may have changed: eval adds its results).\n"
                    "  --prep DIR    the kept corpus of a `kazllm prep` folder to a dataset repo: Parquet shards\n"
                    "                (data/train-*.parquet, built in DIR/hub_dataset/) and a dataset card whose\n"
                    "                body is the datasheet. Refused if any source's licence is unknown.\n\n"
                    "The commit message names the run and the checkpoint. The token comes only from huggingface_hub's\n"
                    "own sources (the HF_TOKEN environment variable or `hf auth login`); kazllm never reads, prints\n"
                    "or stores it. --dry-run prints the planned commit (every file with its size and sha256) and\n"
                    "contacts nothing.\n\n"
                    "  kazllm push --export runs/quickstart/export --repo my-org/kazllm-tiny --dry-run\n"
                    "  kazllm push --prep runs/quickstart/prep --repo my-org/kazakh-corpus --private")
    what = push.add_mutually_exclusive_group(required=True)
    what.add_argument("--export", metavar="DIR", help="an export folder (<run>/export) -> model repo")
    what.add_argument("--prep", metavar="DIR", help="a prep folder (<run>/prep) -> dataset repo")
    push.add_argument("--repo", required=True, metavar="ORG/NAME", help="Hub repo id (created if missing)")
    push.add_argument("--revision", metavar="BRANCH", help="branch to commit to (default main; created from main if new)")
    push.add_argument("--private", action="store_true",
                      help="create the repo private (an existing repo keeps its visibility)")
    push.add_argument("--dry-run", action="store_true", help="print the planned commit; contact nothing")
    push.set_defaults(func=cmd_push)
    stage("quickstart", cmd_quickstart, "run the whole flow on the bundled Kazakh sample",
          "prep -> tokenizer train -> pretokenize -> train (2 ranks, DeepSpeed) -> export -> eval\n"
          "on data/sample/, into runs/quickstart/, then print a summary table.",
          default_config=QUICKSTART_CONFIG)
    return parser


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] in (["eval", "compare"], ["eval", "export-lm-eval"]):  # `eval` takes free overrides, so these
        argv = [f"eval-{argv[1]}", *argv[2:]]                          # cannot be its subparsers
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
