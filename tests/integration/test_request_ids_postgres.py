"""On PostgreSQL, the idempotency store keeps the id of the request that executed each key, for
an operator to find its log lines and events; a table made before it kept them gains the
column when a store starts on it. `orders api`, a real process here, writes its log lines, its
access lines and uvicorn's alike, as JSON, each naming its request."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from support.api import key, order_body
from support.api_process import serving
from support.idempotency_store import LONG, scope
from support.isolation import isolated_settings

from infrastructure.idempotency_store import PostgresIdempotencyStore
from infrastructure.settings import Settings

pytestmark = pytest.mark.integration

OLD_TABLE = """CREATE TABLE {} (
    tenant text NOT NULL, method text NOT NULL, route text NOT NULL, key text NOT NULL,
    fingerprint text NOT NULL, token text NOT NULL, lease_until timestamptz NOT NULL,
    expires_at timestamptz NOT NULL, status smallint, headers jsonb, body bytea,
    PRIMARY KEY (tenant, method, route, key))"""
OLD_CLAIM = """INSERT INTO {} (tenant, method, route, key, fingerprint, token, lease_until, expires_at)
    VALUES (%s, %s, %s, %s, 'fp', 'old', now() + interval '1 hour', now() + interval '1 hour')"""


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    with isolated_settings(database_url) as settings:
        yield settings


def rows(settings: Settings, key: str) -> list[tuple[Any, ...]]:
    table = sql.Identifier(settings.postgres_schema, "api_idempotency")
    with psycopg.connect(settings.database_url or "") as conn:
        return conn.execute(
            sql.SQL("SELECT request_id FROM {} WHERE key = %s").format(table), (key,)
        ).fetchall()


def test_orders_api_keeps_the_request_that_executed_a_key_and_logs_each_request_as_json(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "api.log"
    sent = {"Idempotency-Key": key(), "X-Request-ID": "req-first"}
    with serving(database_url, log) as api, api.client() as client:
        client.post("/v1/inventory/SKU-1/restock", json={"quantity": 5}, headers={"Idempotency-Key": key()})
        first = client.post("/v1/orders", json=order_body("SKU-1"), headers=sent)
        replay = client.post(
            "/v1/orders", json=order_body("SKU-1"), headers=sent | {"X-Request-ID": "req-again"}
        )
        kept = rows(api.settings, sent["Idempotency-Key"])

    assert (first.status_code, replay.headers["idempotent-replayed"]) == (201, "true")
    assert kept == [("req-first",)]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = {line["request_id"]: line for line in lines if line["logger"] == "services.api.request_ids"}
    assert {name: (access[name]["route"], access[name]["status"]) for name in ("req-first", "req-again")} == {
        "req-first": ("/v1/orders", 201),
        "req-again": ("/v1/orders", 201),
    }
    assert {line["process"] for line in lines} == {"api"}
    assert any(line["logger"] == "uvicorn.error" for line in lines)  # uvicorn's own lines, as JSON too


def test_a_table_from_before_request_ids_gains_the_column_and_keeps_its_rows(settings: Settings) -> None:
    old = scope()
    table = sql.Identifier(settings.postgres_schema, "api_idempotency")
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(settings.postgres_schema)))
        conn.execute(sql.SQL(OLD_TABLE).format(table))
        conn.execute(sql.SQL(OLD_CLAIM).format(table), old)

    store = PostgresIdempotencyStore(settings)
    try:
        new = scope()
        assert store.claim(new, "fp", "new", LONG, LONG, request_id="req-new") is None
        held = store.claim(old, "fp", "late", LONG, LONG, request_id="req-late")
    finally:
        store.close()

    assert held is not None and (held.fingerprint, held.response) == ("fp", None)  # still the old claim's
    assert (rows(settings, old.key), rows(settings, new.key)) == ([("",)], [("req-new",)])
