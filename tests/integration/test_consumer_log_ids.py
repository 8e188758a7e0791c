"""A consumer's log lines about a record carry the record's ids: the saga as its process runs
it (`services.cli.saga.run`), on the real broker and PostgreSQL, reads a record about an order
it never heard of and parks it, saying so on a line with the record's correlation id."""

import re
import threading
import uuid
from datetime import timedelta

import pytest
from support.isolation import wait_until
from support.logs import captured
from support.orders import ADDRESS

from domain.money import Money
from domain.orders import Order, OrderLine, PlaceOrder
from infrastructure import kafka
from infrastructure.settings import Settings
from infrastructure.vault import memory_vault
from services.cli import saga as saga_process
from services.registry import REGISTRY

pytestmark = pytest.mark.integration


def publish_a_stranger(settings: Settings) -> dict[str, str]:
    """An OrderPlaced for an order the saga's stores do not hold, as the relay publishes one;
    returns its ids."""
    command = PlaceOrder(
        command_id=f"place-{uuid.uuid4().hex}",
        correlation_id=f"req-{uuid.uuid4().hex}",
        order_id=uuid.uuid4(),
        customer_id="c",
        shipping_address=ADDRESS,
        payment_token="tok_ok",
        currency="EUR",
        lines=(OrderLine("SKU-1", 1, Money(150, "EUR")),),
    )
    placed = Order.place(command, lambda _: True, memory_vault()).collect_events()[0]
    event = REGISTRY.to_integration_event("orders", placed, notification_id=1)
    producer = kafka.producer(settings, client_id="test-relay")
    producer.send(settings.topic("orders"), event.to_bytes(), event.key, event.headers()).get(timeout=10)
    producer.close()
    return event.trace_ids()


def test_the_saga_s_line_about_a_record_it_parks_carries_the_record_s_ids(settings: Settings) -> None:
    stop = threading.Event()
    saga = threading.Thread(target=saga_process.run, args=(settings, stop, timedelta(seconds=120), 2))
    with captured("saga") as lines:
        saga.start()
        try:
            ids = publish_a_stranger(settings)
            parked = wait_until(lambda: lines.saying("parked") or None, "the saga to park the record")
        finally:
            stop.set()
            saga.join(timeout=30)
    assert not saga.is_alive()

    (line,) = parked
    assert {name: line[name] for name in ids} == ids
    assert (line["process"], line["level"], line["logger"]) == ("saga", "error", "services.saga.records")
    assert re.fullmatch(r"saga-\d+", line["thread_name"])  # a worker, not the poll loop ("saga-consumer")
