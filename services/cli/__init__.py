"""The `orders` command line.

Each module in `COMMANDS` adds one subcommand through `register(subparsers)` and sets `func`
on its parser to a handler returning the exit code, so a new command is one new module plus
one entry here.
"""

import argparse
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from infrastructure.settings import Settings, SettingsError
from services.cli import (
    api,
    chaos,
    check,
    demo,
    dev,
    dlq,
    forget,
    gateway,
    projections,
    relay,
    run,
    saga,
    simulators,
)


class CommandModule(Protocol):
    def register(self, subparsers: "argparse._SubParsersAction[Any]") -> None: ...


COMMANDS: tuple[CommandModule, ...] = (
    dev,
    demo,
    saga,
    gateway,
    projections,
    dlq,
    relay,
    run,
    check,
    chaos,
    simulators,
    api,
    forget,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orders", description="Idempotent orders reference system.")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code: 0 on success, 1 on a reported error, 2 on a
    bad argument (argparse's) or a setting that is unusable or missing."""
    args = build_parser().parse_args(argv)  # help and usage errors need no settings
    try:
        Settings.from_env()  # every setting is checked before any command starts
        exit_code: int = args.func(args)
    except SettingsError as error:
        print(f"orders: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return exit_code
