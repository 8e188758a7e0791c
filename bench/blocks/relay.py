"""The outbox relay against the producer it drives (L3, P3).

A backlog of orders, each through the whole happy path (placed, reserved, paid, fulfilling,
shipped, completed: six events), is written to the orders context's store first. Then:

- L3: kafka-python's producer, configured as the relay's (`infrastructure.kafka.producer`:
  acks=all, one request in flight, the same linger), sends the records the relay would
  publish for that backlog (the same bytes, keys and headers) to a topic of their own, all
  at once, and waits for every ack: the most the client and the broker can take. Making
  those records from the store (read, decode, encode), untimed there, is timed apart.
- P3: the orders context's real relay, started on the backlog, from its start (taking the
  lead, checking the broker) until its saved position reaches the last event: it reads 500
  events, turns them into records, sends them, waits for every ack, and saves its position,
  one batch after the other. Its lag in events is sampled while it works, every 0.1 s.
"""

import threading
import time
import uuid
from typing import Any

from bench.blocks.measure import POLL_S, Run, watch
from domain.money import Money
from domain.orders import Order, OrderLine, PlaceOrder, ShippingAddress
from domain.tracing import Trace
from infrastructure import kafka
from infrastructure.contracts import IntegrationEvent, to_integration_event
from infrastructure.relay import Relay
from services.cli.terminal import track

CONTEXT = "orders"
EVENTS_PER_ORDER = 6
ORDERS_PER_SAVE = 100
CUSTOMERS = 10  # each has a key in the vault; a few are enough
ADDRESS = ShippingAddress(
    name="Bench Customer", line1="1 Bench Lane", city="Delft", postal_code="2611", country="NL"
)
LINE = OrderLine("BENCH-1", 1, Money(1250, "EUR"))
TRACE = Trace("bench", "bench", "bench")


def measure(run: Run) -> int:
    """Write the backlog, then L3 and P3, into `run.measurements`; returns the backlog's
    events, which the orders topic now holds."""
    events = write_backlog(run)
    kafka.ensure_topics(run.settings, [run.settings.topic(CONTEXT), raw_topic(run)])
    began = time.perf_counter()
    records = _records(run, events)
    # Reading the backlog and making its records, as the relay does: P3's work that L3 is spared.
    built_s = round(time.perf_counter() - began, 3)
    run.measurements["l3_producer"] = _produce(run, records) | {"building_the_records_s": built_s}
    run.measurements["p3_relay"] = _relay(run, events)
    return events


def raw_topic(run: Run) -> str:
    return f"{run.settings.kafka_topic_prefix}bench-raw.events"


def write_backlog(run: Run) -> int:
    """`run.sizes.orders` completed orders in the orders context's store; returns its events."""
    orders = run.system.orders
    total = run.sizes.orders * EVENTS_PER_ORDER
    with track("writing the backlog", total, "events") as advance:
        for first in range(0, run.sizes.orders, ORDERS_PER_SAVE):
            last = min(first + ORDERS_PER_SAVE, run.sizes.orders)
            orders.save(*(_completed_order(run, n) for n in range(first, last)))
            advance(last * EVENTS_PER_ORDER, None)
        advance(total, f"  backlog: {run.sizes.orders} orders, {total} events in the orders context's store")
    return total


def _completed_order(run: Run, n: int) -> Order:
    order_id = uuid.uuid4()
    command = PlaceOrder(
        command_id=f"bench-{order_id}",
        order_id=order_id,
        customer_id=f"customer-{n % CUSTOMERS}",
        currency="EUR",
        lines=(LINE,),
        shipping_address=ADDRESS,
        payment_token="tok_ok",
    )
    order = Order.place(command, lambda sku: True, run.system.vault)
    order.confirm_stock_reserved(TRACE)
    order.confirm_payment_authorized(TRACE)
    order.request_fulfillment(TRACE)
    order.confirm_shipped(f"TRACK-{n}", TRACE)
    order.complete(TRACE)
    return order


def _records(run: Run, events: int) -> list[IntegrationEvent]:
    """The backlog as the relay publishes it."""
    app: Any = run.system.orders
    records: list[IntegrationEvent] = []
    while len(records) < events:
        notifications = app.recorder.select_notifications(start=len(records) + 1, limit=500)
        records += [to_integration_event(CONTEXT, app.mapper.to_domain_event(n), n.id) for n in notifications]
    return records


def _produce(run: Run, records: list[IntegrationEvent]) -> dict[str, Any]:
    topic = raw_topic(run)
    producer = kafka.producer(run.settings, client_id="bench-l3")
    try:
        producer.send(topic, key=b"warm-up", value=b"{}").get(timeout=30)  # connected, metadata known
        sent = [(record.key, record.to_bytes(), record.headers()) for record in records]
        with watch(run, "L3 raw producer", len(sent), "records") as progress:
            progress.start()
            futures = [
                producer.send(topic, key=key, value=value, headers=headers) for key, value, headers in sent
            ]
            producer.flush()
            for future in futures:
                future.get(timeout=30)
            return progress.result(len(sent))
    finally:
        producer.close()


class TimedRelay(Relay):
    """The orders context's relay, noting when its saved position first reached `end`."""

    def __init__(self, run: Run, end: int) -> None:
        app: Any = run.system.orders
        super().__init__(app.recorder, app.mapper.to_domain_event, CONTEXT, run.settings)
        self.end = end
        self.reached_end_at: float | None = None

    def publish_batch(self) -> int:
        published = super().publish_batch()
        if self.reached_end_at is None and self.position >= self.end:
            self.reached_end_at = time.perf_counter()
        return published


def _relay(run: Run, events: int) -> dict[str, Any]:
    relay = TimedRelay(run, events)
    stop = threading.Event()
    lags = [(0.0, relay.lag())]  # (seconds since the start, events not yet published)
    thread = threading.Thread(target=relay.run, args=(stop,), name="bench-relay")
    with watch(run, "P3 relay", events, "events") as progress:
        progress.start()
        thread.start()
        try:
            while relay.reached_end_at is None:
                if not thread.is_alive():
                    raise RuntimeError("the relay stopped before it published the backlog")
                progress.progress(relay.position)
                time.sleep(POLL_S)
                lags.append((round(time.perf_counter() - progress.started, 2), events - relay.position))
            result = progress.result(events, relay.reached_end_at - progress.started)
        finally:
            stop.set()
            thread.join()
    return result | {"lag_events": lags, "lag_events_at_end": relay.lag()}
