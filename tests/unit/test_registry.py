"""The registry declares the set of contexts once, and a context of one word or several goes
through everything that reads the set: the composition root, the published language and its
topic, the in-memory pump and the saga's reactions. The two-word context below (`store_credits`)
lives only in this module and in registries of its own; the product's registry is untouched."""

import re
from dataclasses import dataclass, replace
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest
from support.product import PRODUCT_CONTEXTS as PRODUCT

from domain.commands import Command
from domain.orders import Order, OrderStatus
from domain.tracing import TracedAggregate
from infrastructure.contracts import IntegrationEvent, Payload, PublishedContext, to_integration_event
from infrastructure.settings import Settings
from projections.catalog import PROJECTIONS
from services.application import Decision, Handler
from services.bootstrap import build
from services.context import Context, ContextApplication, Registry
from services.contexts import inventory, orders
from services.registry import REGISTRY
from services.saga import Pump
from services.saga.forward import Others
from services.saga.steps import Step, caused

from .saga_world import make_world
from .scenario import unique


class StoreCredit(TracedAggregate):
    class Issued(TracedAggregate.Created):
        TOPIC = "RegistryTestStoreCreditIssued.v1"
        order_id: str

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id


@dataclass(frozen=True, kw_only=True)
class IssueStoreCredit(Command):
    order_id: UUID


def store_credit_id(order_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"registry-test-store-credit:{order_id}")


class StoreCreditsService(ContextApplication):
    name = "StoreCredits"

    def handlers(self) -> dict[type, Handler]:
        return {IssueStoreCredit: self.issue}

    def issue(self, command: IssueStoreCredit) -> Decision:
        credit_id = store_credit_id(command.order_id)
        credit = StoreCredit._start(
            StoreCredit.Issued, credit_id, command.trace, order_id=str(command.order_id)
        )
        return Decision([credit], {"credit_id": str(credit_id)})


class StoreCreditIssued(Payload):
    event_type = "RegistryTestStoreCreditIssued"
    order_id: str


def issue_store_credit(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    return (Step(caused(event, IssueStoreCredit, order_id=order.id)),)


STORE_CREDITS = Context(
    published=PublishedContext(
        "store_credits",
        (StoreCredit,),
        {StoreCredit.Issued: lambda e: StoreCreditIssued(order_id=e.order_id)},
    ),
    application=StoreCreditsService,
    build=lambda wiring: StoreCreditsService(env=wiring.env),
    reactions={"OrderPlaced": issue_store_credit},
)


def test_the_product_declares_its_four_contexts_in_one_order() -> None:
    assert REGISTRY.names[: len(PRODUCT)] == PRODUCT
    assert [context.name for context in REGISTRY.calling] == ["payments", "fulfillment"]
    assert [REGISTRY[name].topic for name in PRODUCT] == [
        "orders.events",
        "inventory.events",
        "payments.events",
        "fulfillment.events",
    ]
    assert "store_credits" not in REGISTRY


def test_the_system_builds_one_application_per_context_in_the_registry_order() -> None:
    system = build(Settings(database_url=None))
    try:
        assert [type(app).__name__ for app in system.contexts][: len(PRODUCT)] == [
            "OrdersService",
            "InventoryService",
            "PaymentsService",
            "FulfillmentService",
        ]
        assert system.orders is system.app("orders") is system.apps["orders"]
        assert system.calling == (system.payments, system.fulfillment)
    finally:
        system.close()


def test_undo_steps_run_from_the_last_context_back_to_the_first() -> None:
    assert [undo.step for undo in REGISTRY.undo if undo.context in PRODUCT] == [
        "shipment_cancelled",
        "payment_voided",
        "payment_refunded",
        "stock_released",
    ]


def test_every_projection_reads_registered_contexts() -> None:
    readers = REGISTRY.read_models(PROJECTIONS.values())
    assert {name: readers[name] for name in PRODUCT} == {
        "orders": ("order_summary",),
        "inventory": ("stock",),
        "payments": ("order_summary", "payment_ledger"),
        "fulfillment": ("order_summary",),
    }


def test_a_two_word_context_is_built_published_under_its_name_and_pumped() -> None:
    system = build(Settings(database_url=None), registry=Registry(STORE_CREDITS))
    try:
        order_id = UUID(int=7)
        system.store_credits.execute(IssueStoreCredit(command_id=unique("issue"), order_id=order_id))
        handed: list[IntegrationEvent] = []
        assert Pump(system, handed.append).drain() == 1
    finally:
        system.close()

    (event,) = handed
    assert (event.context, event.event_type, event.data) == (
        "store_credits",
        "RegistryTestStoreCreditIssued",
        {"order_id": str(order_id)},
    )
    assert isinstance(event.payload(), StoreCreditIssued)
    assert STORE_CREDITS.topic == "store_credits.events"
    assert Settings(kafka_topic_prefix="t1.").topic("store_credits") == "t1.store_credits.events"


def test_the_saga_runs_a_two_word_context_s_reactions_merged_in_the_registry_order() -> None:
    world = make_world(registry=Registry(*(REGISTRY[name] for name in PRODUCT), STORE_CREDITS))
    try:
        world.restock(sku := unique("SKU"), 2)
        order_id = world.place({sku: 1})
        world.pump.drain()

        assert world.order(order_id).status is OrderStatus.COMPLETED
        credit = world.system.store_credits.repository.get(store_credit_id(order_id))
        assert credit.order_id == str(order_id)
        assert "store_credits" in {event.context for event in world.pump.handed}
        assert [r.__name__ for r in world.saga.forward["OrderPlaced"]] == [
            "reserve_stock",
            "issue_store_credit",
        ]
    finally:
        world.close()


def test_the_published_language_finds_a_context_by_its_name() -> None:
    placed = StoreCredit._start(
        StoreCredit.Issued,
        UUID(int=1),
        IssueStoreCredit(command_id="c", order_id=UUID(int=2)).trace,
        order_id="o",
    )
    event = to_integration_event("store_credits", placed.collect_events()[0], 3)
    assert (event.context, event.notification_id) == ("store_credits", 3)


@pytest.mark.parametrize(
    ("contexts", "problem"),
    [
        ((orders.CONTEXT, inventory.CONTEXT, orders.CONTEXT), "declared twice"),
        ((orders.CONTEXT,), "needs ['inventory']"),
        (
            (
                replace(
                    STORE_CREDITS, application=type("Credits", (StoreCreditsService,), {"name": "Credits"})
                ),
            ),
            "does not name",
        ),
        ((replace(STORE_CREDITS, undo=inventory.CONTEXT.undo),), "undo steps of another context"),
        ((replace(STORE_CREDITS, calls_out=True),), "has no `ask`"),
    ],
)
def test_a_registry_that_contradicts_itself_is_refused(contexts: tuple[Context, ...], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        Registry(*contexts)


@pytest.mark.parametrize("name", ["GiftCards", "gift-cards", "gift__cards", "_gift", ""])
def test_a_context_name_is_snake_case(name: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        PublishedContext(name, (), {})
