"""`orders reconcile [--repair] [--json] [--timeout S] [--grace S] [--every S]`: compare the
read models, the payments and the shipments with what they should hold, and repair what can
be derived (services/ops/reconcile/).

Once, it prints one line per difference and a summary (or JSON), and exits 0 when no
difference remains, 1 when one does or a server failed it. With `--every` it runs until
Ctrl-C or SIGTERM, once per period, serving its metrics like every other process: that is how
`orders run` schedules it. A run a server failed is said in one line, and the next run comes
at its time.
"""

import json
import logging
import signal
import sys
import threading
from typing import Annotated

import psycopg
import typer
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaError

from infrastructure import logs
from infrastructure.settings import Settings, SettingsError
from services.cli import terminal
from services.cli.check import running_system
from services.cli.metrics import expose
from services.cli.usage import examples, seconds
from services.ops.reconcile import BrokerUnavailableError, DatabaseUnavailableError, Options, reconcile

DEFAULTS = Options()


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "reconcile",
        rich_help_panel=panel,
        help="Find where the records differ from what they should be, and repair what can be derived.\n\n"
        "Compares every read model with a fold of the events it consumed (after waiting for the"
        " projectors to reach the topics' ends), the payments with the provider's webhooks and"
        " ledger, and the shipments with the carrier's bookings. Prints one line per difference,"
        " with its ids and whether --repair can fix it: a read model is rebuilt from the event"
        " store, an answer the provider announced and the payments missed is recorded; the rest"
        " needs a person. Each run is recorded in the table reconciliation_runs and sets the gauge"
        " orders_reconciliation_differences. Uses the running dev stack when DATABASE_URL is not"
        " set. Exit code 0 when no difference remains, 1 when one does or a server failed it.",
        epilog=examples(
            ("orders reconcile", "what differs, repairing nothing"),
            ("orders reconcile --repair", "and repair what can be derived"),
            ("orders reconcile --json > run.json", "the run for a script; progress goes to stderr"),
            (
                "orders reconcile --every 300 --repair",
                "every five minutes until Ctrl-C, as `orders run` does",
            ),
        ),
    )(_reconcile)


def _reconcile(
    repair: Annotated[
        bool, typer.Option("--repair", help="rebuild diverged read models, record missed answers")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print each run as JSON")] = False,
    timeout: Annotated[
        float,
        typer.Option(**seconds(3_600), help="the longest wait for the projectors to reach the topics' ends"),
    ] = DEFAULTS.timeout_s,
    grace: Annotated[
        float,
        typer.Option(
            **seconds(86_400, zero=True),
            help="how old a webhook, a booking or a payment must be before a difference in it counts:"
            " younger ones may still be in flight",
        ),
    ] = DEFAULTS.grace_s,
    every: Annotated[
        float | None,
        typer.Option(**seconds(86_400), help="run once every SECONDS until Ctrl-C, serving metrics"),
    ] = None,
) -> int:
    logs.configure("reconcile")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # a broker that fails is said in one line
    try:
        settings = running_system(Settings.from_env())
    except SettingsError as error:
        terminal.error(str(error))
        return 1
    options = Options(repair, timeout, grace)
    if every is None:
        return _once(settings, options, as_json)
    return _every(settings, options, as_json, every)


def _once(settings: Settings, options: Options, as_json: bool) -> int:
    say = (lambda line: print(line, file=sys.stderr)) if as_json else print
    try:
        run = reconcile(settings, options, say)
    except (DatabaseUnavailableError, BrokerUnavailableError) as error:
        terminal.error(f"reconcile: {error}; nothing was repaired or recorded")
        return 1
    except (psycopg.Error, PersistenceError, KafkaError) as error:
        terminal.error(f"reconcile: {' '.join(str(error).split())}")
        return 1
    print(json.dumps(run.to_json(), indent=2) if as_json else "\n".join(run.lines()), flush=True)
    return 1 if run.remaining else 0


def _every(settings: Settings, options: Options, as_json: bool, every_s: float) -> int:
    """A run every `every_s` seconds, the first one period after the start: a system that has
    just started has projectors still joining their groups."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    expose("reconcile", settings)
    repairing = ", repairing what it can" if options.repair else ""
    print(f"reconcile: every {every_s:g}s{repairing}; Ctrl-C stops", flush=True)
    while not stop.wait(every_s):
        _once(settings, options, as_json)
    return 0
