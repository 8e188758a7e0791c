"""`orders gateway`: the gateway workers as a process. For each context that calls an outside
party (payments: the provider; fulfillment: the carrier), a pool performs the calls its
commands decided, concurrently, and records each answer (`services/gateway.py`).

Any number of gateway processes may run: they claim calls with `FOR UPDATE SKIP LOCKED`, so
none is performed by two at once, and one that dies leaves its calls to the others once
their lease has passed. A NOTIFY from the transaction that stores a call wakes a pool at
once; polling catches calls that come due after a backoff. Ctrl-C or SIGTERM stops it.
"""

import logging
import signal
import sys
import threading
from typing import Annotated

import typer

from infrastructure import logs
from infrastructure.relay.wakeup import Wakeup
from infrastructure.settings import Settings
from services.bootstrap import build, edges
from services.cli import dev
from services.cli.metrics import expose
from services.cli.usage import examples
from services.gateway import GatewayOptions

log = logging.getLogger(__name__)
WORKERS = GatewayOptions().workers


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "gateway",
        rich_help_panel=panel,
        help="Make the calls to the payment provider and the carrier.\n\n"
        "The calls that commands recorded: per context that calls an outside party, a pool makes"
        " up to --workers of them at once, one attempt per claim, and records each answer as a"
        " command. Any number of gateways may"
        " run: a call is claimed with FOR UPDATE SKIP LOCKED and a lease, so two never ask it at"
        " once, and a dead one's calls are taken over once their lease has passed. Needs"
        " DATABASE_URL. Ctrl-C or SIGTERM stops it.",
        epilog=examples(
            ("orders gateway", f"{WORKERS} calls at once per context"),
            ("orders gateway --workers 64", "more, for a slow provider"),
        ),
    )(dev.reporting_errors(_gateway))


def _gateway(
    workers: Annotated[int, typer.Option(min=1, help="calls in flight at once, per context")] = WORKERS,
) -> int:
    logs.configure("gateway")
    settings = Settings.from_env()
    if not settings.database_url:
        print("orders gateway: error: DATABASE_URL must be set (run `orders dev up`)", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    expose("gateway", settings)
    run(settings, stop, workers)
    return 0


def run(settings: Settings, stop: threading.Event, workers: int = WORKERS) -> None:
    """Perform calls until `stop` is set. An attempt's lease outlasts its timeout, so a call is
    never claimed by a second worker while the first may still get its answer."""
    options = GatewayOptions(
        workers=workers,
        lease_s=settings.gateway_timeout_s + 5,
        backoff_s=settings.gateway_backoff_s,
        backoff_max_s=settings.gateway_backoff_max_s,
    )
    system = build(settings, *edges(settings))
    try:
        threads = []
        for context, gateway in zip(system.registry.calling, system.gateways(options), strict=True):
            hint = Wakeup(settings, gateway.queue.channel, stop)
            print(f"gateway: {context.name} calls, {workers} at once", flush=True)
            threads.append(threading.Thread(target=gateway.run, args=(stop, hint.wait), name=context.name))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        system.close()
