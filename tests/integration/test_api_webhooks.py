"""The provider's webhooks end to end: the provider simulator, served for real, delivers each
event twice to `orders api`, a real process on PostgreSQL; the event is recorded once and its
copy counted as a duplicate. Also the webhook store's contract on PostgreSQL."""

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest
from psycopg import sql
from support.api_process import running
from support.isolation import isolated_settings, wait_until
from support.simulators import psp_simulator
from support.webhook_store import Backdate, Stored, WebhookStoreContract

from infrastructure.settings import Settings
from infrastructure.simulators.psp import tokens
from infrastructure.simulators.psp.webhooks import event_id
from infrastructure.webhook_store import PostgresWebhookStore

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "it-webhook-secret"
COUNTED = re.compile(r'^orders_api_webhooks_total\{outcome="(\w+)"\} (\S+)$', re.MULTILINE)


class TestPostgresWebhookStore(WebhookStoreContract):
    @pytest.fixture
    def settings(self, database_url: str) -> Iterator[Settings]:
        with isolated_settings(database_url) as settings:
            yield settings

    @pytest.fixture
    def store(self, settings: Settings) -> Iterator[PostgresWebhookStore]:
        store = PostgresWebhookStore(settings)
        yield store
        store.close()

    @pytest.fixture
    def stored(self, settings: Settings) -> Stored:
        return lambda event: next((row for row in rows(settings) if row[0] == event), None)

    @pytest.fixture
    def backdate(self, settings: Settings) -> Backdate:
        def backdate(event_id: str, by: timedelta) -> None:
            table = sql.Identifier(settings.postgres_schema, "psp_webhooks")
            query = sql.SQL("UPDATE {} SET received_at = received_at - %s WHERE event_id = %s").format(table)
            with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
                conn.execute(query, (by, event_id))

        return backdate


def rows(settings: Settings) -> list[tuple[Any, ...]]:
    """The rows of the test schema's psp_webhooks, as ReceivedWebhook tuples."""
    table = sql.Identifier(settings.postgres_schema, "psp_webhooks")
    query = sql.SQL(
        "SELECT event_id, type, idempotency_key, reference, order_id, payload FROM {} ORDER BY received_at"
    ).format(table)
    with psycopg.connect(settings.database_url or "") as conn:
        return conn.execute(query).fetchall()


def api_process(settings: Settings, log_file: Path) -> AbstractContextManager[str]:
    """`orders api` on `settings`, checking webhooks with SECRET; yields its URL."""
    return running(settings, log_file, {"ORDERS_PSP_WEBHOOK_SECRET": SECRET})


def counted(api_url: str) -> dict[str, float]:
    """The API's webhook counters by outcome, read from /metrics."""
    text = httpx.get(f"{api_url}/metrics").raise_for_status().text
    return {outcome: float(value) for outcome, value in COUNTED.findall(text)}


def test_both_deliveries_of_an_approved_authorization_make_one_row_and_one_duplicate(
    database_url: str, tmp_path: Path
) -> None:
    with (
        isolated_settings(database_url) as settings,
        api_process(settings, tmp_path / "api.log") as api,
        psp_simulator(
            database_url, psp_webhook_url=f"{api}/v1/webhooks/psp", psp_webhook_secret=SECRET
        ) as psp,
    ):
        order_id, key = f"order-{uuid4()}", f"pay-{uuid4()}"
        body = {"order_id": order_id, "amount_cents": 700, "currency": "EUR", "token": tokens.OK}
        reply = httpx.post(f"{psp.url}/v1/authorizations", json=body, headers={"Idempotency-Key": key})
        approved = reply.raise_for_status().json()
        wait_until(lambda: True if sum(counted(api).values()) >= 2 else None, "both deliveries answered")

        assert counted(api) == {"accepted": 1.0, "duplicate": 1.0}
        event = event_id(key)
        announced = {"id": event, "type": "payment.authorized", "data": approved}
        assert rows(settings) == [
            (event, "payment.authorized", key, approved["reference"], order_id, announced)
        ]
