"""`orders chaos [--duration S] [--seed N]`: faults while customers order, then the check.

It runs the system as `orders demo` does (the dev stack unless DATABASE_URL is set; a
schema, topic prefix and ports of its own), with a seeded nemesis killing and pausing its
processes. PostgreSQL is crashed and the broker paused only when this run's dev stack owns
them; with DATABASE_URL set, only the run's own processes are hit. Exit code 0 only if
every invariant holds once the system has healed and finished its work.
"""

import os
import random
import sys
from typing import Annotated

import typer

from infrastructure.devstack import DevStack
from infrastructure.settings import Settings, SettingsError
from services.cli import dev, run, terminal
from services.cli.demo import MOST, api_client, isolated
from services.cli.usage import examples
from services.ops.chaos.nemesis import Targets
from services.ops.chaos.runner import Plan, run_chaos


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "chaos",
        rich_help_panel=panel,
        help="Inject faults while customers order, then check the invariants.\n\n"
        "Runs the system as `orders demo` does, with a seeded nemesis killing and pausing its"
        " processes for --duration seconds, while customers place orders at --rate a second."
        " PostgreSQL is crashed and the broker paused only when this run's dev stack owns them;"
        " with DATABASE_URL set, only the run's own processes are hit. Then the faults stop, and"
        " once the system has healed and finished its work every invariant is checked. Exit code 0"
        " only if every one holds. The seed is printed: give it again to repeat a run's faults.",
        epilog=examples(
            ("orders chaos", "five minutes of faults"),
            ("orders chaos --duration 75 --seed 20261127", "the run CI makes"),
            ("orders chaos --duration 600 --rate 20 --workers 16", "longer, and busier"),
        ),
    )(dev.reporting_errors(_chaos))


def _chaos(
    duration: Annotated[
        int, typer.Option(min=1, max=MOST, metavar="SECONDS", help="seconds of faults")
    ] = 300,
    seed: Annotated[
        int | None, typer.Option(help="seed of the faults and the workload", show_default="random")
    ] = None,
    rate: Annotated[int, typer.Option(min=1, max=MOST, help="orders placed a second")] = 9,
    workers: Annotated[int, typer.Option(min=1, max=MOST, help="customers acting at once")] = 8,
) -> int:
    given = Settings.from_env()
    try:
        settings = run.servers(given)
    except SettingsError as error:
        print(f"orders chaos: error: {error}", file=sys.stderr)
        return 1
    stack = DevStack(given.devstack_dir) if given.database_url is None else None
    env = {
        **os.environ,
        **isolated(settings, "chaos"),
        # A request cut off by a kill holds its key for the lease; keep the wait short.
        "ORDERS_IDEMPOTENCY_LEASE_S": "5",
    }
    settings = Settings.from_env(env)
    print(f"chaos run in schema {settings.postgres_schema}, topics {settings.topic('<context>')}")
    supervisor = run.supervisor(settings, env)
    targets = Targets(
        children=supervisor.pids,
        postgres=stack.postgres if stack else None,
        broker=stack.broker if stack else None,
    )
    seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
    plan = Plan(seed=seed, duration_s=float(duration), rate=float(rate), workers=workers)
    with api_client(settings) as api:
        ok = run_chaos(settings, supervisor, targets, api, plan, terminal.track)
    print(f"seed {seed}: {'all invariants hold' if ok else 'INVARIANT VIOLATED or not quiescent'}")
    return 0 if ok else 1
