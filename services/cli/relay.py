"""`orders relay [--context NAME ...]`: publish each context's stored events to its topic.

One relay thread per context, each with its own lock (`infrastructure/leadership.py`), so
any number of relay processes may run: per context one publishes and the others stand by
to take over. The relay needs only the context applications' recorders and mappers, built
here (an entry point) and handed to the infrastructure. Ctrl-C or SIGTERM stops every
relay cleanly; a relay that dies stops the others, so the process exits and its supervisor
restarts it.
"""

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Annotated, Any

import psycopg
import typer
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaError

from infrastructure import logs
from infrastructure.relay import Relay, RelayOptions
from infrastructure.settings import Settings, SettingsError
from services.bootstrap import System, build
from services.cli.metrics import expose
from services.cli.usage import examples, one_of, seconds
from services.registry import CONTEXTS

log = logging.getLogger(__name__)
DEFAULTS = RelayOptions()
MOST_S = 3_600  # the longest interval a relay option takes


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "relay",
        rich_help_panel=panel,
        help="Publish each context's stored events to Kafka (the outbox).\n\n"
        "One relay thread per context publishes its notification log in order, holding the"
        " context's lock (a PostgreSQL advisory lock, or a Redis one with ORDERS_LOCK_BACKEND=redis),"
        " so any number of relay processes may run: per context one publishes and the others stand"
        " by, and take over from one silent for longer than --lease. A relay that dies stops the"
        " others, so the process exits and its supervisor restarts it. Needs DATABASE_URL and"
        " KAFKA_BOOTSTRAP_SERVERS. Ctrl-C or SIGTERM stops it.",
        epilog=examples(
            ("orders relay", "every context"),
            ("orders relay --context orders --context payments", "two of them"),
            ("orders relay --report-every 60", "print positions and lag once a minute"),
        ),
    )(_relay)


def _relay(
    contexts: Annotated[
        list[str] | None,
        typer.Option(
            "--context",
            **one_of(CONTEXTS, "a context to relay; repeat for several"),
            show_default="all of them",
        ),
    ] = None,
    report_every: Annotated[
        float,
        typer.Option(**seconds(MOST_S), help="how often to print each relay's position and lag"),
    ] = 10.0,
    poll_interval: Annotated[
        float, typer.Option(**seconds(MOST_S), help="read even without a NOTIFY this often")
    ] = DEFAULTS.poll_interval_s,
    lease: Annotated[
        float, typer.Option(**seconds(MOST_S), help="a standby takes over from a leader silent this long")
    ] = DEFAULTS.lease_s,
) -> int:
    options = RelayOptions(poll_interval_s=poll_interval, lease_s=lease)
    try:
        settings = _settings()
        logs.configure("relay")
        system = build(settings)
    except (SettingsError, psycopg.Error, PersistenceError, KafkaError) as error:
        return _failed(error)
    try:
        relays = [_relay_for(system, settings, context, options) for context in contexts or CONTEXTS]
    except ValueError as error:  # options that contradict each other, such as a short lease
        system.close()
        return _failed(error)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    expose("relay", settings)
    try:
        return run(relays, stop, report_every)
    finally:
        system.close()


def run(relays: Sequence[Relay], stop: threading.Event, report_every: float) -> int:
    """Run each relay in a thread until `stop` is set or one dies; returns the exit code."""
    print(f"relay: publishing {', '.join(r.publisher.topic for r in relays)}; Ctrl-C stops", flush=True)
    failed: list[str] = []
    threads = [
        threading.Thread(target=_until_stopped, args=(relay, stop, failed), name=f"relay-{relay.context}")
        for relay in relays
    ]
    for thread in threads:
        thread.start()
    while not stop.wait(report_every):
        print(f"relay: {_positions(relays)}", flush=True)
    for thread in threads:
        thread.join()
    print("relay stopped", flush=True)
    for context in failed:
        print(f"orders relay: error: the {context} relay died (see the log above)", file=sys.stderr)
    return 1 if failed else 0


def _settings() -> Settings:
    settings = Settings.from_env()
    if not settings.database_url or not settings.kafka_bootstrap_servers:
        needed = "DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS must be set"
        raise SettingsError(f"{needed} (run `orders dev up` and source .devstack/env)")
    return settings


def _failed(error: Exception) -> int:
    print(f"orders relay: error: {' '.join(str(error).split())}", file=sys.stderr)
    return 1


def _relay_for(system: System, settings: Settings, context: str, options: RelayOptions) -> Relay:
    app: Any = system.app(context)  # its recorder is a `relay.NotificationLog`
    return Relay(app.recorder, app.mapper.to_domain_event, context, settings, options)


def _until_stopped(relay: Relay, stop: threading.Event, failed: list[str]) -> None:
    try:
        relay.run(stop)
    except Exception:
        log.exception("the %s relay died; stopping the others", relay.context)
        failed.append(relay.context)
    finally:
        stop.set()


def _positions(relays: Sequence[Relay]) -> str:
    """`orders at 120 lag 0, inventory standby`: a standby's position is another relay's."""
    return ", ".join(_position(relay) for relay in relays)


def _position(relay: Relay) -> str:
    if not relay.is_leader:
        return f"{relay.context} standby"
    try:
        lag = str(relay.lag())
    except (psycopg.Error, PersistenceError):
        lag = "unknown"
    restarts = f", started over {relay.restarts}x (the broker lost events)" if relay.restarts else ""
    return f"{relay.context} at {relay.position} lag {lag}{restarts}"
