"""`orders demo`: the whole system at work, then proof that it kept its invariants.

It starts the dev stack (unless DATABASE_URL is set), runs the system's processes as
`orders run` does, and places orders from several customers at once. Each run gets its own
PostgreSQL schema and topic prefix, so runs never see each other's orders, and a broker
restarted with empty topics (the local one keeps them in memory) cannot fail a new run.
"""

import os
import sys
import time
from typing import Annotated

import httpx
import typer

from infrastructure.devstack import free_port
from infrastructure.devstack.ports import port_is_free
from infrastructure.settings import Settings, SettingsError
from services.cli import credentials, dev, run, terminal
from services.cli.usage import examples
from services.ops.demo.runner import run_demo

API_TIMEOUT_S = 30.0
METRICS_PORTS = 32  # more than `orders run` has children but the API
MOST = 100_000  # the largest count a demo or chaos option takes


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "demo",
        rich_help_panel=panel,
        help="Run the system on a mixed workload, then check its invariants.\n\n"
        "Starts the dev stack unless DATABASE_URL is set, runs the system's processes as"
        " `orders run` does (in a PostgreSQL schema, a topic prefix and on ports of its own), and"
        " has customers place and cancel orders at once, every POST sent twice. Then it waits"
        " until the system is quiescent, checks every invariant, hands every published record to"
        " the saga and the projections again, and shows what each idempotence layer absorbed."
        " Exit code 0 only if every invariant holds and the redelivery changed nothing.",
        epilog=examples(
            ("orders demo", "200 orders, 4 customers at once, about a minute"),
            ("orders demo --orders 1000 --workers 8", "a bigger run"),
            ("orders demo --seed 11", "another scenario"),
        ),
    )(dev.reporting_errors(_demo))


def _demo(
    orders: Annotated[int, typer.Option(min=1, max=MOST, help="how many orders")] = 200,
    seed: Annotated[int, typer.Option(help="random seed of the scenario")] = 7,
    workers: Annotated[int, typer.Option(min=1, max=MOST, help="customers acting at once")] = 4,
) -> int:
    try:
        settings = run.servers(Settings.from_env())
    except SettingsError as error:
        print(f"orders demo: error: {error}", file=sys.stderr)
        return 1
    env = {**os.environ, **isolated(settings, "demo")}
    settings = Settings.from_env(env)
    print(f"demo run in schema {settings.postgres_schema}, topics {settings.topic('<context>')}")
    with api_client(settings) as api:
        processes = run.supervisor(settings, env)
        urls = run.metrics_urls(settings)
        ok = run_demo(settings, processes, api, orders, seed, workers, terminal.track, urls)
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
    run: its only client is this process), schema, topic prefix, free ports (the children's
    metrics too), and a gateway timeout short enough that a lost provider answer is asked
    again within seconds."""
    run_id = time.strftime("%Y%m%d_%H%M%S")
    taken = free_ports(3)
    ports = iter(taken)
    return {
        "DATABASE_URL": settings.database_url or "",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        **credentials.variables(credentials.with_own_keys(settings)),
        "ORDERS_POSTGRES_SCHEMA": f"{kind}_{run_id}",
        "ORDERS_KAFKA_TOPIC_PREFIX": f"{kind}-{run_id.replace('_', '-')}.",
        "ORDERS_API_PORT": str(next(ports)),
        "ORDERS_PSP_PORT": str(next(ports)),
        "ORDERS_CARRIER_PORT": str(next(ports)),
        "ORDERS_METRICS_PORT": str(free_port_block(METRICS_PORTS, avoid=taken)),
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


def free_port_block(count: int, avoid: list[int]) -> int:
    """The first of `count` consecutive ports nothing listens on now, none of them in `avoid`."""
    while True:
        first = free_port(avoid=avoid)
        block = range(first, first + count)
        if block[-1] < 65_536 and all(port not in avoid and port_is_free(port) for port in block):
            return first
