"""The payment provider simulator's ledger: every operation it performed, in PostgreSQL.

It is the provider's own record, in a schema of its own ("psp" by default), so "no double
charge" is checked against what the provider did rather than what the payments context
believes: `orders check` reads `psp.operations` with plain SQL. One row per idempotency key
(the primary key), so concurrent and repeated requests under one key charge once; the
webhooks announcing an approved operation are queued in the same transaction.

A capture, void or refund is decided by `rules.py` while the authorization's row is locked
(SELECT ... FOR UPDATE), so follow-ups of one authorization are decided one at a time: a
capture and a void racing under different keys cannot both be approved. A refused one is
recorded with status "refused" and the problem it was answered with: it moves no money and
sends no webhook, but it is its key's answer, so a retry is refused the same way. A follow-up
naming no approved authorization (404) records nothing.
"""

import uuid
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import psycopg
from psycopg import sql

from domain.money import Money
from infrastructure.database import pool
from infrastructure.settings import Settings
from infrastructure.simulators import keys
from infrastructure.simulators.psp import rules, tokens, webhooks
from infrastructure.simulators.psp.tables import AUTHORIZE, DDL, FAIL_FIRST, FOLLOW_UP, FOLLOWED, HOLD


@dataclass(frozen=True)
class Operation:
    """What the provider did under one idempotency key. A refused follow-up is recorded too,
    so that a retry under its key is refused the same way; it moves no money, and readers of
    the ledger (`orders check`) count approved rows only."""

    idempotency_key: str
    operation: str  # authorize, capture, void, refund
    order_id: str
    amount_cents: int
    currency: str
    status: Literal["approved", "declined", "refused"]
    reference: str
    reason: str
    authorization_ref: str  # what a capture, void or refund named; empty for an authorization
    refusal: str  # the problem a refused operation is answered with (`problems.BY_NAME`)
    correlation_id: str  # what the request that made it sent in X-Correlation-ID, if anything


Answer = keys.Answered[Operation]


class FailedBeforeChargeError(Exception):
    """The simulated server error of tok_error_before_charge: nothing was recorded."""


class UnknownAuthorizationError(Exception):
    """A capture, void or refund named no approved authorization."""


class PspLedger:
    def __init__(self, settings: Settings, schema: str = "psp", sends_webhooks: bool = False) -> None:
        keys.create_tables(settings, schema, DDL)
        self.settings = settings
        self._pool = pool(settings, max_connections=8, min_connections=0)
        self.schema = schema
        self.sends_webhooks = sends_webhooks
        self._operations = keys.KeyedTable(
            schema, "operations", [f.name for f in fields(Operation)], Operation
        )

    def authorize(
        self, key: str, *, order_id: str, amount: Money, token: str, correlation_id: str = ""
    ) -> Answer:
        if token == tokens.ERROR_BEFORE_CHARGE and self._fails_first(key):
            raise FailedBeforeChargeError(f"authorize {key}: simulated server error, nothing charged")
        reason = tokens.decline_reason(token)
        decided = {
            "status": "approved" if reason is None else "declined",
            "reason": reason or "",
            "lose": 1 if token == tokens.TIMEOUT_AFTER_CHARGE else 0,
        }
        request = {"order_id": order_id, "token": token, **_money(amount)}
        return self._authorized(key, request, {**decided, "correlation_id": correlation_id})

    def capture(self, key: str, *, authorization: str, amount: Money, correlation_id: str = "") -> Answer:
        return self._follow_up(key, "capture", authorization, amount, correlation_id)

    def void(self, key: str, *, authorization: str, correlation_id: str = "") -> Answer:
        return self._follow_up(key, "void", authorization, None, correlation_id)

    def refund(self, key: str, *, authorization: str, amount: Money, correlation_id: str = "") -> Answer:
        return self._follow_up(key, "refund", authorization, amount, correlation_id)

    def charges(self, order_id: str) -> list[Operation]:
        """Every operation filed under the order, approved or not, oldest first."""
        with self._pool.connection() as conn:
            return self._operations.all(conn, "order_id = %s", order_id)

    def _fails_first(self, key: str) -> bool:
        failed = sql.Identifier(self.schema, "failed_requests")
        query = sql.SQL(FAIL_FIRST).format(failed=failed, table=self._operations.table)
        with self._pool.connection() as conn:
            return conn.execute(query, {"key": key}).fetchone() is not None

    def _follow_up(
        self, key: str, operation: str, authorization: str, amount: Money | None, correlation_id: str
    ) -> Answer:
        """Decide under a lock on the authorization's row: of two follow-ups racing under
        different keys, the second sees what the first did. A repeat under the key is answered
        from its row, before the rules are asked again."""
        request = {"authorization": authorization, **_money(amount)}
        fingerprint = keys.fingerprint({"operation": operation, **request})
        with self._pool.connection() as conn, conn.transaction():
            held = conn.execute(self._sql(HOLD), (authorization,)).fetchone()
            if held is None:
                raise UnknownAuthorizationError(
                    f"{operation} {key}: no approved authorization {authorization!r}"
                )
            order_id, authorized_cents, currency = held
            answered = self._operations.answer(conn, key, fingerprint, inserted=False)
            if answered is not None:
                return answered
            followed = conn.execute(self._sql(FOLLOWED), (authorization,)).fetchall()
            refused = rules.refusal(
                operation,
                rules.Held.of(authorized_cents, currency, followed),
                request["cents"],
                request["currency"],
            )
            params = {
                **request,
                "key": key,
                "operation": operation,
                "order_id": order_id,
                "currency": request["currency"] or currency,
                "status": "refused" if refused else "approved",
                "reason": refused.detail if refused else "",
                "refusal": refused.problem.name if refused else "",
                "reference": f"{operation}_{uuid.uuid4().hex[:16]}",
                "fingerprint": fingerprint,
                "correlation_id": correlation_id,
            }
            return self._recorded(conn, key, FOLLOW_UP, params)

    def _authorized(self, key: str, request: dict[str, Any], decided: dict[str, Any]) -> Answer:
        """Insert the authorization unless the key has one, then answer from the key's row."""
        fingerprint = keys.fingerprint({"operation": "authorize", **request})
        params = {**request, **decided, "key": key, "fingerprint": fingerprint}
        params["reference"] = f"authorize_{uuid.uuid4().hex[:16]}"
        with self._pool.connection() as conn, conn.transaction():
            return self._recorded(conn, key, AUTHORIZE, params)

    def _recorded(
        self, conn: psycopg.Connection[Any], key: str, insert: str, params: dict[str, Any]
    ) -> Answer:
        """Insert the row (unless the key has one) and answer from the key's row; an approved
        new operation queues its webhooks in the same transaction."""
        inserted = self._operations.insert(conn, insert, params)
        answer = self._operations.answer(conn, key, params["fingerprint"], inserted)
        assert answer is not None, "the row was inserted or already there"
        if inserted and answer.done.status == "approved" and self.sends_webhooks:
            webhooks.enqueue(conn, self.schema, asdict(answer.done))
        return answer

    def _sql(self, statement: str) -> sql.Composed:
        return sql.SQL(statement).format(table=self._operations.table)


def _money(amount: Money | None) -> dict[str, Any]:
    """No amount (a void): nothing moves, in the authorization's currency."""
    return {"cents": amount.cents if amount else 0, "currency": amount.currency if amount else None}
