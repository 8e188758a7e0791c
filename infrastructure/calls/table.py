"""The SQL of one context's call table, `<context>_calls`."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import Cursor
from psycopg.sql import SQL, Composable, Identifier

from domain.calls import Call

_COLUMNS = "call_id, operation, request, correlation_id, causation_id, attempts"


class CallTable:
    """The SQL of one context's call table; `schema` and `name` are identifiers."""

    def __init__(self, schema: str, name: str) -> None:
        self.name = name
        # Where a commit that adds calls sends its NOTIFY: per schema and table, and short
        # enough for PostgreSQL's 63-byte names whatever the schema is called.
        self.channel = "calls_" + hashlib.blake2b(f"{schema}.{name}".encode(), digest_size=12).hexdigest()
        table = SQL("{}.{}").format(Identifier(schema), Identifier(name)) if schema else Identifier(name)
        self.create: list[Composable] = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " call_id text PRIMARY KEY, operation text NOT NULL, request jsonb NOT NULL,"
                " correlation_id text NOT NULL, causation_id text NOT NULL,"
                " attempts integer NOT NULL DEFAULT 0, due_at timestamptz NOT NULL DEFAULT now(),"
                " leased_until timestamptz, last_error text NOT NULL DEFAULT '',"
                " state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'answered', 'parked')),"
                " created_at timestamptz NOT NULL DEFAULT now(), done_at timestamptz)"
            ).format(table),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (due_at) WHERE state = 'pending'").format(
                Identifier(f"{name}_due"), table
            ),
            # An order's calls, by the commands that decided them (`orders trace`).
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (causation_id)").format(
                Identifier(f"{name}_causation"), table
            ),
        ]
        self._insert = SQL(
            "INSERT INTO {} (call_id, operation, request, correlation_id, causation_id)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (call_id) DO NOTHING"
        ).format(table)
        # An answered call keeps no secret it was sent with (a card token): nothing asks it again.
        self._answered = SQL(
            "UPDATE {} SET state = 'answered', done_at = now(), leased_until = NULL,"
            " request = request - 'token' WHERE call_id = %s AND state <> 'answered'"
        ).format(table)
        self.claim = SQL(
            "UPDATE {0} SET attempts = attempts + 1, leased_until = now() + make_interval(secs => %s)"
            " WHERE call_id IN (SELECT call_id FROM {0} WHERE state = 'pending' AND due_at <= now()"
            " AND (leased_until IS NULL OR leased_until < now()) ORDER BY due_at LIMIT %s"
            f" FOR UPDATE SKIP LOCKED) RETURNING {_COLUMNS}"
        ).format(table)
        self.retry = SQL(
            "UPDATE {} SET due_at = now() + make_interval(secs => %s), leased_until = NULL,"
            " last_error = %s WHERE call_id = %s AND state = 'pending'"
        ).format(table)
        self.park = SQL(
            "UPDATE {} SET state = 'parked', done_at = now(), leased_until = NULL, last_error = %s"
            " WHERE call_id = %s AND state = 'pending'"
        ).format(table)
        self.unpark = SQL(
            "UPDATE {} SET state = 'pending', done_at = NULL, due_at = now(), attempts = 0"
            " WHERE call_id = %s AND state = 'parked' RETURNING call_id"
        ).format(table)
        self.pending = SQL("SELECT count(*) FROM {} WHERE state = 'pending'").format(table)
        self.decided_by = SQL(
            "SELECT call_id, operation, correlation_id, causation_id, state, attempts, last_error,"
            " created_at, done_at FROM {} WHERE causation_id = ANY(%s)"
        ).format(table)
        self.parked = SQL(
            f"SELECT {_COLUMNS}, last_error, done_at FROM {{}} WHERE state = 'parked' ORDER BY done_at"
        ).format(table)

    def write(self, cursor: Cursor[Any], calls: Sequence[Call], answered: Sequence[str]) -> None:
        """In the command's own transaction: its new calls, and the calls it answers."""
        for call in calls:
            params = (call.call_id, call.operation, json.dumps(call.request), call.correlation_id,
                      call.causation_id)  # fmt: skip
            cursor.execute(self._insert, params, prepare=True)
        for call_id in answered:
            cursor.execute(self._answered, (call_id,), prepare=True)
        if calls:
            cursor.execute("SELECT pg_notify(%s, '')", (self.channel,))


def call_of(row: Mapping[str, Any]) -> Call:
    """A claimed or listed row (the event store's connections return rows as dicts)."""
    fields = ("call_id", "operation", "request", "correlation_id", "causation_id", "attempts")
    return Call(*(row[name] for name in fields))
