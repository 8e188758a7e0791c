"""`orders trace ORDER_ID`: one order's causal chain across the contexts, from PostgreSQL alone.

The request that placed the order (its correlation id is the request id the client sent),
the commands it issued and their outcomes in the command logs, each context's events and
whether its relay has published them, the saga's commands under the events that caused
them, the calls to the provider and the carrier under the commands that decided them with
every attempt under the call's key, the provider's webhooks, the compensations and the
deadlines. `store.py` reads the rows, `tree.py` hangs them on each other by their ids,
`render.py` shows them.

It reads, in one repeatable-read snapshot, and writes nothing: no broker, no process asked.
Like the check, it composes the system through the composition root, for the event stores'
tables and their decoding (events are encrypted at rest); since building creates what is
missing, a schema that does not exist is answered "no order" before anything is built.
"""

from typing import Any
from uuid import UUID

from psycopg import Connection, IsolationLevel
from psycopg.conninfo import conninfo_to_dict

from infrastructure.database import connect
from infrastructure.settings import Settings
from services.bootstrap import build
from services.ops.trace.render import as_json, as_tree
from services.ops.trace.store import OrderReader
from services.ops.trace.tree import Node, Trace
from services.ops.trace.tree import build as build_tree

__all__ = ["Node", "Trace", "UnknownOrderError", "as_json", "as_tree", "database_of", "trace_order"]


class UnknownOrderError(LookupError):
    """No order has the id asked for, in the database the settings name."""


def trace_order(settings: Settings, order_id: UUID) -> Trace:
    """The order's trace; `UnknownOrderError` if there is no such order, a psycopg error if the
    database cannot be reached."""
    unknown = UnknownOrderError(f"no order {order_id} in {database_of(settings)}")
    with connect(settings) as conn:
        if settings.postgres_schema and not _schema_exists(conn, settings.postgres_schema):
            raise unknown
    system = build(settings)
    try:
        with connect(settings) as conn:
            conn.isolation_level, conn.read_only = IsolationLevel.REPEATABLE_READ, True
            records = OrderReader(system, conn).read(order_id)
    finally:
        system.close()
    if records is None:
        raise unknown
    return build_tree(records)


def database_of(settings: Settings) -> str:
    """The database the settings name, as an operator would: never with its password."""
    params = conninfo_to_dict(settings.database_url or "")
    host, port = params.get("host", "localhost"), params.get("port", 5432)
    where = f"database {params.get('dbname', '?')} on {host}:{port}"
    return f"{where}, schema {settings.postgres_schema}" if settings.postgres_schema else where


def _schema_exists(conn: Connection[Any], schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None
