"""`orders demo`: the whole system at work, then proof that it kept its invariants.

It starts the dev stack (unless DATABASE_URL is set), runs the system's processes as
`orders run` does, and places orders from several customers at once. Each run gets its own
PostgreSQL schema and topic prefix, so runs never see each other's orders, and a broker
restarted with empty topics (the local one keeps them in memory) cannot fail a new run.
"""

import argparse
import dataclasses
import os
import sys
import time
from typing import Any

from infrastructure.settings import Settings, SettingsError
from services.cli import dev, run
from services.demo.runner import run_demo


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    demo = subparsers.add_parser("demo", help="run the system on a mixed workload, then check its invariants")
    demo.add_argument("--orders", type=_positive, default=200, help="how many orders (default: 200)")
    demo.add_argument("--seed", type=int, default=7, help="random seed for the scenario (default: 7)")
    demo.add_argument("--workers", type=_positive, default=4, help="customers acting at once (default: 4)")
    demo.set_defaults(func=dev.reporting_errors(_demo))


def _demo(args: argparse.Namespace) -> int:
    try:
        settings = _isolated(run.servers(Settings.from_env()))
    except SettingsError as error:
        print(f"orders demo: error: {error}", file=sys.stderr)
        return 1
    print(f"demo run in schema {settings.postgres_schema}, topics {settings.topic('<context>')}")
    env = {
        **os.environ,
        "ORDERS_POSTGRES_SCHEMA": settings.postgres_schema,
        "ORDERS_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
    }
    processes = run.supervisor(settings, env).running()
    ok = run_demo(settings, processes, orders=args.orders, seed=args.seed, workers=args.workers)
    schema, prefix = settings.postgres_schema, settings.kafka_topic_prefix
    print(f"check again: ORDERS_POSTGRES_SCHEMA={schema} ORDERS_KAFKA_TOPIC_PREFIX={prefix} orders check")
    return 0 if ok else 1


def _isolated(settings: Settings) -> Settings:
    run_id = time.strftime("%Y%m%d_%H%M%S")
    return dataclasses.replace(
        settings, postgres_schema=f"demo_{run_id}", kafka_topic_prefix=f"demo-{run_id.replace('_', '-')}."
    )


def _positive(text: str) -> int:
    value = int(text)
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100000, got {value}")
    return value
