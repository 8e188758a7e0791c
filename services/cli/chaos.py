"""`orders chaos [--duration S] [--seed N]`: faults while customers order, then the check.

It runs the system as `orders demo` does (the dev stack unless DATABASE_URL is set; a
schema, topic prefix and ports of its own), with a seeded nemesis killing and pausing its
processes. PostgreSQL is crashed and the broker paused only when this run's dev stack owns
them; with DATABASE_URL set, only the run's own processes are hit. Exit code 0 only if
every invariant holds once the system has healed and finished its work.
"""

import argparse
import os
import random
import sys
from typing import Any

from infrastructure.devstack import DevStack
from infrastructure.settings import Settings, SettingsError
from services.cli import dev, run
from services.cli.demo import api_client, isolated, positive
from services.ops.chaos.nemesis import Targets
from services.ops.chaos.runner import Plan, run_chaos


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    chaos = subparsers.add_parser("chaos", help="inject faults while customers order, then check invariants")
    chaos.add_argument("--duration", type=positive, default=300, help="seconds of faults (default: 300)")
    chaos.add_argument("--seed", type=int, help="seed of the faults and the workload (default: random)")
    chaos.add_argument("--rate", type=positive, default=9, help="orders placed a second (default: 9)")
    chaos.add_argument("--workers", type=positive, default=8, help="customers acting at once (default: 8)")
    chaos.set_defaults(func=dev.reporting_errors(_chaos))


def _chaos(args: argparse.Namespace) -> int:
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
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    plan = Plan(seed=seed, duration_s=float(args.duration), rate=float(args.rate), workers=args.workers)
    with api_client(settings) as api:
        ok = run_chaos(settings, supervisor, targets, api, plan)
    print(f"seed {seed}: {'all invariants hold' if ok else 'INVARIANT VIOLATED or not quiescent'}")
    return 0 if ok else 1
