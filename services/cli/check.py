"""`orders check [--json] [--wait SECONDS]`: verify invariants I1-I6 on the running system.

It reads the stores and the topics itself (SQL and an independent Kafka client), so it
believes nothing the processes report. With `--wait` it first waits until the system is
quiescent (see services/ops/check/quiescence.py), which is what a check after a workload needs.
Exit code 0 when every invariant holds, 1 on any violation or error.
"""

import argparse
import json
import sys
from typing import Any

import psycopg
from kafka.errors import KafkaError

from infrastructure.devstack import DevStack
from infrastructure.settings import Settings, SettingsError
from services.cli import credentials
from services.ops.check import run_check


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    check = subparsers.add_parser("check", help="verify invariants I1-I6 from the stores and the topics")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS until the system is quiescent (default: check at once)",
    )
    check.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    try:
        settings = running_system(Settings.from_env())
        say = (lambda line: print(line, file=sys.stderr)) if args.json else print
        report = run_check(settings, args.wait, say)
    except (SettingsError, psycopg.Error, KafkaError, ValueError) as error:
        print(f"orders check: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2) if args.json else report.table())
    return 0 if report.ok else 1


def running_system(settings: Settings) -> Settings:
    """The settings given, or those of the running dev stack when none are (never starts one);
    on the dev stack, with its keys where none are given (its events are encrypted)."""
    if settings.database_url and settings.kafka_bootstrap_servers:
        return credentials.with_stack_keys(settings)
    if settings.database_url or settings.kafka_bootstrap_servers:
        raise SettingsError("set both DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, or neither")
    stack = DevStack(settings.devstack_dir)
    if not stack.status().running:
        raise SettingsError(
            f"no DATABASE_URL set and no dev stack running in {settings.devstack_dir}"
            " (start the system with `orders run`)"
        )
    info = stack.up()  # reports the running stack
    return credentials.with_stack_keys(
        settings.replace(database_url=info.database_url, kafka_bootstrap_servers=info.kafka_bootstrap_servers)
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds, got {text}")
    return value
