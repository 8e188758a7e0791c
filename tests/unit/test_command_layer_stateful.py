"""Random commands to inventory, orders and payments, sent again as duplicates, as late
redeliveries and as copies racing from threads, leave the system exactly as the same commands
sent once each would: the command log applies a command id at most once (invariant I7).

A reference system, built the same way, gets each command id once, in the order the ids were
first sent. After every step both must agree on every observable: each stock item, order and
payment, the events stored per aggregate, each notification log, and what the payment
provider did. Every copy must get the answer the reference gave to that command.

A refusal by state (`RuleViolationError`) is recorded and replayed. A command naming
something that does not exist yet (`NotFoundError`) is not recorded, so its next copy is a
new attempt; the reference then applies it again, as the command log would.
"""

import itertools
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)
from support.orders import OWNER

from domain.commands import Command
from domain.errors import DomainError, RuleViolationError
from domain.ids import payment_id, stock_item_id
from domain.inventory import ReleaseStock, ReserveStock, RestockSku, ShipStock
from domain.money import Money
from domain.orders import PROGRESS, AdvanceOrder, CancelOrder, OrderLine, OrderStatus, PlaceOrder
from domain.payments import AuthorizePayment, CapturePayment, RefundPayment, VoidPayment
from infrastructure.gateways.payments import InMemoryPaymentProvider
from infrastructure.settings import Settings
from infrastructure.vault import memory_vault
from services.application import IdempotentApplication
from services.bootstrap import System, build

from .scenario import ADDRESS

SKUS = ("apple", "pear")
ORDERS = (1, 2)  # order n is UUID(int=n), so a counterexample reads `order=1`
MAX_COPIES = 4

SKU = st.sampled_from(SKUS)
ORDER = st.sampled_from(ORDERS)
QUANTITY = st.integers(1, 3)
AMOUNT = st.sampled_from((100, 250)).map(lambda cents: Money(cents, "EUR"))
REFUND = st.sampled_from((50, 100, 300)).map(lambda cents: Money(cents, "EUR"))
LINES = st.lists(st.tuples(SKU, QUANTITY), min_size=1, max_size=len(SKUS), unique_by=lambda line: line[0])
COPIES = st.sampled_from((1, 1, 1, MAX_COPIES))  # mostly one send; sometimes a race of first sends

Outcome = tuple[str, Any]  # ("ok", result) or (error code, error message)


def send(app: IdempotentApplication, command: Command) -> tuple[Outcome, bool]:
    """What the command answered, and whether the answer came from the command log."""
    try:
        receipt = app.execute(command)
    except DomainError as error:
        return (error.code, str(error)), error.replayed
    return ("ok", receipt.result), receipt.replayed


def is_recorded(outcome: Outcome) -> bool:
    code = outcome[0]
    return code == "ok" or issubclass(DomainError.registry[code], RuleViolationError)


def context_of(system: System, command: Command) -> IdempotentApplication:
    return next(app for app in system.contexts if type(command) in app.handlers())


