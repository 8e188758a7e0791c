"""The processes of `orders run` start together and each makes sure its schema exists: none
may fail because another created it a moment earlier (without the lock, 15 of 20 rounds of
eight at once failed here with a unique violation)."""

import threading
import uuid

import psycopg
import pytest
from psycopg import sql

from infrastructure.database import ensure_schema
from infrastructure.settings import Settings

pytestmark = pytest.mark.integration
AT_ONCE = 8


def test_eight_processes_making_sure_of_one_new_schema_at_once_all_succeed(settings: Settings) -> None:
    assert settings.database_url
    for _ in range(5):
        schema = f"race_{uuid.uuid4().hex[:12]}"
        failures = race(settings.replace(postgres_schema=schema))
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(schema)))
        assert not failures, failures[0]


def race(settings: Settings) -> list[psycopg.Error]:
    failures: list[psycopg.Error] = []
    start = threading.Barrier(AT_ONCE)

    def make_sure() -> None:
        start.wait()
        try:
            ensure_schema(settings)
        except psycopg.Error as error:
            failures.append(error)

    threads = [threading.Thread(target=make_sure) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures
