"""Creating and resetting a projection's tables, and the lock that keeps a rebuild whole.

Every live batch takes a shared advisory lock for its projection inside its transaction and
a rebuild takes the exclusive one inside its own, so projectors pause while a projection is
rebuilt and then carry on against the rebuilt tables: what they deliver again is skipped as
a duplicate, and nothing they applied before is lost, because the rebuild read the topics to
their end only after every earlier batch had committed.
"""

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


def reset(cursor: Cursor[Any], projection: Projection) -> None:
    """Drop and recreate the projection's tables and forget its versions, parked events, dead
    letters and counters: the state of a projection that has seen nothing."""
    for table in projection.tables:
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table.name)))
        cursor.execute(table.ddl)
    for name in BOOKKEEPING_TABLES:
        query = sql.SQL("DELETE FROM {} WHERE projection = %s").format(sql.Identifier(name))
        cursor.execute(query, (projection.name,))


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
