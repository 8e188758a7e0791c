"""`orders run`: the whole system under one supervisor - the HTTP API, the relay, the gateway,
the saga (one process, or `--saga-workers N`), one projector per projection, the payment
provider and carrier simulators, and the reconciliation every ORDERS_RECONCILE_EVERY_S
seconds (`orders reconcile --every S --repair`), each in a process of its own.

Separate processes keep the failure model honest: each child holds its state only in
PostgreSQL and Kafka, so a crash (even kill -9) costs a restart with backoff and nothing
else, and the gateway reaches the provider and the carrier only over HTTP, as it would real
ones. They may start in any order: the gateway and the consumers retry until the others
answer. Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL after a grace
period). Each child but the API (which serves them on its own port) serves its metrics on a
port of its own, ORDERS_METRICS_PORT and up (`metrics_ports`). `children` and `supervisor` are
plain functions so the demo can run the same system from a thread, on ports of its own.
"""

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated

import typer

from infrastructure.devstack import DevStack
from infrastructure.settings import Settings, SettingsError
from infrastructure.supervisor import Supervisor
from projections.catalog import PROJECTIONS
from services.cli import credentials, dev
from services.cli.usage import examples

say_now = functools.partial(print, flush=True)
URLS = {"ORDERS_API_URL": "API", "ORDERS_PSP_URL": "payment provider", "ORDERS_CARRIER_URL": "carrier"}
METRICS_URLS = "ORDERS_METRICS_URLS"  # written to the env file, for a scraper: `name=url` pairs
WEBHOOK_PATH = "/v1/webhooks/psp"  # where the API takes the provider's webhooks


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "run",
        rich_help_panel=panel,
        help="Run the whole system, restarting any process that crashes.\n\n"
        "The HTTP API, the relay, the gateway, the saga, one projector per projection, both"
        " simulators and the reconciliation (`orders reconcile --repair` every"
        " $ORDERS_RECONCILE_EVERY_S seconds, default 300), each a supervised child process"
        " restarted with backoff when it crashes,"
        " until Ctrl-C or SIGTERM. The API, the payment provider and the carrier listen on $ORDERS_API_PORT,"
        " $ORDERS_PSP_PORT and $ORDERS_CARRIER_PORT (default 8000, 8001, 8002). Uses DATABASE_URL"
        " and KAFKA_BOOTSTRAP_SERVERS, or starts (or reuses) the dev stack when DATABASE_URL is not"
        " set, and then adds the URLs to its env file. With DATABASE_URL it needs ORDERS_API_KEYS and"
        " ORDERS_PSP_WEBHOOK_SECRET, unless that is the dev stack's database. Each child logs to"
        " $ORDERS_DEVSTACK_DIR/logs/NAME.log (default .devstack/logs/). Each child but the API"
        " serves its metrics at /metrics on a port of its own, $ORDERS_METRICS_PORT (default"
        " 9100) and up in the order they start, which it prints; the API, on its own port.",
        epilog=examples(
            ("orders run", "on the dev stack, started if need be"),
            ("orders run --saga-workers 4", "four saga processes, each reading a quarter of the partitions"),
            ("orders check", "from another shell while it runs: verify its invariants"),
        ),
    )(dev.reporting_errors(_run))


def children(saga_workers: int = 1, reconcile_every_s: float | None = None) -> list[tuple[str, list[str]]]:
    """Each process of the system by name, as the `orders` command line that runs it. Several
    saga processes each read a fixed share of the topics' partitions (`orders saga --owner`).
    The reconciliation runs every `reconcile_every_s` (by default ORDERS_RECONCILE_EVERY_S's
    default), repairing what it can."""
    every = reconcile_every_s or Settings().reconcile_every_s
    commands = [("psp-sim", ["psp-sim"]), ("carrier-sim", ["carrier-sim"]), ("api", ["api"])]
    commands += [("relay", ["relay"]), ("gateway", ["gateway"])]
    if saga_workers == 1:
        commands.append(("saga", ["saga"]))
    else:
        share = ["--owners", str(saga_workers)]
        commands += [(f"saga-{n + 1}", ["saga", "--owner", str(n), *share]) for n in range(saga_workers)]
    commands += [(f"projector-{name}", ["projector", name]) for name in PROJECTIONS]
    commands.append(("reconcile", ["reconcile", "--every", f"{every:g}", "--repair"]))
    return [(name, [sys.executable, "-m", "services.cli", *argv]) for name, argv in commands]


def supervisor(
    settings: Settings, env: Mapping[str, str], say: Callable[[str], None] = say_now, saga_workers: int = 1
) -> Supervisor:
    """A supervisor for `children`, not yet started; they inherit `env` (so a test or the demo
    can set, say, ORDERS_POSTGRES_SCHEMA) with the settings' servers, keys and `addresses` put in."""
    servers = {
        "DATABASE_URL": settings.database_url or "",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "PYTHONUNBUFFERED": "1",
    }
    inherited = {**env, **servers, **credentials.variables(settings), **addresses(settings)}
    commands = children(saga_workers, settings.reconcile_every_s)
    ports = metrics_ports(settings, [name for name, _ in commands])
    own = {name: {"ORDERS_METRICS_PORT": str(ports.get(name, 0))} for name, _ in commands if name != "api"}
    own["api"] = {METRICS_URLS: as_pairs(metrics_urls(settings, saga_workers))}  # for its dashboard
    return Supervisor(commands, inherited, settings.devstack_dir / "logs", say, own)


