"""`orders saga`: the order saga as a process. A consumer of the four topics (one consumer
group) drives the orders; the deadline scheduler runs beside it and fires only while it
holds the advisory lock, so any number of saga processes may run. Ctrl-C or SIGTERM stops
both cleanly; offsets are committed only after an event's commands are durable.
"""

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from domain.ports import Carrier, PaymentProvider
from infrastructure import kafka
from infrastructure.consuming import ConsumerLoop
from infrastructure.contracts import CONTEXTS
from infrastructure.deadlines import AdvisoryLeadership, PostgresDeadlineStore
from infrastructure.settings import Settings
from services.bootstrap import System, build, edges
from services.cli import dev
from services.saga import DeadlineScheduler, OrderSaga
from services.saga.saga import DEFAULT_COMPLETE_WITHIN

log = logging.getLogger(__name__)
Worker = Callable[[threading.Event], None]
# Records per poll: each may call the provider or the carrier (a slow answer, a lost one and
# its retry), and the batch must be done within max_poll_interval_ms.
BATCH = 20


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    saga = subparsers.add_parser("saga", help="drive orders through the contexts, with deadlines")
    saga.add_argument(
        "--complete-within",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="time an order has to ship before it is failed"
        f" (default: $ORDERS_SAGA_COMPLETE_WITHIN_S or {DEFAULT_COMPLETE_WITHIN.seconds})",
    )
    saga.set_defaults(func=dev.reporting_errors(_saga))


def _saga(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO logs every request
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
    complete_within = args.complete_within or timedelta(seconds=settings.saga_complete_within_s)
    return run(settings, stop, complete_within, *edges(settings))


def run(
    settings: Settings,
    stop: threading.Event,
    complete_within: timedelta = DEFAULT_COMPLETE_WITHIN,
    provider: PaymentProvider | None = None,
    carrier: Carrier | None = None,
) -> int:
    """Consume and fire deadlines until `stop` is set (or a worker dies, which stops both);
    returns the exit code. Everything is closed on the way out."""
    failed: list[str] = []
    with ExitStack() as cleanup:
        system = build(settings, provider, carrier)
        cleanup.callback(system.close)
        deadlines = PostgresDeadlineStore(settings)
        cleanup.callback(deadlines.close)
        leadership = AdvisoryLeadership(settings, "saga-deadlines")
        cleanup.callback(leadership.release)
        threads = [
            threading.Thread(target=_until_stopped, args=(worker, stop, name, failed), name=name)
            for name, worker in _workers(settings, system, deadlines, leadership, complete_within).items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return 1 if failed else 0


def _workers(
    settings: Settings,
    system: System,
    deadlines: PostgresDeadlineStore,
    leadership: AdvisoryLeadership,
    complete_within: timedelta,
) -> dict[str, Worker]:
    saga = OrderSaga(system, deadlines, complete_within)
    topics = [settings.topic(context) for context in CONTEXTS]
    group = settings.consumer_group("saga")
    consumer = kafka.consumer(settings, group, topics, client_id="saga", max_poll_records=BATCH)
    return {
        "saga-consumer": ConsumerLoop(consumer, saga.handle_batch, "saga").run,
        "saga-deadlines": DeadlineScheduler(deadlines, system.orders, leadership).run,
    }


def _until_stopped(worker: Worker, stop: threading.Event, name: str, failed: list[str]) -> None:
    """Run one worker; if it dies, stop the other too, so the process exits and is restarted."""
    try:
        worker(stop)
    except Exception:
        log.exception("%s died; stopping the saga", name)
        failed.append(name)
    finally:
        stop.set()


def _seconds(text: str) -> timedelta:
    value = float(text)
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds, got {text}")
    return timedelta(seconds=value)
