"""The `kazllm` command: one entry point for every stage of the flow.

    sources -> prep/ -> tokenizer/ -> shards/ -> checkpoints/ -> export/ -> eval/

Every stage command takes `--config CONFIG` plus KEY=VALUE overrides, writes its resolved config beside
its outputs under `run.out_dir`, and with `--dry-run` prints what it would read and write and touches
nothing. One module per command group (prep, text, tokenizer, train, model, eval, quickstart) builds its
parser and holds its handlers; each handler imports the heavy libraries it needs, so `kazllm --help` is fast.

    python -m kazllm.cli --help
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

from kazllm.errors import KazllmError


def build_parser() -> argparse.ArgumentParser:
    """Every `kazllm` command, in the order of the flow."""
    from kazllm.cli.common import HELP_FORMAT
    from kazllm.cli.eval import add_eval_parser
    from kazllm.cli.model import add_export_parser, add_model_parser, add_push_parser
    from kazllm.cli.prep import add_prep_parser, add_pretokenize_parser
    from kazllm.cli.quickstart import add_quickstart_parser
    from kazllm.cli.text import add_text_parser
    from kazllm.cli.tokenizer import add_tokenizer_parser
    from kazllm.cli.train import add_plan_parser, add_slurm_parser, add_train_parser

    parser = argparse.ArgumentParser(
        prog="kazllm",
        formatter_class=HELP_FORMAT,
        description=textwrap.dedent("""\
            kazllm: an open training stack for Kazakh LLMs.

            The flow, each stage reading the previous stage's directory under run.out_dir:
              prep -> tokenizer train -> pretokenize -> train -> export -> eval -> push (to a hub)
            `kazllm quickstart` runs all of them on the bundled Kazakh sample."""),
        epilog="Run `kazllm COMMAND --help` for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (
        add_prep_parser,
        add_text_parser,
        add_tokenizer_parser,
        add_model_parser,
        add_pretokenize_parser,
        add_train_parser,
        add_export_parser,
        add_eval_parser,
        add_slurm_parser,
        add_plan_parser,
        add_push_parser,
        add_quickstart_parser,
    ):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the command; a KazllmError is one line on stderr and exit status 2."""
    from kazllm.cli.eval import default_to_run

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    argv = default_to_run(list(sys.argv[1:] if argv is None else argv))
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
