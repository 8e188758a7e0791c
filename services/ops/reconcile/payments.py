"""The payments store against the provider's word: the webhooks the API received, and the
provider's own ledger where it can be read (`psp.operations`, as `orders check` reads it).

Every approved operation the provider tells of, under its idempotency key (`<payment id>:
<operation>`, the call id the payments context sent), must be one the store recorded, for the
same amount; and every operation the store recorded must be one the provider tells of. Either
side may be ahead for a moment: the provider charges before the gateway records its answer,
and it announces the charge by a webhook that may still be in flight. So only a record older
than the grace period counts. Without a ledger, webhooks are the provider's only word, and
they are kept for their retry horizon only: an older operation of the store is not compared.

A webhook announcing an operation the payment is still waiting for (its intent recorded,
`capturing` say, with the same amount) is an answer the gateway missed: `--repair` records
it with `RecordProviderAnswer`, under a command id derived from the webhook's event id, so a
second repair is answered from the command log. Anything else needs a person.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.ids import caused_command_id, payment_id
from domain.orders import Order
from domain.payments import Payment, PaymentStatus, RecordProviderAnswer
from infrastructure.webhook_store import RETRY_HORIZON
from services.contexts.payments.service import PaymentsService
from services.ops.check import store
from services.ops.check.invariants import Holdings
from services.ops.reconcile.differences import Compared, Difference

OPERATIONS = {  # webhook type -> the operation it announces
    "payment.authorized": "authorize",
    "payment.captured": "capture",
    "payment.voided": "void",
    "payment.refunded": "refund",
}
DONE = {"authorize": "authorized", "capture": "captured", "void": "voided", "refund": "refunded"}
WAITING = {  # an operation -> the status of a payment that asked for it and awaits the answer
    "authorize": PaymentStatus.REQUESTED,
    "capture": PaymentStatus.CAPTURING,
    "void": PaymentStatus.VOIDING,
}


@dataclass(frozen=True)
class Said:
    """One approved operation as the provider tells of it."""

    key: str  # the idempotency key the payments context sent: the call id
    operation: str
    order_id: str
    cents: int | None  # None: the webhook did not say
    reference: str  # the provider's id of the operation
    at: datetime
    webhook: str = ""  # the event id of the webhook that announced it; "": only the ledger tells

    @property
    def source(self) -> str:
        return "announced by webhook" if self.webhook else "in its ledger"


@dataclass(frozen=True)
class Done:
    """One operation the payments store recorded as done."""

    key: str
    operation: str
    order_id: UUID
    cents: int
    at: datetime  # the payment's last change: no earlier than this operation's


def received(conn: Connection[Any]) -> list[Said]:
    """The webhooks the API recorded (`infrastructure/webhook_store.py`), as the provider said them."""
    if not store.exists(conn, "psp_webhooks"):
        return []
    query = (
        "SELECT event_id, type, idempotency_key, reference, order_id, received_at, payload FROM psp_webhooks"
    )
    return [
        Said(key, OPERATIONS[kind], order_id, _cents(payload), reference, at, event_id)
        for event_id, kind, key, reference, order_id, at, payload in conn.execute(query).fetchall()
        if kind in OPERATIONS
    ]


def compare(
    holdings: Holdings, webhooks: Sequence[Said], payments: PaymentsService, now: datetime, grace: timedelta
) -> Compared:
    orders = {str(order.id): order for order in holdings.orders}
    told = _told(holdings, webhooks, orders)
    done = {d.key: d for payment in holdings.payments.values() for d in _done(payment, payments)}
    found = []
    for key, tellings in told.items():
        recorded = done.get(key)
        if recorded is None:
            if any(now - telling.at >= grace for telling in tellings):
                announced = next((t for t in tellings if t.webhook), tellings[0])  # a webhook can repair
                found.append(_unknown(announced, orders.get(announced.order_id), holdings.payments))
            continue
        for telling in tellings:
            if telling.cents is not None and telling.cents != recorded.cents:
                what = (
                    f"the provider {DONE[telling.operation]} {telling.cents} cents ({telling.source}),"
                    f" the payments store {recorded.cents}"
                )
                found.append(Difference("payment", _ids(telling.order_id, key, telling.webhook), what))
                break
    ledger = holdings.provider is not None
    for key, recorded in done.items():
        age = now - recorded.at
        if key not in told and age >= grace and (ledger or age < RETRY_HORIZON):
            what = (
                f"the payments store has it {DONE[recorded.operation]} ({recorded.cents} cents);"
                " the provider never told of it"
            )
            found.append(Difference("payment", _ids(str(recorded.order_id), key), what))
    note = (
        "" if ledger else f"no provider ledger to read: compared with the webhooks only, for {RETRY_HORIZON}"
    )
    return Compared("payments", len(holdings.payments), found, note)


def _told(holdings: Holdings, webhooks: Sequence[Said], orders: Mapping[str, Order]) -> dict[str, list[Said]]:
    """What the provider tells of each key: its ledger's approved operation, and the webhooks
    announcing it (which carry the event id a repair derives its command id from)."""
    order_of = {str(payment_id(order.id)): order_id for order_id, order in orders.items()}
    told: dict[str, list[Said]] = defaultdict(list)
    for op in holdings.provider or ():
        if op.status == "approved":
            told[op.key].append(
                Said(op.key, op.operation, order_of[op.payment_id], op.cents, op.reference, op.recorded_at)
            )
    for webhook in webhooks:
        told[webhook.key].append(webhook)
    return told


def _done(payment: Payment, payments: PaymentsService) -> list[Done]:
    """What the store says the provider did for `payment`. Refunds are read from its events:
    the aggregate keeps only those still under way."""
    key, order_id, at = f"{payment.id}:", UUID(payment.order_id), payment.modified_on
    done = []
    if payment.status not in (PaymentStatus.REQUESTED, PaymentStatus.DECLINED):
        done.append(Done(key + "authorize", "authorize", order_id, payment.amount.cents, at))
    if payment.captured.cents:
        done.append(Done(key + "capture", "capture", order_id, payment.captured.cents, at))
    if payment.status is PaymentStatus.VOIDED:
        done.append(Done(key + "void", "void", order_id, 0, at))
    if payment.refunded.cents:
        refunds = [e for e in payments.events.get(payment.id) if isinstance(e, Payment.Refunded)]
        done += [Done(e.call_id, "refund", order_id, e.amount.cents, at) for e in refunds]
    return done


def _unknown(told: Said, order: Order | None, payments: Mapping[UUID, Payment]) -> Difference:
    money = f" {told.cents} cents" if told.cents is not None else ""
    what = f"the provider {DONE[told.operation]}{money} ({told.source}); the payments store does not know it"
    if order is None:
        what += ", nor the orders store its order"
        return Difference("payment", _ids(told.order_id, told.key, told.webhook), what)
    payment = payments.get(order.id)
    return Difference("payment", _ids(told.order_id, told.key, told.webhook), what, _answer(told, payment))


def _answer(told: Said, payment: Payment | None) -> RecordProviderAnswer | None:
    """The command recording what the webhook announced, if the payment awaits just that, for
    that amount; None otherwise, and without a webhook, whose event id makes the command's."""
    if payment is None or not told.webhook:
        return None
    if told.operation == "refund":
        asked = payment.refunds.get(told.key)
        awaited = asked.cents if asked else None
    elif payment.status is WAITING[told.operation]:
        awaited = 0 if told.operation == "void" else payment.amount.cents
    else:
        awaited = None
    if awaited is None or told.cents != awaited:
        return None
    return RecordProviderAnswer(
        command_id=caused_command_id(told.webhook, RecordProviderAnswer.__name__),
        causation_id=told.webhook,
        order_id=UUID(payment.order_id),
        call_id=told.key,
        operation=told.operation,
        status="approved",
        reference=told.reference,
    )


def _ids(order_id: str, key: str, webhook: str = "") -> dict[str, str]:
    ids = {"order_id": order_id, "payment_id": key.partition(":")[0], "key": key}
    return {**ids, "webhook": webhook} if webhook else ids


def _cents(payload: Mapping[str, Any]) -> int | None:
    cents = (payload.get("data") or {}).get("amount_cents")
    return cents if isinstance(cents, int) and not isinstance(cents, bool) else None
