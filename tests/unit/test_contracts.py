"""Every stored domain event has a published form, and the published form round-trips."""

import uuid

import pytest
from eventsourcing.utils import resolve_topic

from domain.money import Money
from domain.orders import Order, OrderLine, PlaceOrder
from domain.payments import Payment
from infrastructure.contracts import IntegrationEvent, UnknownEventTypeError
from infrastructure.vault import memory_vault
from services.registry import REGISTRY

from .scenario import ADDRESS, trace

AGGREGATES = [aggregate for context in REGISTRY for aggregate in context.aggregates]
to_integration_event = REGISTRY.to_integration_event


def stored_event_classes(aggregate: type) -> set[type]:
    return {value for value in vars(aggregate).values() if getattr(value, "TOPIC", None)}


@pytest.mark.parametrize("context", REGISTRY.names)
def test_every_domain_event_of_a_context_has_exactly_one_published_mapping(context: str) -> None:
    declared = REGISTRY[context]
    assert set(declared.mapping) == {c for a in declared.aggregates for c in stored_event_classes(a)}


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=lambda a: a.__name__)
def test_a_fresh_process_resolves_every_stored_topic_before_writing_anything(aggregate: type) -> None:
    for event_class in stored_event_classes(aggregate):
        assert resolve_topic(event_class.TOPIC) is event_class


def placed_order() -> Order:
    command = PlaceOrder(
        command_id="place-1",
        order_id=uuid.uuid4(),
        customer_id="c",
        shipping_address=ADDRESS,
        payment_token="tok_ok",
        currency="EUR",
        lines=(OrderLine("SKU-1", 2, Money(150, "EUR")),),
    )
    return Order.place(command, lambda _: True, memory_vault())


def test_a_published_event_carries_the_envelope_and_a_payload_that_validates() -> None:
    placed = placed_order().collect_events()[0]
    published = to_integration_event("orders", placed, notification_id=7)

    assert (published.context, published.event_type, published.schema_version) == (
        "orders",
        "OrderPlaced",
        1,
    )
    assert published.event_id == f"{placed.originator_id}:1"
    assert (published.command_id, published.correlation_id) == ("place-1", "place-1")
    assert published.payload().model_dump()["total_cents"] == 300
    assert IntegrationEvent.from_bytes(published.to_bytes()) == published


def test_headers_name_the_event_so_consumers_can_route_without_parsing_the_body() -> None:
    payment, _ = Payment.request(
        uuid.uuid4(), Money(500, "EUR"), memory_vault().seal("c", "tok_ok"), trace("authorize")
    )
    published = to_integration_event("payments", payment.collect_events()[0], notification_id=3)

    headers = dict(published.headers())
    assert headers["event_type"] == b"PaymentRequested"
    assert headers["aggregate_version"] == b"1"
    assert headers["causation_id"] == b"authorize/causation"
    assert published.key == str(payment.id).encode()


def test_an_event_type_nobody_registered_is_refused_by_name() -> None:
    published = to_integration_event("orders", placed_order().collect_events()[0], notification_id=1)
    unknown = published.model_copy(update={"event_type": "OrderTeleported"})
    with pytest.raises(UnknownEventTypeError):
        unknown.payload()