@contextmanager
def threads_switching_often() -> Iterator[None]:
    """Hand the interpreter lock over every microsecond, so that copies interleave inside
    `execute`, between the command-log lookup and the save, instead of running in turn."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


VAULT = memory_vault()  # one for both sides, so that both open the tokens that commands carry


class Side:
    """One system, in memory, and the payment provider it charges through."""

    def __init__(self) -> None:
        self.provider = InMemoryPaymentProvider()
        self.system = build(Settings(database_url=None), provider=self.provider, vault=VAULT)

    def observed(self) -> dict[str, Any]:
        """Everything a client, a relay or the provider could see of this system."""
        orders = [UUID(int=n) for n in ORDERS]
        return {
            **{f"stock item {sku}": self._stock_item(sku) for sku in SKUS},
            **{f"order {order_id}": self._order(order_id) for order_id in orders},
            **{f"payment of {order_id}": self._payment(order_id) for order_id in orders},
            "notification log lengths": [app.recorder.max_notification_id() for app in self.system.contexts],
            "provider operations": {
                op: self.provider.operations(op) for op in ("authorize", "capture", "void", "refund")
            },
        }

    def _stock_item(self, sku: str) -> dict[str, Any] | None:
        inventory = self.system.inventory
        if not inventory.is_known_sku(sku):
            return None
        item = inventory.stock_item(sku)
        return {
            "available": item.available,
            "reserved": item.reserved,
            "shipped": item.shipped,
            "restocked": item.restocked,
            "reservations": item.reservations,
            "stored events": len(inventory.recorder.select_events(stock_item_id(sku))),
        }

    def _order(self, order_id: UUID) -> dict[str, Any] | None:
        orders = self.system.orders
        events = orders.recorder.select_events(order_id)
        if not events:
            return None
        order = orders.order(order_id)
        return {"status": order.status, "history": order.history, "stored events": len(events)}

    def _payment(self, order_id: UUID) -> dict[str, Any] | None:
        payments = self.system.payments
        events = payments.recorder.select_events(payment_id(order_id))
        if not events:
            return None
        payment = payments.payment_of(order_id)
        return {"status": payment.status, "net captured": payment.net_captured, "stored events": len(events)}


class Reference(Side):
    """The deduplicated sequence: each command id applied once, when it is first sent."""

    def __init__(self) -> None:
        super().__init__()
        self.recorded: dict[str, Outcome] = {}

    def expect(self, command: Command) -> Outcome:
        """The recorded answer to this command id, or the answer to applying it now."""
        if command.command_id in self.recorded:
            return self.recorded[command.command_id]
        outcome, replayed = send(context_of(self.system, command), command)
        assert not replayed, "the reference never sees a recorded command id again"
        if is_recorded(outcome):
            self.recorded[command.command_id] = outcome
        return outcome


@settings(max_examples=100, stateful_step_count=30, deadline=None, derandomize=True, database=None)
class CommandLayer(RuleBasedStateMachine):
    sent: Bundle[Command] = Bundle("sent")

    def __init__(self) -> None:
        super().__init__()
        self.tested = Side()
        self.reference = Reference()
        self.threads = ThreadPoolExecutor(max_workers=MAX_COPIES)
        self.command_ids = itertools.count(1)
        self.last: Command | None = None

    def deliver(self, command: Command, copies: int) -> None:
        """Send `copies` of the command at once. Each must get the reference's answer, and only
        the copy the command log records may be answered anew: none if the command was recorded
        before, every copy if its outcome is not recorded."""
        was_recorded = command.command_id in self.reference.recorded
        expected = self.reference.expect(command)
        answers = self.race(command, copies)
        assert [outcome for outcome, _ in answers] == [expected] * copies, (
            f"a copy of {command.command_id} got another answer than the deduplicated sequence gave"
        )
        answered_anew = sum(not replayed for _, replayed in answers)
        should_be = 0 if was_recorded else 1 if is_recorded(expected) else copies
        assert answered_anew == should_be, (
            f"{answered_anew} of {copies} copies of {command.command_id} were not answered "
            f"from the command log; expected {should_be}"
        )
        self.last = command

    def race(self, command: Command, copies: int) -> list[tuple[Outcome, bool]]:
        """The tested system's answers to `copies` sends, from threads released together."""
        app = context_of(self.tested.system, command)
        start = threading.Barrier(copies, timeout=10)

        def one_copy(_: int) -> tuple[Outcome, bool]:
            start.wait()
            return send(app, command)

        with threads_switching_often():
            return list(self.threads.map(one_copy, range(copies)))

    def first_send(self, command: Command, copies: int) -> Command:
        self.deliver(command, copies)
        return command

    def next_id(self) -> str:
        return f"c{next(self.command_ids)}"

    def place_order(self, order_id: UUID, lines: list[tuple[str, int]]) -> PlaceOrder:
        return PlaceOrder(
            command_id=self.next_id(),
            order_id=order_id,
            customer_id="c-1",
            currency="EUR",
            lines=tuple(OrderLine(sku, quantity, Money(100, "EUR")) for sku, quantity in lines),
            shipping_address=ADDRESS,
            payment_token="tok_ok",
        )

    @initialize(target=sent, quantity=st.integers(1, 10), amount=AMOUNT)
    def open_the_shop(self, quantity: int, amount: Money) -> MultipleResults[Command]:
        """Every SKU in stock and order 1 placed and authorized, so that every command has
        something to act on; order 2 is left to the rules, which may place it or not."""
        order_id = UUID(int=ORDERS[0])
        restocks = [RestockSku(command_id=self.next_id(), sku=sku, quantity=quantity) for sku in SKUS]
        place = self.place_order(order_id, [(SKUS[0], 1)])
        authorize = AuthorizePayment(
            command_id=self.next_id(), order_id=order_id, amount=amount, token=VAULT.seal(OWNER, "tok_ok")
        )
        return multiple(*(self.first_send(command, 1) for command in [*restocks, place, authorize]))

    @rule(target=sent, sku=SKU, quantity=QUANTITY, copies=COPIES)
    def restock(self, sku: str, quantity: int, copies: int) -> Command:
        return self.first_send(RestockSku(command_id=self.next_id(), sku=sku, quantity=quantity), copies)

    @rule(target=sent, order=ORDER, lines=LINES, copies=COPIES)
    def reserve(self, order: int, lines: list[tuple[str, int]], copies: int) -> Command:
        command = ReserveStock(command_id=self.next_id(), order_id=UUID(int=order), lines=tuple(lines))
        return self.first_send(command, copies)

    @rule(target=sent, order=ORDER, sku=SKU, copies=COPIES)
    def release(self, order: int, sku: str, copies: int) -> Command:
        command = ReleaseStock(command_id=self.next_id(), order_id=UUID(int=order), skus=(sku,))
        return self.first_send(command, copies)

    @rule(target=sent, order=ORDER, sku=SKU, copies=COPIES)
    def ship(self, order: int, sku: str, copies: int) -> Command:
        command = ShipStock(command_id=self.next_id(), order_id=UUID(int=order), skus=(sku,))
        return self.first_send(command, copies)

    @rule(target=sent, order=ORDER, lines=LINES, copies=COPIES)
    def place(self, order: int, lines: list[tuple[str, int]], copies: int) -> Command:
        return self.first_send(self.place_order(UUID(int=order), lines), copies)

    @rule(target=sent, order=ORDER, step=st.sampled_from(PROGRESS[1:4]), copies=COPIES)
    def advance(self, order: int, step: OrderStatus, copies: int) -> Command:
        command = AdvanceOrder(command_id=self.next_id(), order_id=UUID(int=order), step=step)
        return self.first_send(command, copies)

    @rule(target=sent, order=ORDER, copies=COPIES)
    def cancel(self, order: int, copies: int) -> Command:
        command = CancelOrder(command_id=self.next_id(), order_id=UUID(int=order), reason="changed mind")
        return self.first_send(command, copies)

    @rule(
        target=sent,
        order=ORDER,
        amount=AMOUNT,
        token=st.sampled_from(("tok_ok", "tok_decline")),
        copies=COPIES,
    )
    def authorize(self, order: int, amount: Money, token: str, copies: int) -> Command:
        command = AuthorizePayment(
            command_id=self.next_id(),
            order_id=UUID(int=order),
            amount=amount,
            token=VAULT.seal(OWNER, token),
        )
        return self.first_send(command, copies)

    @rule(target=sent, order=ORDER, copies=COPIES)
    def capture(self, order: int, copies: int) -> Command:
        return self.first_send(CapturePayment(command_id=self.next_id(), order_id=UUID(int=order)), copies)

    @rule(target=sent, order=ORDER, copies=COPIES)
    def void(self, order: int, copies: int) -> Command:
        return self.first_send(VoidPayment(command_id=self.next_id(), order_id=UUID(int=order)), copies)

    @rule(target=sent, order=ORDER, amount=REFUND, copies=COPIES)
    def refund(self, order: int, amount: Money, copies: int) -> Command:
        command = RefundPayment(command_id=self.next_id(), order_id=UUID(int=order), amount=amount)
        return self.first_send(command, copies)

    @rule()
    def duplicate(self) -> None:
        """The command just sent, at once again: a client retrying after a lost answer."""
        assert self.last is not None, "open_the_shop sends commands before any rule runs"
        self.deliver(self.last, 1)

    @rule(command=sent)
    def redeliver(self, command: Command) -> None:
        """Any earlier command, later and out of order: a broker redelivering."""
        self.deliver(command, 1)

    @rule(command=sent, copies=st.integers(2, MAX_COPIES))
    def replay_concurrently(self, command: Command, copies: int) -> None:
        """Copies of an earlier command from several threads at once."""
        self.deliver(command, copies)

    @invariant()
    def state_equals_the_deduplicated_sequence(self) -> None:
        tested, reference = self.tested.observed(), self.reference.observed()
        differing = {key: (tested[key], reference[key]) for key in tested if tested[key] != reference[key]}
        assert not differing, f"(tested, reference) differ in {differing}"

    def teardown(self) -> None:
        self.threads.shutdown()
        self.tested.system.close()
        self.reference.system.close()


TestCommandLayer = CommandLayer.TestCase
