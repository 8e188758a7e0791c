"""A payment provider simulator whose ledger lives in PostgreSQL, in a schema of its own.

Unlike the in-memory fake, any process can read what it charged, so `orders check` can
verify "no double charge" at the provider, not from the payments context's own records.
It honours its own idempotency keys atomically (primary key on the key), and its test
tokens make the failures that matter reproducible:

  tok_ok                    approved
  tok_decline...            authorization declined
  tok_timeout_after_charge  the authorization is recorded, then the first answer is lost
"""

import uuid
from typing import Any

from psycopg import sql

from domain.money import Money
from domain.ports import ProviderReply, ProviderTimeoutError
from infrastructure.database import connect
from infrastructure.settings import Settings

DDL = """
CREATE TABLE IF NOT EXISTS {schema}.operations (
    idempotency_key text PRIMARY KEY,
    operation text NOT NULL,
    amount_cents bigint NOT NULL,
    status text NOT NULL,
    reference text NOT NULL,
    reason text NOT NULL DEFAULT '',
    answers_to_lose int NOT NULL DEFAULT 0,
    recorded_at timestamptz NOT NULL DEFAULT now())
"""


class LedgerPaymentProvider:
    def __init__(self, settings: Settings, schema: str = "psp") -> None:
        self.settings = settings
        self.schema = sql.Identifier(schema)
        with connect(settings, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(self.schema))
            conn.execute(sql.SQL(DDL).format(schema=self.schema))

    def authorize(self, *, idempotency_key: str, amount: Money, token: str) -> ProviderReply:
        declined = token.startswith("tok_decline")
        return self._once(
            idempotency_key,
            "authorize",
            0 if declined else amount.cents,
            "declined" if declined else "approved",
            answers_to_lose=1 if token == "tok_timeout_after_charge" else 0,
        )

    def capture(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        return self._once(idempotency_key, "capture", amount.cents)

    def void(self, *, idempotency_key: str, reference: str) -> ProviderReply:
        return self._once(idempotency_key, "void", 0)

    def refund(self, *, idempotency_key: str, reference: str, amount: Money) -> ProviderReply:
        return self._once(idempotency_key, "refund", amount.cents)

    def operations(self, operation: str) -> list[tuple[str, int]]:
        """(key, cents) of every approved operation of this kind: what really happened."""
        query = sql.SQL(
            "SELECT idempotency_key, amount_cents FROM {}.operations "
            "WHERE operation = %s AND status = 'approved' ORDER BY recorded_at"
        ).format(self.schema)
        with connect(self.settings) as conn:
            return [(key, cents) for key, cents in conn.execute(query, (operation,)).fetchall()]

    def _once(
        self, key: str, operation: str, cents: int, status: str = "approved", answers_to_lose: int = 0
    ) -> ProviderReply:
        insert = sql.SQL(
            "INSERT INTO {}.operations (idempotency_key, operation, amount_cents, status, reference,"
            " reason, answers_to_lose) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (idempotency_key) DO NOTHING"
        ).format(self.schema)
        select = sql.SQL(
            "SELECT status, reference, reason, answers_to_lose FROM {}.operations"
            " WHERE idempotency_key = %s FOR UPDATE"
        ).format(self.schema)
        lose = sql.SQL(
            "UPDATE {}.operations SET answers_to_lose = answers_to_lose - 1 WHERE idempotency_key = %s"
        ).format(self.schema)
        reason = "card declined" if status == "declined" else ""
        with connect(self.settings) as conn, conn.transaction():
            conn.execute(
                insert,
                (
                    key,
                    operation,
                    cents,
                    status,
                    f"{operation}_{uuid.uuid4().hex[:12]}",
                    reason,
                    answers_to_lose,
                ),
            )
            row: Any = conn.execute(select, (key,)).fetchone()
            if row[3] > 0:
                conn.execute(lose, (key,))
        if row[3] > 0:  # the operation is recorded and committed; only its answer is lost
            raise ProviderTimeoutError(f"{operation} {key}: no answer")
        return ProviderReply(row[0], row[1], row[2])
