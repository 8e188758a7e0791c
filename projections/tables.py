"""Creating a projection's tables, building them afresh beside the live ones and swapping
them in, and the lock that keeps a rebuild whole.

Every live batch takes a shared advisory lock for its projection inside its transaction and
a rebuild takes the exclusive one inside its own, so projectors pause while a projection is
rebuilt and then carry on against the rebuilt tables: what they deliver again is skipped as
a duplicate, and nothing they applied before is lost, because the rebuild read the topics to
their end only after every earlier batch had committed.

A rebuild writes new tables in a schema of their own (`stage`), first on its search path,
while readers go on reading the live ones; at the end of its transaction the new tables
replace the old (`swap`). A reader sees the old tables until the rebuild commits and the new
ones after, and waits for nothing longer than the swap.
"""

from dataclasses import dataclass
from typing import Any

from psycopg import Cursor, sql

from infrastructure.database import DDL_LOCK_KEY, connect, ensure_schema
from infrastructure.settings import Settings
from projections import dead_letters, positions, stats
from projections.projection import Projection

BOOKKEEPING_DDL = positions.DDL + dead_letters.DDL + stats.DDL
BOOKKEEPING_TABLES = positions.TABLES + dead_letters.TABLES + stats.TABLES


def ensure(settings: Settings, projection: Projection | None = None) -> None:
    """Create the bookkeeping tables and the projection's own, if missing. Serialised by the
    same lock as the event store's DDL: concurrent CREATE ... IF NOT EXISTS can still collide."""
    own = tuple(table.ddl for table in projection.tables) if projection else ()
    ensure_schema(settings)
    with connect(settings, autocommit=True) as conn, conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
        for statement in BOOKKEEPING_DDL + own:
            cursor.execute(statement)


@dataclass(frozen=True)
class Staged:
    """A projection's tables being built: in `schema`, to replace those in `live` (the schema
    the connection's unqualified names resolve to)."""

    live: str
    schema: str


def stage(cursor: Cursor[Any], projection: Projection) -> Staged:
    """Create the projection's tables empty in a schema of their own, put it first on the
    search path for the rest of the transaction, and forget the projection's versions, parked
    events, dead letters and counters: from here on the projection has seen nothing, and what
    it applies goes to the new tables, its bookkeeping to the live schema."""
    row = cursor.execute("SELECT current_schema(), current_setting('search_path')").fetchone()
    assert row is not None
    live, search_path = row
    staged = Staged(live, f"{live}_rebuild_{projection.name}")
    cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staged.schema)))
    # is_local: back to the connection's own search path when the transaction ends
    cursor.execute(
        "SELECT set_config('search_path', quote_ident(%s) || ', ' || %s, true)", (staged.schema, search_path)
    )
    for table in projection.tables:
        cursor.execute(table.ddl)
    for name in BOOKKEEPING_TABLES:
        query = sql.SQL("DELETE FROM {} WHERE projection = %s").format(sql.Identifier(name))
        cursor.execute(query, (projection.name,))
    return staged


def swap(cursor: Cursor[Any], staged: Staged, projection: Projection) -> None:
    """Put the staged tables in place of the live ones. Their indexes and sequences move with
    them under the same names, which the old tables, dropped first, give up."""
    for table in projection.tables:
        live, new = sql.Identifier(staged.live, table.name), sql.Identifier(staged.schema, table.name)
        cursor.execute(sql.SQL("DROP TABLE {}").format(live))
        cursor.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(new, sql.Identifier(staged.live)))
    cursor.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(staged.schema)))


def lock_for_batch(cursor: Cursor[Any], settings: Settings, projection: Projection) -> None:
    cursor.execute(
        "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))", (_lock_name(settings, projection),)
    )


def lock_for_rebuild(cursor: Cursor[Any], settings: Settings, projection: Projection) -> None:
    cursor.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_lock_name(settings, projection),)
    )


def _lock_name(settings: Settings, projection: Projection) -> str:
    # Advisory locks are per database; the schema keeps tests on one server apart.
    return f"projection:{settings.postgres_schema}:{projection.name}"
