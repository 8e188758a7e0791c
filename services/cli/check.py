"""`orders check [--json] [--wait SECONDS]`: verify invariants I1-I6 on the running system.

It reads the stores and the topics itself (SQL and an independent Kafka client), so it
believes nothing the processes report. With `--wait` it first waits until the system is
quiescent (see services/ops/check/quiescence.py), which is what a check after a workload needs.
Exit code 0 when every invariant holds, 1 on any violation or error.
"""

import json
import sys
from typing import Annotated

import psycopg
import typer
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaError

from infrastructure.devstack import DevStack
from infrastructure.settings import Settings, SettingsError
from services.cli import credentials
from services.cli.usage import examples, seconds
from services.ops.check import run_check


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "check",
        rich_help_panel=panel,
        help="Verify invariants I1-I6 from the stores and the topics.\n\n"
        "Reads the event stores, the provider's and the carrier's ledgers and the topics itself"
        " (SQL and a Kafka client of its own), so it believes nothing the processes report, and"
        " prints a table (or JSON) naming the ids behind any violation. With --wait it first waits"
        " until the system is quiescent: every event published and consumed, no call pending, no"
        " order in flight. Uses the running dev stack when DATABASE_URL is not set. Exit code 0"
        " when every invariant holds, 1 on any violation or error.",
        epilog=examples(
            ("orders check", "check the running system at once"),
            ("orders check --wait 60", "first wait up to a minute for it to settle"),
            ("orders check --json > report.json", "the report for a script; progress goes to stderr"),
        ),
    )(_check)


def _check(
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    wait: Annotated[
        float,
        typer.Option(
            **seconds(86_400, zero=True),
            help="first wait up to SECONDS until the system is quiescent",
            show_default="0: check at once",
        ),
    ] = 0.0,
) -> int:
    try:
        settings = running_system(Settings.from_env())
        say = (lambda line: print(line, file=sys.stderr)) if as_json else print
        report = run_check(settings, wait, say)
    except (SettingsError, psycopg.Error, PersistenceError, KafkaError, ValueError) as error:
        print(f"orders check: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2) if as_json else report.table())
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
