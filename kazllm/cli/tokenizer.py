"""`kazllm tokenizer train|report|extend`: train our tokenizer (prep/ -> tokenizer/), measure tokenizers on
text, or grow a base model's tokenizer with Kazakh pieces. sentencepiece and tokenizers are imported inside
the handlers, so `kazllm --help` stays fast."""

from __future__ import annotations

from pathlib import Path

from kazllm.cli.common import (
    HELP_FORMAT,
    add_dry_run,
    add_stage,
    add_subcommands,
    load_run_config,
    print_dry_run,
)
from kazllm.errors import KazllmError


def file_of(spec: str) -> Path:
    """The file of a [LANG=]FILE argument."""
    return Path(spec.split("=", 1)[-1])


def cmd_tokenizer_train(args):
    if args.vocab_size:
        args.overrides = [f"tokenizer.vocab_size={args.vocab_size}", *args.overrides]
    if bool(args.input) != bool(args.out):
        raise KazllmError("--input and --out go together (train on your files into DIR)")
    cfg = load_run_config(args)
    where = args.out or cfg.stage_dir("tokenizer")
    if args.dry_run:
        tc = cfg.tokenizer
        reads = [*map(file_of, args.input)] if args.input else [cfg.stage_dir("prep") / "kept"]
        if tc.extend_base:
            print_dry_run(
                "kazllm tokenizer train",
                reads=[*reads, tc.extend_base],
                writes=[where],
                extend_base=tc.extend_base,
                max_new=tc.max_new,
                extend_scripts=tc.extend_scripts,
            )
        else:
            print_dry_run(
                "kazllm tokenizer train",
                reads=reads,
                writes=[where],
                vocab_size=tc.vocab_size,
                model_type=tc.model_type,
                language_weights=tc.language_weights,
                max_bytes=tc.max_bytes,
            )
        return
    from data_prep.tokenizer import run_tokenizer_train

    result = run_tokenizer_train(cfg, inputs=args.input, out_dir=Path(args.out) if args.out else None)
    langs = ", ".join(f"{k} {v['bytes'] / 1e6:.2f} MB" for k, v in result["languages"].items())
    if "extended_from" in result:
        print(
            f"tokenizer: {cfg.tokenizer.extend_base} extended by {result['added']} pieces "
            f"({result['base_vocab_size']} -> {result['vocab_size']}, old ids unchanged), sample {langs}, "
            f"Kazakh tokens/word {result['kk_tokens_per_word_base']} -> {result['kk_tokens_per_word']} "
            f"-> {where}"
        )
        return
    print(
        f"tokenizer: vocab {result['vocab_size']}, sample {langs}, Kazakh tokens/word "
        f"{result['kk_tokens_per_word']}, parity OK on {result['parity_lines_checked']} lines -> {where}"
    )


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
    if args.max_new < 1:
        raise KazllmError(f"--max-new must be >= 1, got {args.max_new}")
    scripts = [x for x in args.scripts.split(",") if x]
    if args.dry_run:  # the base is named, not resolved: resolving a hub id would download it
        texts = [file_of(spec) for spec in [*args.input, *args.eval_text]]
        print_dry_run(
            "kazllm tokenizer extend",
            reads=[args.base, *texts],
            writes=[args.out],
            base=args.base,
            revision=args.revision or None,
            max_new=args.max_new,
            scripts=scripts,
        )
        return
    from data_prep.tokenizer_extend import extend_tokenizer, read_training_lines
    from kazllm.hub import resolve_pretrained

    base = resolve_pretrained(args.base, "--base", weights=False, revision=args.revision)  # no weights needed
    base_info = {
        "source": base.source,
        "path": str(base.path),
        "repo_id": base.repo_id,
        "revision": base.revision,
    }
    inputs = tuple(map(file_of, args.input))
    result = extend_tokenizer(
        base.path,
        Path(args.out),
        read_training_lines(args.input),
        eval_files=args.eval_text,
        max_new=args.max_new,
        scripts=scripts,
        base_info=base_info,
        keep=inputs,
    )
    print(
        f"extend: {result['added']} pieces added to {result['base_vocab_size']} -> {result['vocab_size']} "
        f"(old ids unchanged; last merge seen {result['last_merge_count']} times) -> {args.out}"
    )
    for row in result["fertility"]:
        print(
            f"  {row['language']} {Path(row['file']).name}: tokens/word {row['before']:.3f} -> "
            f"{row['after']:.3f}, round trip OK, {row['lines_without_target_script']} lines without "
            f"{args.scripts} kept their ids"
        )


