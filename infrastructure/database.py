"""Plain psycopg connections for the components that keep their own tables (relay positions,
read models, saga state), placed in the same schema as the event store."""

from typing import Any

import psycopg
from psycopg import sql

from infrastructure.settings import Settings


def connect(settings: Settings, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection whose unqualified table names resolve in `settings.postgres_schema`."""
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set (run `orders dev up` and source .devstack/env)")
    options = f"-c search_path={settings.postgres_schema}" if settings.postgres_schema else ""
    return psycopg.connect(settings.database_url, autocommit=autocommit, options=options)


def ensure_schema(settings: Settings) -> None:
    if settings.database_url and settings.postgres_schema:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.postgres_schema))
            )
