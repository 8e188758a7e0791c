"""`orders demo`: the whole system at work, then proof that it kept its invariants.

It starts the dev stack (unless DATABASE_URL is set), runs the system's processes as
`orders run` does, and places orders from several customers at once. Each run gets its own
PostgreSQL schema and topic prefix, so runs never see each other's orders, and a broker
restarted with empty topics (the local one keeps them in memory) cannot fail a new run.
"""

import argparse
import os
import sys
import time
from typing import Any

import httpx

from infrastructure.devstack import free_port
from infrastructure.settings import Settings, SettingsError
from services.cli import credentials, dev, run
from services.ops.demo.runner import run_demo

API_TIMEOUT_S = 30.0


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    demo = subparsers.add_parser("demo", help="run the system on a mixed workload, then check its invariants")
    demo.add_argument("--orders", type=positive, default=200, help="how many orders (default: 200)")
    demo.add_argument("--seed", type=int, default=7, help="random seed for the scenario (default: 7)")
    demo.add_argument("--workers", type=positive, default=4, help="customers acting at once (default: 4)")
    demo.set_defaults(func=dev.reporting_errors(_demo))


def _demo(args: argparse.Namespace) -> int:
    try:
        settings = run.servers(Settings.from_env())
    except SettingsError as error:
        print(f"orders demo: error: {error}", file=sys.stderr)
        return 1
    env = {**os.environ, **isolated(settings, "demo")}
    settings = Settings.from_env(env)
    print(f"demo run in schema {settings.postgres_schema}, topics {settings.topic('<context>')}")
    with api_client(settings) as api:
        processes = run.supervisor(settings, env).running()
        ok = run_demo(settings, processes, api, orders=args.orders, seed=args.seed, workers=args.workers)
    schema, prefix = settings.postgres_schema, settings.kafka_topic_prefix
    print(f"check again: ORDERS_POSTGRES_SCHEMA={schema} ORDERS_KAFKA_TOPIC_PREFIX={prefix} orders check")
    return 0 if ok else 1


def api_client(settings: Settings) -> httpx.Client:
    """A client of the API on `settings`, as its first tenant (who places the orders)."""
    _tenant, key = settings.api_keys[0]
    return httpx.Client(
        base_url=f"http://127.0.0.1:{settings.api_port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=API_TIMEOUT_S,
    )


def isolated(settings: Settings, kind: str) -> dict[str, str]:
    """The environment of a run of its own: servers, keys (the settings', else made for the
    run: its only client is this process), schema, topic prefix, free ports, and a gateway
    timeout short enough that a lost provider answer is asked again within seconds."""
    run_id = time.strftime("%Y%m%d_%H%M%S")
    ports = iter(free_ports(3))
    return {
        "DATABASE_URL": settings.database_url or "",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        **credentials.variables(credentials.with_own_keys(settings)),
        "ORDERS_POSTGRES_SCHEMA": f"{kind}_{run_id}",
        "ORDERS_KAFKA_TOPIC_PREFIX": f"{kind}-{run_id.replace('_', '-')}.",
        "ORDERS_API_PORT": str(next(ports)),
        "ORDERS_PSP_PORT": str(next(ports)),
        "ORDERS_CARRIER_PORT": str(next(ports)),
        "ORDERS_GATEWAY_TIMEOUT_S": "1.5",
        # Addresses follow from the ports above, whatever an env file sourced earlier says.
        "ORDERS_API_URL": "",
        "ORDERS_PSP_URL": "",
        "ORDERS_CARRIER_URL": "",
        "ORDERS_PSP_WEBHOOK_URL": "",
    }


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        ports.append(free_port(avoid=ports))
    return ports


def positive(text: str) -> int:
    value = int(text)
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100000, got {value}")
    return value