def metrics_ports(settings: Settings, names: Sequence[str]) -> dict[str, int]:
    """Where each child serves its metrics: each but the API (which serves them on its own
    port) ORDERS_METRICS_PORT plus its place among them, in `names`' order; none when that is 0."""
    served = [name for name in names if name != "api"]
    if not settings.metrics_port:
        return {}
    if settings.metrics_port + len(served) > 65_536:
        raise SettingsError(
            f"ORDERS_METRICS_PORT {settings.metrics_port} leaves no room for the {len(served)} ports"
            f" of the children's metrics (it must be at most {65_536 - len(served)})"
        )
    return {name: settings.metrics_port + place for place, name in enumerate(served)}


def metrics_urls(settings: Settings, saga_workers: int = 1) -> dict[str, str]:
    """Each child's metrics, by name, in the order they start: the API's on its own port."""
    api = settings.api_url or f"http://127.0.0.1:{settings.api_port}"
    names = [name for name, _ in children(saga_workers)]
    ports = metrics_ports(settings, names)
    return {
        name: f"{api}/metrics" if name == "api" else f"http://127.0.0.1:{ports[name]}/metrics"
        for name in names
        if name == "api" or name in ports
    }


def as_pairs(urls: Mapping[str, str]) -> str:
    """ORDERS_METRICS_URLS' notation: space-separated `name=url` pairs."""
    return " ".join(f"{name}={url}" for name, url in urls.items())


def addresses(settings: Settings) -> dict[str, str]:
    """Where the children listen, and where they reach each other: the URLs the settings name
    (ORDERS_API_URL, ORDERS_PSP_URL, ORDERS_CARRIER_URL), else the settings' ports on this
    machine. The provider's webhooks go to the API unless ORDERS_PSP_WEBHOOK_URL says otherwise."""
    api = settings.api_url or f"http://127.0.0.1:{settings.api_port}"
    return {
        "ORDERS_API_PORT": str(settings.api_port),
        "ORDERS_PSP_PORT": str(settings.psp_port),
        "ORDERS_CARRIER_PORT": str(settings.carrier_port),
        "ORDERS_API_URL": api,
        "ORDERS_PSP_URL": settings.psp_url or f"http://127.0.0.1:{settings.psp_port}",
        "ORDERS_CARRIER_URL": settings.carrier_url or f"http://127.0.0.1:{settings.carrier_port}",
        "ORDERS_PSP_WEBHOOK_URL": settings.psp_webhook_url or f"{api}{WEBHOOK_PATH}",
    }


def _run(
    saga_workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=16,
            metavar="N",
            help="saga processes, each reading a fixed share of the topics' partitions"
            " (at most $ORDERS_KAFKA_PARTITIONS)",
        ),
    ] = 1,
) -> int:
    try:
        given = Settings.from_env()
        if saga_workers > given.kafka_partitions:
            raise SettingsError(
                f"--saga-workers {saga_workers} is more than the topics' {given.kafka_partitions}"
                " partitions (ORDERS_KAFKA_PARTITIONS): some saga processes would read nothing"
            )
        metrics_ports(given, [name for name, _ in children(saga_workers)])  # room for them all
        settings = servers(given)
    except SettingsError as error:
        print(f"orders run: error: {error}", file=sys.stderr)
        return 1
    credentials.required(settings)
    supervised = supervisor(settings, os.environ, saga_workers=saga_workers)
    urls = {name: url for name, url in addresses(settings).items() if name in URLS}
    say_now(", ".join(f"{URLS[name]} {url}" for name, url in urls.items()))
    scraped = metrics_urls(settings, saga_workers)
    say_now("metrics: " + ", ".join(f"{name} {url}" for name, url in scraped.items()))
    if given.database_url is None:  # on the dev stack: its env file names these URLs too
        DevStack(settings.devstack_dir).export({**urls, METRICS_URLS: as_pairs(scraped)})
        say_now(f"URLs added to {settings.devstack_dir / 'env'}")
    say_now(f"logs: {settings.devstack_dir / 'logs'}/NAME.log; Ctrl-C stops")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    supervised.run(stop)
    say_now("orders run stopped")
    return 0


def servers(settings: Settings) -> Settings:
    """The environment's servers, or the dev stack's when DATABASE_URL is not set; on the dev
    stack, with its keys where the environment gives none."""
    if settings.database_url is None:
        info = DevStack(settings.devstack_dir, step=dev.timed).up()
        settings = settings.replace(
            database_url=info.database_url, kafka_bootstrap_servers=info.kafka_bootstrap_servers
        )
    elif settings.kafka_bootstrap_servers is None:
        raise SettingsError(
            "DATABASE_URL is set but KAFKA_BOOTSTRAP_SERVERS is not (set both, or unset DATABASE_URL"
            " to use the dev stack)"
        )
    return credentials.with_stack_keys(settings)
