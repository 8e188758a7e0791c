"""The API while its database is away, on PostgreSQL behind a proxy that cuts it off (the
database itself, shared with other tests, keeps running): a write, a read and /readyz are each
answered with a 503 problem and Retry-After, which name no cause. The write was cut off right
after its transaction's COMMIT reached the server: after the outage, its retry with the same
Idempotency-Key gets the order it placed, and there is one such order."""

import threading
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from support.api import ACME, API_KEYS, PROBLEM, WEBHOOK_SECRET, headers, key, order_body, restock
from support.isolation import isolated_settings, wait_until

from infrastructure.faults.tcp_proxy import TcpProxy
from infrastructure.idempotency_store import PostgresIdempotencyStore
from infrastructure.settings import Settings
from infrastructure.webhook_store import PostgresWebhookStore
from services.api import ApiConfig, create_app
from services.bootstrap import build

pytestmark = pytest.mark.integration

LEASE = timedelta(seconds=2)  # how long the cut-off request's claim holds its key afterwards


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    target = psycopg.conninfo.conninfo_to_dict(database_url)
    with TcpProxy(str(target.get("host") or "127.0.0.1"), int(target.get("port") or 5432)) as proxy:
        yield proxy


@pytest.fixture
def settings(database_url: str, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings on a schema of the test's own, through `proxy`. The event stores wait at most
    a second for a pooled connection (by default 30, and they retry 10 times), so that an
    answer during the outage comes within seconds."""
    persistence_env = Settings.persistence_env
    monkeypatch.setattr(
        Settings, "persistence_env", lambda self: persistence_env(self) | {"POSTGRES_CONNECT_TIMEOUT": "1"}
    )
    proxied = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=str(proxy.port))
    with isolated_settings(database_url) as settings:
        yield settings.replace(database_url=proxied)


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    system = build(settings)
    store = PostgresIdempotencyStore(settings)
    webhooks = PostgresWebhookStore(settings)
    config = ApiConfig(api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET, lease=LEASE)
    yield TestClient(create_app(system, store, webhooks, config), raise_server_exceptions=False)
    for closing in (system, store, webhooks):
        closing.close()


def cut_off_after_the_next_commit(proxy: TcpProxy) -> None:
    """The next COMMIT reaches the server; at once the database is away: the client loses the
    connection that carried it and every other, and can open none (the library's retry of a
    lost COMMIT waits 0.2 s first)."""
    proxy.cut_after(b"COMMIT")

    def cut() -> None:
        wait_until(lambda: proxy.cuts or None, "the COMMIT to pass", every_s=0.001)
        proxy.cut()

    threading.Thread(target=cut, daemon=True).start()


def assert_unavailable(answer: httpx.Response) -> None:
    assert (answer.status_code, answer.headers["content-type"]) == (503, PROBLEM), answer.text
    assert answer.headers["retry-after"].isdigit()
    assert not any(word in answer.text.lower() for word in ("connection", "postgres", "127.0.0.1", "pool"))


def placed(database_url: str, settings: Settings, order_id: UUID) -> tuple[int, int]:
    """The order's events and the command rows that placed it."""
    schema = sql.Identifier(settings.postgres_schema)
    with psycopg.connect(database_url) as conn:
        events = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.orders_events WHERE originator_id = %s").format(schema),
            (order_id,),
        ).fetchone()
        commands = conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {}.orders_commands WHERE outcome->'result'->>'order_id' = %s"
            ).format(schema),
            (str(order_id),),
        ).fetchone()
    assert events is not None and commands is not None
    return int(events[0]), int(commands[0])


def test_while_the_database_is_away_the_api_answers_503_and_the_cut_off_write_is_placed_once(
    api: TestClient, proxy: TcpProxy, settings: Settings, database_url: str
) -> None:
    restock(api, sku := f"SKU-{key()[-10:]}")
    assert api.get("/readyz").status_code == 200
    same = headers(key())

    cut_off_after_the_next_commit(proxy)
    write = api.post("/v1/orders", json=order_body(sku), headers=same)
    read = api.get(f"/v1/inventory/{sku}", headers=ACME)
    ready = api.get("/readyz")
    proxy.heal()

    assert proxy.cuts == 1  # the COMMIT passed
    for answer in (write, read, ready):
        assert_unavailable(answer)

    def retried() -> httpx.Response | None:  # as a client following Retry-After would
        answer = api.post("/v1/orders", json=order_body(sku), headers=same)
        return None if answer.status_code in (409, 503) else answer

    retry = wait_until(retried, "the database to come back", timeout_s=120, every_s=0.5)
    assert (retry.status_code, retry.headers.get("idempotent-replayed")) == (201, "true"), retry.text
    order_id = UUID(retry.json()["order_id"])
    assert placed(database_url, settings, order_id) == (1, 1)  # placed once; the saga is not running
    assert api.get("/readyz").status_code == 200
