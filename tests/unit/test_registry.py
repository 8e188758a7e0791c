"""The registry declares the set of contexts once, and a context of one word or several goes
through everything that reads the set: the composition root, the published language and its
topic, the in-memory pump and the saga's reactions. The two-word context below (`gift_cards`)
lives only in this module and in registries of its own; the product's registry is untouched."""

import re
from dataclasses import dataclass, replace
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

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


class GiftCard(TracedAggregate):
    class Issued(TracedAggregate.Created):
        TOPIC = "RegistryTestGiftCardIssued.v1"
        order_id: str

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id


@dataclass(frozen=True, kw_only=True)
class IssueGiftCard(Command):
    order_id: UUID


def gift_card_id(order_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"registry-test-gift-card:{order_id}")


class GiftCardsService(ContextApplication):
    name = "GiftCards"

    def handlers(self) -> dict[type, Handler]:
        return {IssueGiftCard: self.issue}

    def issue(self, command: IssueGiftCard) -> Decision:
        card_id = gift_card_id(command.order_id)
        card = GiftCard._start(GiftCard.Issued, card_id, command.trace, order_id=str(command.order_id))
        return Decision([card], {"card_id": str(card_id)})


class GiftCardIssued(Payload):
    event_type = "RegistryTestGiftCardIssued"
    order_id: str


def issue_gift_card(event: IntegrationEvent, order: Order, _: Others) -> tuple[Step, ...]:
    return (Step(caused(event, IssueGiftCard, order_id=order.id)),)


GIFT_CARDS = Context(
    published=PublishedContext(
        "gift_cards", (GiftCard,), {GiftCard.Issued: lambda e: GiftCardIssued(order_id=e.order_id)}
    ),
    application=GiftCardsService,
    build=lambda wiring: GiftCardsService(env=wiring.env),
    reactions={"OrderPlaced": issue_gift_card},
)


def test_the_product_declares_its_four_contexts_in_one_order() -> None:
    assert REGISTRY.names == ("orders", "inventory", "payments", "fulfillment")
    assert [context.name for context in REGISTRY.calling] == ["payments", "fulfillment"]
    assert [context.topic for context in REGISTRY] == [
        "orders.events",
        "inventory.events",
        "payments.events",
        "fulfillment.events",
    ]
    assert "gift_cards" not in REGISTRY


def test_the_system_builds_one_application_per_context_in_the_registry_order() -> None:
    system = build(Settings(database_url=None))
    try:
        assert [type(app).__name__ for app in system.contexts] == [
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
    assert [undo.step for undo in REGISTRY.undo] == [
        "shipment_cancelled",
        "payment_voided",
        "payment_refunded",
        "stock_released",
    ]


def test_every_projection_reads_registered_contexts() -> None:
    assert REGISTRY.read_models(PROJECTIONS.values()) == {
        "orders": ("order_summary",),
        "inventory": ("stock",),
        "payments": ("order_summary", "payment_ledger"),
        "fulfillment": ("order_summary",),
    }


def test_a_two_word_context_is_built_published_under_its_name_and_pumped() -> None:
    system = build(Settings(database_url=None), registry=Registry(GIFT_CARDS))
    try:
        order_id = UUID(int=7)
        system.gift_cards.execute(IssueGiftCard(command_id=unique("issue"), order_id=order_id))
        handed: list[IntegrationEvent] = []
        assert Pump(system, handed.append).drain() == 1
    finally:
        system.close()

    (event,) = handed
    assert (event.context, event.event_type, event.data) == (
        "gift_cards",
        "RegistryTestGiftCardIssued",
        {"order_id": str(order_id)},
    )
    assert isinstance(event.payload(), GiftCardIssued)
    assert GIFT_CARDS.topic == "gift_cards.events"
    assert Settings(kafka_topic_prefix="t1.").topic("gift_cards") == "t1.gift_cards.events"


def test_the_saga_runs_a_two_word_context_s_reactions_merged_in_the_registry_order() -> None:
    world = make_world(registry=Registry(*REGISTRY, GIFT_CARDS))
    try:
        world.restock(sku := unique("SKU"), 2)
        order_id = world.place({sku: 1})
        world.pump.drain()

        assert world.order(order_id).status is OrderStatus.COMPLETED
        card = world.system.gift_cards.repository.get(gift_card_id(order_id))
        assert card.order_id == str(order_id)
        assert "gift_cards" in {event.context for event in world.pump.handed}
        assert [r.__name__ for r in world.saga.forward["OrderPlaced"]] == ["reserve_stock", "issue_gift_card"]
    finally:
        world.close()


def test_the_published_language_finds_a_context_by_its_name() -> None:
    placed = GiftCard._start(
        GiftCard.Issued, UUID(int=1), IssueGiftCard(command_id="c", order_id=UUID(int=2)).trace, order_id="o"
    )
    event = to_integration_event("gift_cards", placed.collect_events()[0], 3)
    assert (event.context, event.notification_id) == ("gift_cards", 3)


@pytest.mark.parametrize(
    ("contexts", "problem"),
    [
        ((orders.CONTEXT, inventory.CONTEXT, orders.CONTEXT), "declared twice"),
        ((orders.CONTEXT,), "needs ['inventory']"),
        (
            (replace(GIFT_CARDS, application=type("Cards", (GiftCardsService,), {"name": "Cards"})),),
            "does not name",
        ),
        ((replace(GIFT_CARDS, undo=inventory.CONTEXT.undo),), "undo steps of another context"),
        ((replace(GIFT_CARDS, calls_out=True),), "has no `ask`"),
    ],
)
def test_a_registry_that_contradicts_itself_is_refused(contexts: tuple[Context, ...], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        Registry(*contexts)


@pytest.mark.parametrize("name", ["GiftCards", "gift-cards", "gift__cards", "_gift", ""])
def test_a_context_name_is_snake_case(name: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        PublishedContext(name, (), {})
