"""`orders projector NAME` and `orders projections rebuild|status`.

The projector runs one projection until Ctrl-C; run more of them with the same name to
share the topics' partitions. Rebuilding from the event store builds the four context
applications (the command line is an entry point, so it may) to read their notification logs.
"""

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from kafka.errors import KafkaError

from infrastructure.database import connect
from infrastructure.settings import Settings, SettingsError
from projections.catalog import PROJECTIONS, projection_named
from projections.checksum import checksum
from projections.errors import ProjectionError
from projections.positions import parked_by_aggregate
from projections.rebuild import Outcome, rebuild_from_events, rebuild_from_kafka
from projections.runner import Projector
from projections.stats import read
from projections.tables import ensure
from services.bootstrap import build

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    projector = subparsers.add_parser("projector", help="keep one projection up to date from Kafka")
    projector.add_argument("name", choices=sorted(PROJECTIONS))
    projector.set_defaults(func=reporting("projector", _projector))

    projections = subparsers.add_parser("projections", help="rebuild projections or show their state")
    actions = projections.add_subparsers(title="actions", metavar="ACTION", required=True)
    rebuild = actions.add_parser("rebuild", help="build a projection again and swap it in for the live one")
    rebuild.add_argument("name", choices=sorted(PROJECTIONS))
    rebuild.add_argument("--from", dest="source", choices=("kafka", "events"), required=True)
    rebuild.set_defaults(func=reporting("projections", _rebuild))
    status = actions.add_parser("status", help="counters and checksum of every projection")
    status.set_defaults(func=reporting("projections", _status))


def _projector(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    projector = Projector(settings_for(kafka=True), projection_named(args.name))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"projector {args.name}: reading {', '.join(projector.topics)} as {projector.group}; Ctrl-C stops")
    projector.run(stop)
    print(f"projector {args.name} stopped: {projector.counts}")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    projection = projection_named(args.name)
    settings = settings_for(kafka=args.source == "kafka")
    if args.source == "kafka":
        outcome = rebuild_from_kafka(settings, projection)
    else:
        system = build(settings)
        try:
            logs = dict(system.apps)
            outcome = rebuild_from_events(settings, projection, logs)
        finally:
            system.close()
    _print_rebuilt(args.name, args.source, outcome)
    return 0


def _print_rebuilt(name: str, source: str, outcome: Outcome) -> None:
    print(f"rebuilt {name} from {source}: {outcome.counts}")
    change = "unchanged" if outcome.checksum == outcome.before else f"was {outcome.before}"
    print(f"checksum {outcome.checksum} ({change})")
    if outcome.counts.parked or outcome.counts.dead_lettered:
        print("some events wait: see `orders dlq list` and the projector's log for gaps")


def _status(args: argparse.Namespace) -> int:
    """Counters are totals since the last rebuild; the lines below the table are what is
    parked right now, behind a missing version or a dead letter."""
    settings, waiting = settings_for(), []
    row = "{:<16} {:>9} {:>11} {:>7} {:>13}  {}"
    print(row.format("PROJECTION", "APPLIED", "DUPLICATES", "PARKED", "DEAD LETTERS", "CHECKSUM"))
    for projection in PROJECTIONS.values():
        ensure(settings, projection)
        with connect(settings) as conn, conn.cursor() as cursor:
            counts, digest = read(conn, projection.name), checksum(conn, projection)
            waiting += [(projection.name, *parked) for parked in parked_by_aggregate(cursor, projection.name)]
        print(row.format(projection.name, *vars(counts).values(), digest))
    for name, aggregate_id, last, versions in waiting:
        print(f"{name}: {aggregate_id} waits for version {last + 1}; parked: {', '.join(map(str, versions))}")
    return 0


def settings_for(*, kafka: bool = False) -> Settings:
    settings = Settings.from_env()
    if not settings.database_url or (kafka and not settings.kafka_bootstrap_servers):
        needed = "DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS are" if kafka else "DATABASE_URL is"
        raise ProjectionError(f"{needed} needed (run `orders dev up` and source .devstack/env)")
    return settings


def reporting(command: str, handler: Handler) -> Handler:
    """Failures an operator can act on become one line on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (ProjectionError, SettingsError, psycopg.OperationalError, KafkaError) as error:
            print(f"orders {command}: error: {error}", file=sys.stderr)
            return 1

    return run
