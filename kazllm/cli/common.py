"""What the `kazllm` commands share: the stage parser (--config, --print-config, --dry-run, overrides),
config loading, the --dry-run plan, and the notice an old spelling prints.

Placeholders in --help follow one convention, PLACEHOLDERS below: upper case, naming what the value is;
choices are listed as argparse writes them ({a,b}).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP_FORMAT = argparse.RawDescriptionHelpFormatter

PLACEHOLDERS = {
    "CONFIG": "the run config (YAML)",
    "KEY=VALUE": "a config override, e.g. train.steps=20",
    "COMMAND": "a subcommand",
    "DIR": "a directory",
    "FILE": "a file",
    "[LANG=]FILE": "a text file, LANG= naming its language",
    "N": "a number: a count, a step, a seed; 13e9 and 0.4 too",
    "NAME": "a name: a person, a Slurm partition or account, a GPU type",
    "NAME[,NAME...]": "comma-separated names",
    "TASK[,TASK...]": "comma-separated eval task names or task YAML files",
    "MODEL": "a model directory or a hub id ORG/NAME[@REV]",
    "ORG/NAME": "a hub repo",
    "REV": "a hub revision: branch, tag or commit",
    "JOBID": "a Slurm job id",
    "SIZE": "a file size such as 2GB",
    "HH:MM:SS": "a time limit",
}
"""Every placeholder a `kazllm` option may show, with what it stands for (tests/test_cli.py holds each
command's --help to these)."""

OVERRIDES_EPILOG = """\
overrides:
  Any config key can be set after the options as KEY=VALUE, e.g.
    train.steps=20 train.lr=1e-3 tokenizer.vocab_size=8000 eval.tasks=[sample_ppl]
  An unknown or mistyped key is an error that names it.
"""


def add_stage(
    sub,
    name: str,
    func,
    help_text: str,
    description: str,
    *,
    default_config: str | None = None,
    dry_run: bool = True,
) -> argparse.ArgumentParser:
    """A command that runs from a run config: --config, --print-config, --dry-run and KEY=VALUE overrides.
    `dry_run=False` for a command that adds its own --dry-run (the Slurm paths keep theirs) or has none."""
    p = sub.add_parser(
        name, help=help_text, description=description, epilog=OVERRIDES_EPILOG, formatter_class=HELP_FORMAT
    )
    default = f" [default: {default_config}]" if default_config else ""
    p.add_argument("--config", default=default_config, metavar="CONFIG", help=f"run config (YAML){default}")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    if dry_run:
        add_dry_run(p)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.set_defaults(func=func)
    return p


def add_dry_run(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (what it would read and write, key settings); create nothing",
    )


def add_subcommands(p: argparse.ArgumentParser, dest: str):
    """The COMMAND level of a command group (`kazllm tokenizer COMMAND`)."""
    return p.add_subparsers(dest=dest, metavar="COMMAND", required=True)


def load_run_config(args: argparse.Namespace):
    """The run config of a stage command: --config (a path, else one relative to the repository) with the
    overrides; --print-config prints it and exits."""
    from kazllm.config import load_config, resolve_path

    path = args.config
    cfg = load_config(resolve_path(path) if path and not Path(path).exists() else path, args.overrides)
    if getattr(args, "print_config", False):
        print(config_yaml(cfg))
        raise SystemExit(0)
    return cfg


def config_yaml(cfg) -> str:
    import yaml

    from kazllm.config import config_to_dict

    return yaml.safe_dump(config_to_dict(cfg), allow_unicode=True, sort_keys=False)


def option_overrides(options: dict) -> list[str]:
    """Command-line options as config overrides; strings quoted so YAML keeps 24:00:00 a string."""
    return [f"{k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in options.items() if v is not None]


def with_option_overrides(args: argparse.Namespace, options: dict) -> None:
    """Put options before the free overrides, so an explicit KEY=VALUE still wins and resolved_config.yaml
    records exactly what ran."""
    args.overrides = [*option_overrides(options), *args.overrides]


def print_dry_run(command: str, *, reads, writes, **settings) -> None:
    """The plan of a command under --dry-run, as one YAML document: what it would read, where it would
    write, and its key settings (`--print-config` shows the whole resolved config). Only the config file
    has been read; nothing is opened, downloaded or created."""
    import yaml

    plan = {
        "dry_run": command,
        "reads": [str(x) for x in reads],
        "writes": [str(x) for x in writes],
        **{k: v for k, v in settings.items() if v is not None},
    }
    print(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), end="")
    print(f"# {command}: dry run, nothing was created or changed; run it without --dry-run to do it")


def say_renamed(old: str, new: str) -> None:
    """One line on stderr for a spelling kept for one release, so scripts keep working and say what to use."""
    print(
        f"kazllm: note: `{old}` is now `{new}` (the old spelling goes in the next release)", file=sys.stderr
    )


def renamed_command(func, old: str, new: str):
    """The handler of an old command name: the notice, then exactly what the new name does."""

    def run_under_old_name(args):
        say_renamed(old, new)
        return func(args)

    return run_under_old_name


class RenamedOption(argparse.Action):
    """An old option name kept for one release: it sets the new option's value and says the new name.
    Give it `help=argparse.SUPPRESS` so --help shows only the new name."""

    def __init__(self, option_strings, dest, new_name: str, **kwargs):
        self.new_name = new_name
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        say_renamed(f"{parser.prog} {option_string}", f"{parser.prog} {self.new_name}")
        setattr(namespace, self.dest, values)
