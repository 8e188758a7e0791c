"""Customers who keep coming: placements and cancellations at a steady rate until told to stop.

The plans are the demo's (every test token, carrier refusals, cancellations), made in
chunks as the run goes on. Every POST is sent twice and retried through any fault until it
is answered (the demo's Submitter), so when the run ends every order a customer placed was
acknowledged, and each must exist exactly once.
"""

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait

from services.ops.demo.scenario import Action, Customers, make_plans, schedule

CHUNK = 50  # orders planned at a time


def run_workload(
    customers: Customers,
    skus: list[str],
    rng: random.Random,
    rate: float,
    workers: int,
    stop: threading.Event,
    say: Callable[[str], None],
) -> int:
    """Send actions at about `rate` orders a second until `stop` is set; wait for the ones
    sent to be answered; return how many orders were placed."""
    placed = 0
    started = time.monotonic()
    pending: set[Future[int]] = set()
    with ThreadPoolExecutor(workers) as pool:
        for action in _actions(customers.run, skus, rng):
            if stop.is_set():
                break
            if action.kind == "place":
                placed += 1
                _pace(started, placed, rate, stop)
                if placed % 250 == 0:
                    say(f"  {placed} orders placed ({time.monotonic() - started:.0f}s)")
            pending.add(pool.submit(customers.act, action))
            if len(pending) >= 4 * workers:  # keep the backlog short: the rate is the API's
                done, pending = wait(pending, return_when="FIRST_COMPLETED")
                _raise_failures(done)
        done, _ = wait(pending)
        _raise_failures(done)
    return placed


def _actions(run: str, skus: list[str], rng: random.Random) -> Iterator[Action]:
    first = 0
    while True:
        yield from schedule(make_plans(run, CHUNK, skus, rng, first=first), rng)
        first += CHUNK


def _pace(started: float, placed: int, rate: float, stop: threading.Event) -> None:
    ahead = started + placed / rate - time.monotonic()
    if ahead > 0:
        stop.wait(ahead)


def _raise_failures(done: set[Future[int]]) -> None:
    for future in done:
        future.result()  # a divergent or unexpected answer ends the run with its story
