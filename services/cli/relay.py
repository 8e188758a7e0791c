"""`orders relay [--context NAME ...]`: publish each context's stored events to its topic.

One relay thread per context, each with its own advisory lock, so any number of relay
processes may run: per context one publishes and the others stand by to take over. The
relay needs only the context applications' recorders and mappers, built here (an entry
point) and handed to the infrastructure. Ctrl-C or SIGTERM stops every relay cleanly; a
relay that dies stops the others, so the process exits and its supervisor restarts it.
"""

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaError

from infrastructure.relay import Relay, RelayOptions
from infrastructure.settings import Settings, SettingsError
from services.bootstrap import System, build
from services.registry import CONTEXTS

log = logging.getLogger(__name__)


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    relay = subparsers.add_parser("relay", help="publish stored events to Kafka, one relay per context")
    relay.add_argument(
        "--context",
        dest="contexts",
        action="append",
        choices=CONTEXTS,
        help="a context to relay; repeat for several (default: all of them)",
    )
    relay.add_argument(
        "--report-every",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="how often to print each relay's position and lag (default: 10)",
    )
    defaults = RelayOptions()
    relay.add_argument(
        "--poll-interval",
        type=_seconds,
        default=defaults.poll_interval_s,
        metavar="SECONDS",
        help=f"read even without a NOTIFY this often (default: {defaults.poll_interval_s:g})",
    )
    relay.add_argument(
        "--lease",
        type=_seconds,
        default=defaults.lease_s,
        metavar="SECONDS",
        help=f"a standby takes over from a leader silent this long (default: {defaults.lease_s:g})",
    )
    relay.set_defaults(func=_relay)


def _relay(args: argparse.Namespace) -> int:
    options = RelayOptions(poll_interval_s=args.poll_interval, lease_s=args.lease)
    try:
        settings = _settings()
        _configure_logging()
        system = build(settings)
    except (SettingsError, psycopg.Error, PersistenceError, KafkaError) as error:
        return _failed(error)
    try:
        relays = [_relay_for(system, settings, context, options) for context in args.contexts or CONTEXTS]
    except ValueError as error:  # options that contradict each other, such as a short lease
        system.close()
        return _failed(error)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        return run(relays, stop, args.report_every)
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


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO narrates every connection


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


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3_600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, got {text}")
    return value
