"""Plain psycopg connections for the components that keep their own tables (relay positions,
read models, saga state), placed in the same schema as the event store."""

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from infrastructure.settings import Settings

# One advisory lock for every CREATE ... IF NOT EXISTS: run concurrently by several processes,
# they fail with "tuple concurrently updated".
DDL_LOCK_KEY = 4_711_001


def connect(settings: Settings, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection whose unqualified table names resolve in `settings.postgres_schema`."""
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set (run `orders dev up` and source .devstack/env)")
    options = f"-c search_path={settings.postgres_schema}" if settings.postgres_schema else ""
    return psycopg.connect(settings.database_url, autocommit=autocommit, options=options)


def ensure_schema(settings: Settings) -> None:
    """Create the settings' schema if it is missing. `IF NOT EXISTS` is no guard against a
    race: when the processes of `orders run` start together, two may both find it missing, and
    the second insert into the catalogue fails with a unique violation. A transaction-scoped
    advisory lock on the schema's name takes them one at a time."""
    if settings.database_url and settings.postgres_schema:
        with psycopg.connect(settings.database_url) as conn, conn.transaction():
            name = f"schema:{settings.postgres_schema}"
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.postgres_schema))
            )


def pool(settings: Settings, max_connections: int, min_connections: int = 1) -> ConnectionPool:
    """Autocommit connections on `settings`, kept open and shared by the threads of a process:
    each new connection costs PostgreSQL a backend process, too much to pay per request.
    Connections beyond `min_connections` are closed after a minute without use."""
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set (run `orders dev up` and source .devstack/env)")
    options = f"-c search_path={settings.postgres_schema}" if settings.postgres_schema else ""
    return ConnectionPool(
        settings.database_url,
        min_size=min_connections,
        max_size=max_connections,
        max_idle=60.0,
        kwargs={"autocommit": True, "options": options},
        open=True,
    )


def pool_with_tables(
    settings: Settings, statements: Sequence[sql.Composed], max_connections: int
) -> ConnectionPool:
    """An autocommit connection pool on `settings`, after running `statements` (CREATE ... IF
    NOT EXISTS) under the advisory lock that keeps concurrent DDL from failing."""
    ensure_schema(settings)
    pool_ = pool(settings, max_connections)
    with pool_.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
        for statement in statements:
            conn.execute(statement)
    return pool_