REPORT_DESCRIPTION = """\
Measure tokenizers on text files (one text per line): tokens per word (words = \\w+ runs),
bytes per token and byte-fallback rate, per file and language, as a table (and JSON).
Write LANG=FILE to name a file's language; else it is guessed from the name."""

EXTEND_DESCRIPTION = """\
Extend a real checkpoint's BPE tokenizer (byte-level: Llama-3, Qwen; or sentencepiece-style
with byte fallback) by continuing its BPE training on your text: the base cuts every word
as it always did, then the most frequent adjacent pairs are merged, up to --max-new new
pieces, ranked by tokens saved. New ids come after the highest existing id (special
tokens included); only pieces holding a letter of --scripts are added, so text in other
scripts (English, code) keeps the base's ids; every --eval-text line is checked to decode
to itself. Writes tokenizer.json, embedding_init.json (new id -> base ids, for
`kazllm model extend`) and extend_manifest.json with fertility before/after.

  kazllm tokenizer extend --base Qwen/Qwen2.5-7B --input kk=kk.txt ru=ru.txt --out ext/ \\
      --max-new 32000 --eval-text kk=news.kk en=news.en"""


def add_tokenizer_parser(sub) -> None:
    tok = sub.add_parser(
        "tokenizer",
        help="train, measure or extend a tokenizer (tokenizer/)",
        description="Tokenizer commands.",
        formatter_class=HELP_FORMAT,
    )
    tok_sub = add_subcommands(tok, "tokenizer_command")
    train = add_stage(
        tok_sub,
        "train",
        cmd_tokenizer_train,
        "sentencepiece BPE + Hugging Face export",
        "Train sentencepiece (BPE, byte fallback, split digits, reserved chat tokens) on prep/kept,\n"
        "sampled per language by tokenizer.language_weights, or on your own files (--input), and\n"
        "export a Hugging Face fast tokenizer (hf/). Fails, with examples, if any id differs from\n"
        "sentencepiece's on a parity sample (edge cases: spaces, emoji, other scripts, empty lines).",
    )
    train.add_argument(
        "--input",
        nargs="+",
        metavar="[LANG=]FILE",
        help="text (one line per sentence) or JSONL files; LANG= sets their language",
    )
    train.add_argument("--vocab-size", type=int, metavar="N", help="vocabulary size (= tokenizer.vocab_size)")
    train.add_argument("--out", metavar="DIR", help="with --input: output directory (spm.model, hf/)")

    report = tok_sub.add_parser(
        "report",
        help="tokens/word, bytes/token, byte fallback per file",
        formatter_class=HELP_FORMAT,
        description=REPORT_DESCRIPTION,
    )
    report.add_argument(
        "--tokenizer", required=True, metavar="DIR", help="our tokenizer (dir with hf/ or tokenizer.json)"
    )
    report.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="DIR",
        help="another Hugging Face tokenizer directory (repeat the option for more)",
    )
    report.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    report.add_argument("files", nargs="+", metavar="[LANG=]FILE", help="text files, one text per line")
    report.set_defaults(func=cmd_tokenizer_report)

    extend = tok_sub.add_parser(
        "extend",
        help="grow a base model's tokenizer with Kazakh pieces (old ids unchanged)",
        formatter_class=HELP_FORMAT,
        description=EXTEND_DESCRIPTION,
    )
    extend.add_argument(
        "--base",
        required=True,
        metavar="MODEL",
        help="the tokenizer to extend: a directory with tokenizer.json, or ORG/NAME[@REV]",
    )
    extend.add_argument(
        "--revision",
        default="",
        metavar="REV",
        help="hub revision of --base ORG/NAME: branch, tag or commit (default main); the\n"
        "commit it resolves to is recorded in extend_manifest.json",
    )
    extend.add_argument(
        "--input",
        required=True,
        nargs="+",
        metavar="[LANG=]FILE",
        help="training text: text (one line per sentence) or JSONL files",
    )
    extend.add_argument("--out", required=True, metavar="DIR", help="output Hugging Face directory")
    extend.add_argument(
        "--eval-text",
        nargs="*",
        default=[],
        metavar="[LANG=]FILE",
        help="text files to report fertility on before and after (and to check)",
    )
    extend.add_argument(
        "--max-new",
        type=int,
        default=32000,
        metavar="N",
        help="at most N new pieces (default 32000); any N keeps every merge chain whole",
    )
    extend.add_argument(
        "--scripts",
        default="Cyrillic",
        metavar="NAME[,NAME...]",
        help="Unicode scripts a new piece must contain a letter of (default Cyrillic)",
    )
    add_dry_run(extend)
    extend.set_defaults(func=cmd_tokenizer_extend)
