"""`orders projector NAME`: one projection kept up to date from Kafka, until Ctrl-C or SIGTERM.

Run more of them with the same name to share the topics' partitions; each applies every
record once, however often it is delivered.
"""

import signal
import threading
from typing import Annotated

import typer

from infrastructure import logs
from projections.catalog import PROJECTIONS, projection_named
from projections.runner import Projector
from services.cli.metrics import expose
from services.cli.projections import reporting, settings_for
from services.cli.usage import examples, one_of


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "projector",
        rich_help_panel=panel,
        help="Keep one projection (a read model) up to date from Kafka.\n\n"
        "Reads the topics of the contexts the projection follows as a consumer group, so that"
        " several projectors of one name share the partitions, and applies each record once:"
        " a redelivered record is skipped, one that comes before its aggregate's previous"
        " version waits for it, and one that cannot be applied becomes a dead letter (`orders"
        " dlq`). Needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS. Ctrl-C or SIGTERM stops it.",
        epilog=examples(
            ("orders projector stock", "keep the stock read model"),
            ("orders projections status", "what each projection applied, from another shell"),
        ),
    )(reporting("projector", _projector))


def _projector(
    name: Annotated[str, typer.Argument(**one_of(PROJECTIONS, "the projection to keep"))],
) -> int:
    logs.configure(f"projector-{name}")
    settings = settings_for(kafka=True)
    projector = Projector(settings, projection_named(name))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"projector {name}: reading {', '.join(projector.topics)} as {projector.group}; Ctrl-C stops")
    expose(f"projector {name}", settings)
    projector.run(stop)
    print(f"projector {name} stopped: {projector.counts}")
    return 0
