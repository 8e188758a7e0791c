"""`orders saga [--owner I --owners N]`: the order saga as a process. A consumer of the four
topics drives the orders with a pool of workers, one order at a time per worker and many
orders at once; the deadline scheduler runs beside it and fires only while it holds the
saga-deadlines lock (`infrastructure/leadership.py`). N saga processes share the topics'
partitions by a fixed rule: owner I reads the partitions p with p % N == I
(`kafka.static_consumer`), so none waits on the others to join a group or to rebalance.
Ctrl-C or SIGTERM stops both cleanly; offsets are committed only up to records whose
commands are durable.
"""

import logging
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from typing import Annotated, Any

import typer

from infrastructure import kafka, logs
from infrastructure.concurrent_consumer import ConcurrentConsumer
from infrastructure.deadlines import PostgresDeadlineStore
from infrastructure.leadership import lock_for
from infrastructure.settings import Settings
from services.bootstrap import build
from services.cli import dev
from services.cli.dead_letters import SagaDeadLetters
from services.cli.metrics import expose
from services.cli.usage import examples, seconds
from services.registry import CONTEXTS
from services.saga import DeadlineScheduler, OrderSaga
from services.saga.records import SagaRecords
from services.saga.saga import DEFAULT_COMPLETE_WITHIN

log = logging.getLogger(__name__)
Worker = Callable[[threading.Event], None]
CONCURRENCY = 8  # orders handled at once: each mostly waits on PostgreSQL, not on the CPU


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "saga",
        rich_help_panel=panel,
        help="Drive orders through the contexts, with deadlines.\n\n"
        "Consumes every context's topic and, for each record, sends the commands that come next"
        " (or that undo what came before), --concurrency orders at once, each order's records in"
        " order; offsets are committed only up to records whose commands are durable. A deadline"
        " scheduler beside it fails the orders that did not ship in time. N saga processes share"
        " the partitions by a fixed rule, without a consumer group to join or rebalance: owner I"
        " reads the partitions p with p % N == I. Needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS."
        " Ctrl-C or SIGTERM stops it.",
        epilog=examples(
            ("orders saga", "one process reading every partition"),
            ("orders saga --owner 0 --owners 2", "half of the partitions (run owner 1 beside it)"),
            ("orders saga --complete-within 600", "give each order ten minutes to ship"),
        ),
    )(dev.reporting_errors(_saga))


def _saga(
    complete_within: Annotated[
        float | None,
        typer.Option(
            **seconds(86_400),
            help="time an order has to ship before it is failed",
            show_default=f"$ORDERS_SAGA_COMPLETE_WITHIN_S or {DEFAULT_COMPLETE_WITHIN.seconds}",
        ),
    ] = None,
    owner: Annotated[int, typer.Option(min=0, metavar="I", help="which share this process reads")] = 0,
    owners: Annotated[
        int, typer.Option(min=1, metavar="N", help="how many saga processes share the partitions")
    ] = 1,
    concurrency: Annotated[
        int, typer.Option(min=1, metavar="N", help="orders handled at once, each by a thread of its own")
    ] = CONCURRENCY,
) -> int:
    logs.configure("saga" if owners == 1 else f"saga-{owner + 1}")  # as `orders run` names it
    settings = Settings.from_env()
    if not settings.database_url or not settings.kafka_bootstrap_servers:
        print(
            "orders saga: error: DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS must be set"
            " (run `orders dev up` and source .devstack/env)",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"saga: consuming {', '.join(settings.topic(c) for c in CONTEXTS)}", flush=True)
    expose("saga", settings)
    deadline = timedelta(seconds=complete_within or settings.saga_complete_within_s)
    return run(settings, stop, deadline, concurrency, (owner, owners))


def run(
    settings: Settings,
    stop: threading.Event,
    complete_within: timedelta = DEFAULT_COMPLETE_WITHIN,
    concurrency: int = CONCURRENCY,
    share: tuple[int, int] = (0, 1),
) -> int:
    """Consume and fire deadlines until `stop` is set (or a worker dies, which stops both);
    returns the exit code. Everything is closed on the way out."""
    failed: list[str] = []
    with ExitStack() as cleanup:
        system = build(settings)
        cleanup.callback(system.close)
        deadlines = PostgresDeadlineStore(settings)
        cleanup.callback(deadlines.close)
        leadership = lock_for(settings, "saga-deadlines")
        cleanup.callback(leadership.release)
        saga = OrderSaga(system, deadlines, complete_within)
        metrics = system.metrics
        metrics.saga_in_flight.set_function(saga.in_flight.count)
        metrics.saga_oldest_in_flight.set_function(saga.in_flight.oldest_age_s)
        metrics.saga_deadline.set(complete_within.total_seconds())
        fired = metrics.deadlines_fired
        scheduler = DeadlineScheduler(
            deadlines, system.orders, leadership, fired=lambda outcome: fired.labels(outcome=outcome).inc()
        )
        threads = [
            threading.Thread(target=_until_stopped, args=(worker, stop, name, failed), name=name)
            for name, worker in {
                "saga-consumer": _consumer(settings, saga, concurrency, share).run,
                "saga-deadlines": scheduler.run,
            }.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return 1 if failed else 0


def _consumer(
    settings: Settings, saga: OrderSaga, concurrency: int, share: tuple[int, int]
) -> ConcurrentConsumer[Any]:
    records = SagaRecords(saga, SagaDeadLetters(settings))
    topics = [settings.topic(context) for context in saga.system.registry.names]
    owner, owners = share
    group = settings.consumer_group("saga")
    consumer = kafka.static_consumer(
        settings,
        group,
        topics,
        owner,
        owners,
        f"saga-{owner}",
        fetch_max_wait_ms=settings.kafka_fetch_wait_ms,
    )
    owned = sorted(f"{tp.topic}[{tp.partition}]" for tp in consumer.assignment())
    print(f"saga: owner {owner} of {owners}, reading {', '.join(owned)}", flush=True)
    return ConcurrentConsumer(consumer, records.route, records.handle, "saga", concurrency, group="saga")


def _until_stopped(worker: Worker, stop: threading.Event, name: str, failed: list[str]) -> None:
    """Run one worker; if it dies, stop the other too, so the process exits and is restarted."""
    try:
        worker(stop)
    except Exception:
        log.exception("%s died; stopping the saga", name)
        failed.append(name)
    finally:
        stop.set()
