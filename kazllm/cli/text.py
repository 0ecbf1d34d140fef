"""`kazllm text normalize|langid|pii`: the prep steps as line tools, one result per input line.

echo "Байланыс: +7 701 123 45 67" | kazllm text pii
kazllm text langid sentences.txt
"""

from __future__ import annotations

import sys

from kazllm.cli.common import HELP_FORMAT, add_subcommands, renamed_command
from kazllm.errors import KazllmError

PII_DESCRIPTION = """

Policies (docs/pii.md): identifiers, the default, masks the identifiers of data_prep/pii.py by typed
placeholders (<IIN>, <PHONE>, <EMAIL>, ...) and keeps names, as prep does for a source without pii
settings; full masks person names too (<PERSON>, or with --pseudonymise a fake name). With
--pseudonymise every FILE (or stdin) is one document: a name gets the same fake on each of its lines,
and the same --seed and FILE name give the same fakes.

  echo "Байланыс: +7 701 123 45 67" | kazllm text pii
  kazllm text pii --policy full --pseudonymise --allow "Абай Құнанбайұлы" decisions.txt"""


def _line_tool(args, process=None, per_input=None) -> None:
    """Read one text per line (each FILE in turn, or stdin), write one result per line, in order.
    `per_input(name)` -> process, called once per FILE ("-" = stdin), is for tools that keep state per
    input."""
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
        raise KazllmError(
            "--pseudonymise, --allow and --allow-file apply to person names: use them with --policy full"
        )
    deidentify = Deidentifier.create(
        args.policy,
        pseudonymise=args.pseudonymise,
        seed=args.seed,
        allow=args.allow,
        allow_files=args.allow_file,
    )

    def per_input(name: str):
        # one document per FILE: a name keeps the same pseudonym on every line of it
        pseudonymiser = deidentify.new_pseudonymiser(name) if args.pseudonymise else None
        return lambda text: deidentify(text, name, pseudonymiser)[0]

    _line_tool(args, per_input=per_input)


LINE_TOOLS = [
    ("normalize", cmd_normalize, "the normalised text (NFC, look-alike letters, legacy fonts, whitespace)"),
    ("langid", cmd_langid, "label<TAB>score (kk, ky, tt, ba, ru, uk, be, tr, uz, en, other)"),
    ("pii", cmd_pii, "the text with personal data replaced by typed placeholders"),
]
"""The line tools: name, handler, what each prints."""


def add_text_parser(sub) -> None:
    """`kazllm text TOOL`, and until the next release each tool under its old name `kazllm TOOL` too (hidden
    from the command list; it prints a notice on stderr, its stdout is the same)."""
    text = sub.add_parser(
        "text",
        help="line tools: normalise, identify the language, mask personal data",
        formatter_class=HELP_FORMAT,
        description="Line tools: each reads one text per line from FILE (or stdin) and prints one result\n"
        "per input line, in order: exactly what the prep step does.",
    )
    tools = add_subcommands(text, "text_command")
    for name, func, what in LINE_TOOLS:
        _add_tool(tools, name, func, what, help=what.split(" (")[0])
        _add_tool(sub, name, renamed_command(func, f"kazllm {name}", f"kazllm text {name}"), what)


def _add_tool(sub, name: str, func, what: str, **help_kwargs) -> None:
    tool = sub.add_parser(
        name,
        formatter_class=HELP_FORMAT,
        **help_kwargs,
        description=f"Read one text per line from FILE (or stdin) and print {what},\n"
        "one line per input line, in order: exactly what the prep step does.",
    )
    tool.set_defaults(func=func)
    if name != "pii":
        tool.add_argument("file", nargs="?", metavar="FILE", help="input file (default: stdin)")
        return
    tool.description += PII_DESCRIPTION
    tool.add_argument("file", nargs="*", metavar="FILE", help="input files, read in turn (default: stdin)")
    tool.add_argument(
        "--policy",
        choices=["identifiers", "full"],
        default="identifiers",
        help="identifiers (default, as prep for a source without pii settings): IIN/BIN, "
        "phones, e-mails, IBANs, cards, IPs, ...; full: those and person names",
    )
    tool.add_argument(
        "--pseudonymise",
        action="store_true",
        help="with --policy full: a fake name of the same gender and case form instead of <PERSON>",
    )
    tool.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the pseudonyms (default 0)")
    tool.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="NAME",
        help="with --policy full: a name kept as written (repeatable)",
    )
    tool.add_argument(
        "--allow-file",
        action="append",
        default=[],
        metavar="FILE",
        help="with --policy full: a file of names kept as written, one per line (repeatable)",
    )
