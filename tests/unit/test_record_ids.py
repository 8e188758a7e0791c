"""An event's ids travel with it: in its record's headers, and on the log lines of whatever
handles it, in memory (the saga's pump) as over Kafka (tests/integration/test_consumer_log_ids.py);
a call carries its flow's ids to the gateway's log lines."""

import logging
import uuid
from collections.abc import Iterator

import pytest
from support.logs import captured

from domain.calls import Call
from domain.commands import Command
from domain.money import Money
from domain.orders import Order, OrderLine, PlaceOrder
from domain.payments import AuthorizePayment
from domain.ports import ProviderTimeoutError
from infrastructure.consuming import Delivery
from infrastructure.contracts import IntegrationEvent
from infrastructure.vault import memory_vault
from services.application import Receipt
from services.bootstrap import System
from services.gateway import Gateway, GatewayOptions
from services.registry import REGISTRY

from .saga_world import Handle, World, make_world
from .scenario import ADDRESS

TRACED = {"command_id": "place-1", "correlation_id": "req-1", "causation_id": "cause-1"}


def published() -> IntegrationEvent:
    command = PlaceOrder(
        **TRACED,
        order_id=uuid.uuid4(),
        customer_id="c",
        shipping_address=ADDRESS,
        payment_token="tok_ok",
        currency="EUR",
        lines=(OrderLine("SKU-1", 1, Money(150, "EUR")),),
    )
    placed = Order.place(command, lambda _: True, memory_vault()).collect_events()[0]
    return REGISTRY.to_integration_event("orders", placed, notification_id=1)


def test_a_record_s_headers_name_the_command_its_flow_and_its_cause() -> None:
    event = published()
    headers = dict(event.headers())

    assert {name: headers[name].decode() for name in TRACED} == TRACED
    assert event.trace_ids() == {"event_id": event.event_id, **TRACED}


def test_a_delivery_reads_its_ids_from_the_headers_even_when_its_value_is_not_an_event() -> None:
    event = published()
    poison = Delivery("t.orders.events", 0, 7, event.key, b"not an event", event.headers())

    assert poison.trace_ids() == event.trace_ids()
    assert Delivery("t.orders.events", 0, 8, None, b"", [("event_type", b"X")]).trace_ids() == {}


@pytest.fixture
def world() -> Iterator[World]:
    def logging_each(handle: Handle) -> Handle:
        def handled(event: IntegrationEvent) -> None:
            logging.getLogger("saga").info("handling %s", event.event_type)
            handle(event)

        return handled

    world = make_world(redeliver=logging_each)
    yield world
    world.close()


def test_the_pump_binds_each_event_s_ids_while_the_saga_handles_it(world: World) -> None:
    world.restock("SKU-1", 5)
    world.place({"SKU-1": 1})
    with captured() as lines:
        world.pump.drain()

    handling = lines.saying("handling")
    assert len(handling) == len(world.pump.handed) > 1
    for line, event in zip(handling, world.pump.handed, strict=True):
        assert {name: line[name] for name in event.trace_ids()} == event.trace_ids()


class Unreachable:
    """The payments context, asking a provider that never answers."""

    name = "payments"

    def __init__(self, system: System) -> None:
        self.system = system

    def ask(self, call: Call) -> Command:
        raise ProviderTimeoutError("no answer in 2 s")

    def execute(self, command: Command, *, expect_new: bool = False) -> Receipt:
        return self.system.payments.execute(command, expect_new=expect_new)


def test_the_gateway_s_lines_about_a_call_carry_its_flow_its_cause_and_its_answer_s_command(
    system: System,
) -> None:
    order_id = uuid.uuid4()
    system.payments.execute(
        AuthorizePayment(
            command_id="authorize-1",
            correlation_id="req-9",
            order_id=order_id,
            amount=Money(4200, "EUR"),
            token=memory_vault().seal("c", "tok_ok"),
        )
    )
    gateway = Gateway(Unreachable(system), system.payments.calls, GatewayOptions(backoff_s=0.0))
    (call,) = system.payments.calls.claim(1, lease_s=30.0)
    with captured("gateway") as lines:
        assert gateway.perform(call) == "retry"

    (line,) = lines.saying("no answer in 2 s")
    assert (line["correlation_id"], line["causation_id"]) == ("req-9", "authorize-1")
    assert line["command_id"] == call.answer_id and call.call_id in line["message"]
