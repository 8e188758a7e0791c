"""The payment provider simulator's ledger: every operation it performed, in PostgreSQL.

It is the provider's own record, in a schema of its own ("psp" by default), so "no double
charge" is checked against what the provider did rather than what the payments context
believes: `orders check` reads `psp.operations` with plain SQL. One row per idempotency key
(the primary key), so concurrent and repeated requests under one key charge once; the
webhooks announcing an approved operation are queued in the same transaction.
"""

import uuid
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from psycopg import sql

from domain.money import Money
from infrastructure.database import connect
from infrastructure.settings import Settings
from infrastructure.simulators import keys
from infrastructure.simulators.psp import tokens, webhooks

DDL = [  # the defaults keep a row inserted by hand (a test's rogue charge) simple to write
    """CREATE TABLE IF NOT EXISTS {schema}.operations (
        idempotency_key text PRIMARY KEY,
        operation text NOT NULL,
        order_id text NOT NULL DEFAULT '',
        amount_cents bigint NOT NULL,
        currency text NOT NULL DEFAULT '',
        status text NOT NULL,
        reference text NOT NULL,
        reason text NOT NULL DEFAULT '',
        fingerprint text NOT NULL DEFAULT '',
        answers_to_lose int NOT NULL DEFAULT 0,
        recorded_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX IF NOT EXISTS operations_order_id ON {schema}.operations (order_id)",
    "CREATE INDEX IF NOT EXISTS operations_reference ON {schema}.operations (reference)",
    """CREATE TABLE IF NOT EXISTS {schema}.failed_requests (
        idempotency_key text PRIMARY KEY,
        failed_at timestamptz NOT NULL DEFAULT now())""",
    webhooks.DDL,
]
INSERT = (
    "INSERT INTO {table} (idempotency_key, operation, order_id, amount_cents, currency, status, reference,"
    " reason, fingerprint, answers_to_lose) "
)
CONFLICT = " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"
AUTHORIZE = INSERT + (
    "VALUES (%(key)s, 'authorize', %(order_id)s, %(cents)s, %(currency)s, %(status)s, %(reference)s,"
    " %(reason)s, %(fingerprint)s, %(lose)s)" + CONFLICT
)
FOLLOW_UP = INSERT + (  # capture, void, refund: of an approved authorization, for its order
    "SELECT %(key)s, %(operation)s, order_id, %(cents)s, coalesce(%(currency)s::text, currency),"
    " 'approved', %(reference)s, '', %(fingerprint)s, 0 FROM {table}"
    " WHERE reference = %(authorization)s AND operation = 'authorize' AND status = 'approved'" + CONFLICT
)
FAIL_FIRST = (  # one failure per key, and none once the key has an operation
    "INSERT INTO {failed} (idempotency_key) SELECT %(key)s"
    " WHERE NOT EXISTS (SELECT FROM {table} WHERE idempotency_key = %(key)s)"
    " ON CONFLICT DO NOTHING RETURNING idempotency_key"
)


@dataclass(frozen=True)
class Operation:
    """What the provider did under one idempotency key."""

    idempotency_key: str
    operation: str  # authorize, capture, void, refund
    order_id: str
    amount_cents: int
    currency: str
    status: Literal["approved", "declined"]
    reference: str
    reason: str


Answer = keys.Answered[Operation]


class FailedBeforeChargeError(Exception):
    """The simulated server error of tok_error_before_charge: nothing was recorded."""


class UnknownAuthorizationError(Exception):
    """A capture, void or refund named no approved authorization."""


class PspLedger:
    def __init__(self, settings: Settings, schema: str = "psp", sends_webhooks: bool = False) -> None:
        keys.create_tables(settings, schema, DDL)
        self.settings = settings
        self.schema = schema
        self.sends_webhooks = sends_webhooks
        self._operations = keys.KeyedTable(
            schema, "operations", [f.name for f in fields(Operation)], Operation
        )

    def authorize(self, key: str, *, order_id: str, amount: Money, token: str) -> Answer:
        if token == tokens.ERROR_BEFORE_CHARGE and self._fails_first(key):
            raise FailedBeforeChargeError(f"authorize {key}: simulated server error, nothing charged")
        reason = tokens.decline_reason(token)
        decided = {
            "status": "approved" if reason is None else "declined",
            "reason": reason or "",
            "lose": 1 if token == tokens.TIMEOUT_AFTER_CHARGE else 0,
        }
        request = {"order_id": order_id, "token": token, **_money(amount)}
        return self._record(key, "authorize", AUTHORIZE, request, decided)

    def capture(self, key: str, *, authorization: str, amount: Money) -> Answer:
        return self._follow_up(key, "capture", authorization, amount)

    def void(self, key: str, *, authorization: str) -> Answer:
        return self._follow_up(key, "void", authorization, None)

    def refund(self, key: str, *, authorization: str, amount: Money) -> Answer:
        return self._follow_up(key, "refund", authorization, amount)

    def charges(self, order_id: str) -> list[Operation]:
        """Every operation filed under the order, approved or not, oldest first."""
        with connect(self.settings) as conn:
            return self._operations.all(conn, "order_id = %s", order_id)

    def _fails_first(self, key: str) -> bool:
        failed = sql.Identifier(self.schema, "failed_requests")
        query = sql.SQL(FAIL_FIRST).format(failed=failed, table=self._operations.table)
        with connect(self.settings, autocommit=True) as conn:
            return conn.execute(query, {"key": key}).fetchone() is not None

    def _follow_up(self, key: str, operation: str, authorization: str, amount: Money | None) -> Answer:
        return self._record(key, operation, FOLLOW_UP, {"authorization": authorization, **_money(amount)})

    def _record(
        self,
        key: str,
        operation: str,
        insert: str,
        request: dict[str, Any],
        decided: dict[str, Any] | None = None,
    ) -> Answer:
        """Insert the operation unless the key has one, then answer from the key's row."""
        fingerprint = keys.fingerprint({"operation": operation, **request})
        reference = f"{operation}_{uuid.uuid4().hex[:16]}"
        params = {**request, **(decided or {}), "key": key, "operation": operation}
        params |= {"reference": reference, "fingerprint": fingerprint}
        with connect(self.settings) as conn, conn.transaction():
            inserted = self._operations.insert(conn, insert, params)
            answer = self._operations.answer(conn, key, fingerprint, inserted)
            if answer is None:
                named = request.get("authorization")
                raise UnknownAuthorizationError(f"{operation} {key}: no approved authorization {named!r}")
            if inserted and answer.done.status == "approved" and self.sends_webhooks:
                webhooks.enqueue(conn, self.schema, asdict(answer.done))
        return answer


def _money(amount: Money | None) -> dict[str, Any]:
    """No amount (a void): nothing moves, in the authorization's currency."""
    return {"cents": amount.cents if amount else 0, "currency": amount.currency if amount else None}
