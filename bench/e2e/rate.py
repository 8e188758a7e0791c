"""One run at one offered rate, from starting the processes to the figures.

The clock starts when the processes are started (`started_at`), not after a warm-up: a
system that is slow in its first minute (connections, caches, consumer groups joining) is
slow for real customers too, so that minute is measured and also reported on its own.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.e2e import events, logs, measure
from bench.e2e.load import offer
from bench.e2e.system import Servers, isolated_env, ready, restock, tally
from bench.e2e.window import Window
from infrastructure.settings import Settings
from services.bootstrap import build
from services.cli import run
from services.ops.check import events_tables

SKUS = [f"SKU-{n}" for n in range(1, 6)]
STOCK_MARGIN = 100  # units per SKU beyond what the orders of a run can take
DRAIN_POLL_S = 1.0
DRAIN_SAY_EVERY_S = 10.0


@dataclass(frozen=True)
class Options:
    duration_s: float
    drain_s: float
    profile: bool
    out: Path


def run_rate(servers: Servers, rate: float, options: Options, say: Callable[[str], None]) -> dict[str, Any]:
    env = isolated_env(servers)
    settings = Settings.from_env(env)
    say(f"rate {rate:g}/s: schema {settings.postgres_schema}, topics {settings.topic('<context>')}")
    system = build(settings)  # creates the schema; names the tables
    try:
        table = events_tables(system)["orders"]
        marks = logs.mark(settings.devstack_dir / "logs")
        supervised = run.supervisor(settings, env, lambda line: say(f"  {line}"))
        profile = (
            (options.out / f"e2e-saga-{rate:g}.raw.txt", options.duration_s) if options.profile else None
        )
        window = Window(settings, table, supervised, _pids(servers), profile, say)
        started_at = time.time()
        with supervised.running():
            ready(settings, say)
            ready_after = time.time() - started_at
            restock(settings, SKUS, round(rate * options.duration_s) + STOCK_MARGIN)
            say(f"ready {ready_after:.1f}s after start, SKUs restocked; sending for {options.duration_s:g}s")
            load = offer(settings, SKUS, rate, options.duration_s, window)
            profiled = window.profile_summary()
            drained = drain(settings, table, options.drain_s, say)
            say("stopping the processes")
        stored = events.read_all(system)
    finally:
        system.close()
    figures = measure.orders(stored, started_at, load)
    throughput = figures["throughput"]
    return {
        "rate": rate,
        "schema": settings.postgres_schema,
        "topic_prefix": settings.kafka_topic_prefix,
        "started_at": started_at,
        "ready_after_s": ready_after,
        "window_after_start_s": [load.window_start - started_at, load.window_end - started_at],
        "drain": drained,
        "events_stored": len(stored),
        **figures,
        "api": measure.api_figures(load),
        "hops": measure.hop_figures(stored),
        "cpu": measure.cpu_figures(
            window.cpu, throughput["completed_in_window"], throughput["placed_in_window"]
        ),
        "log_warnings": logs.count_since(settings.devstack_dir / "logs", marks),
        "profile": profiled,
        "settings": {**public(settings), "addresses": run.addresses(settings)},
    }


def _pids(servers: Servers) -> dict[str, int]:
    named = {"postgres": servers.postgres_pid, "broker": servers.broker_pid}
    return {name: pid for name, pid in named.items() if pid is not None}


def public(settings: Settings) -> dict[str, Any]:
    """The settings the processes ran with, less the API keys, the webhook secret and the cipher key."""
    return settings.model_dump(mode="json", exclude={"api_keys", "psp_webhook_secret", "cipher_key"})


def drain(settings: Settings, table: str, drain_s: float, say: Callable[[str], None]) -> dict[str, Any]:
    """Wait until no order is in flight, or `drain_s` has passed."""
    started = said = time.monotonic()
    while True:
        stored = tally(settings, table)
        waited = time.monotonic() - started
        if stored.in_flight == 0 or waited >= drain_s:
            say(f"drain: {stored.in_flight} orders in flight after {waited:.1f}s")
            return {"waited_s": waited, "in_flight_at_end": stored.in_flight, "limit_s": drain_s}
        if time.monotonic() - said >= DRAIN_SAY_EVERY_S:
            say(
                f"  draining {waited:4.0f}s: placed {stored.placed}, completed {stored.completed},"
                f" in flight {stored.in_flight}"
            )
            said = time.monotonic()
        time.sleep(DRAIN_POLL_S)
