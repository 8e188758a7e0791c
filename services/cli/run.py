"""`orders run`: the whole system under one supervisor - the relay, the saga and one projector
per projection, each in a process of its own.

Separate processes keep the failure model honest: each child holds its state only in
PostgreSQL and Kafka, so a crash (even kill -9) costs a restart with backoff and nothing
else. Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL after a grace period).
`children` and `supervisor` are plain functions so the demo can run the same system from a
thread.
"""

import argparse
import dataclasses
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from infrastructure.devstack import DevStack
from infrastructure.settings import Settings, SettingsError
from infrastructure.supervisor import Supervisor
from projections.catalog import PROJECTIONS
from services.cli import dev

say_now = functools.partial(print, flush=True)


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    run = subparsers.add_parser(
        "run",
        help="run the relay, the saga and every projector; restart any that crash",
        description="Run the relay, the saga and one projector per projection as supervised child "
        "processes, restarting a crashed one with backoff, until Ctrl-C or SIGTERM. Uses "
        "DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, or starts (or reuses) the dev stack when "
        "DATABASE_URL is not set. Each child logs to $ORDERS_DEVSTACK_DIR/logs/NAME.log "
        "(default .devstack/logs/).",
    )
    run.set_defaults(func=dev.reporting_errors(_run))


def children() -> list[tuple[str, list[str]]]:
    """Each process of the system by name, as the `orders` command line that runs it."""
    commands = [("relay", ["relay"]), ("saga", ["saga"])]
    commands += [(f"projector-{name}", ["projector", name]) for name in PROJECTIONS]
    return [(name, [sys.executable, "-m", "services.cli", *argv]) for name, argv in commands]


def supervisor(
    settings: Settings, env: Mapping[str, str], say: Callable[[str], None] = say_now
) -> Supervisor:
    """A supervisor for `children`, not yet started; they inherit `env` (so a test or the demo
    can set, say, ORDERS_POSTGRES_SCHEMA) with the settings' servers put in."""
    servers = {
        "DATABASE_URL": settings.database_url or "",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "PYTHONUNBUFFERED": "1",
    }
    return Supervisor(children(), {**env, **servers}, settings.devstack_dir / "logs", say)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = servers(Settings.from_env())
    except SettingsError as error:
        print(f"orders run: error: {error}", file=sys.stderr)
        return 1
    supervised = supervisor(settings, os.environ)
    say_now(f"logs: {settings.devstack_dir / 'logs'}/NAME.log; Ctrl-C stops")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    supervised.run(stop)
    say_now("orders run stopped")
    return 0


def servers(settings: Settings) -> Settings:
    """The environment's servers, or the dev stack's when DATABASE_URL is not set."""
    if settings.database_url is None:
        info = DevStack(settings.devstack_dir, step=dev.timed).up()
        return dataclasses.replace(
            settings, database_url=info.database_url, kafka_bootstrap_servers=info.kafka_bootstrap_servers
        )
    if settings.kafka_bootstrap_servers is None:
        raise SettingsError(
            "DATABASE_URL is set but KAFKA_BOOTSTRAP_SERVERS is not (set both, or unset DATABASE_URL"
            " to use the dev stack)"
        )
    return settings
