"""`orders projections rebuild|status`: a projection built again and swapped in, or the state of all.

Rebuilding from the event store builds the context applications (the command line is an
entry point, so it may) to read their notification logs. `reporting` and `settings_for`
serve `orders projector` and `orders dlq` too.
"""

import functools
import sys
from collections.abc import Callable
from typing import Annotated, Literal, ParamSpec

import psycopg
import typer
from kafka.errors import KafkaError

from infrastructure.database import connect
from infrastructure.settings import Settings, SettingsError
from projections.catalog import PROJECTIONS, projection_named
from projections.checksum import checksum
from projections.errors import ProjectionError
from projections.positions import parked_by_aggregate
from projections.rebuild import Outcome, rebuild_from_events, rebuild_from_kafka
from projections.stats import read
from projections.tables import ensure
from services.bootstrap import build
from services.cli import terminal
from services.cli.usage import examples, one_of

P = ParamSpec("P")


def register(app: typer.Typer, panel: str) -> None:
    projections = typer.Typer(
        help="Rebuild a projection (a read model), or show the state of all.",
        epilog=examples(
            ("orders projections status", "counters, checksums and parked aggregates"),
            ("orders projections rebuild stock --from events", "build the stock read model again"),
        ),
        no_args_is_help=True,
    )
    projections.command(
        "rebuild",
        help="Build a projection again beside the live one and swap it in at commit.\n\n"
        "In one transaction: take the projection's lock (its live projectors pause), build new"
        " tables from every record of its topics from offset 0 (--from kafka) or from every"
        " stored event (--from events), and swap them in for the live ones. Readers read the old"
        " model until the commit and the new one after, never an error nor a wait; both sources"
        " give the same checksum. Needs DATABASE_URL, and KAFKA_BOOTSTRAP_SERVERS --from kafka.",
        epilog=examples(
            ("orders projections rebuild stock --from kafka", "from the topics"),
            ("orders projections rebuild order_summary --from events", "from the event store"),
        ),
    )(reporting("projections", _rebuild))
    projections.command(
        "status",
        help="Show each projection's counters and checksum, and what is parked.\n\n"
        "The counters are totals since the last rebuild; the lines below the table are the"
        " aggregates whose events wait right now, behind a missing version or a dead letter.",
        epilog=examples(("orders projections status", "one row per projection")),
    )(reporting("projections", _status))
    app.add_typer(projections, name="projections", rich_help_panel=panel)


def _rebuild(
    name: Annotated[str, typer.Argument(**one_of(PROJECTIONS, "the projection to rebuild"))],
    source: Annotated[
        Literal["kafka", "events"],
        typer.Option("--from", help="the topics from offset 0, or the event store"),
    ],
) -> int:
    projection = projection_named(name)
    settings = settings_for(kafka=source == "kafka")
    with terminal.track(f"rebuilding {name} from {source}", None, "records") as advance:
        if source == "kafka":
            outcome = rebuild_from_kafka(settings, projection, handled=lambda count: advance(count, None))
        else:
            system = build(settings)
            try:
                logs = dict(system.apps)
                outcome = rebuild_from_events(
                    settings, projection, logs, handled=lambda count: advance(count, None)
                )
            finally:
                system.close()
    _print_rebuilt(name, source, outcome)
    return 0


def _print_rebuilt(name: str, source: str, outcome: Outcome) -> None:
    print(f"rebuilt {name} from {source}: {outcome.counts}")
    change = "unchanged" if outcome.checksum == outcome.before else f"was {outcome.before}"
    print(f"checksum {outcome.checksum} ({change})")
    if outcome.counts.parked or outcome.counts.dead_lettered:
        print("some events wait: see `orders dlq list` and the projector's log for gaps")


def _status() -> int:
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


def reporting(command: str, handler: Callable[P, int]) -> Callable[P, int]:
    """Failures an operator can act on become one line on stderr and exit code 1."""

    @functools.wraps(handler)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return handler(*args, **kwargs)
        except (ProjectionError, SettingsError, psycopg.OperationalError, KafkaError) as error:
            print(f"orders {command}: error: {error}", file=sys.stderr)
            return 1

    return run
