"""The provider simulator's webhooks: every approved operation announced twice, until received.

Real providers deliver webhooks at least once, so a receiver must deduplicate by event id;
this simulator makes that unavoidable. Each event is queued as two deliveries with the same
id (a deliberate duplicate), in the transaction that records the operation, and background
senders post them, retrying a failed delivery with exponential backoff. The queue is a
table, so a restart loses nothing, and senders in several processes share it.

Each delivery is signed, so that the receiver can tell it from a forgery and from an old
delivery sent again: the header `Webhook-Signature: t=<unix seconds>,v1=<hex>` carries the
time of sending and the HMAC-SHA256 of `<t>.` followed by the exact body bytes, under the
secret both sides share (ORDERS_PSP_WEBHOOK_SECRET). The event id is in the signed body; the
time is signed with it, so a receiver may refuse a delivery signed too long ago, and each
attempt is signed afresh when it is sent. A delivery carries the operation's correlation id
(the `X-Correlation-ID` its request came with) back in the same header, so the receiver's log
lines join its flow.
"""

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from infrastructure.database import pool
from infrastructure.settings import Settings

log = logging.getLogger(__name__)

DDL = """CREATE TABLE IF NOT EXISTS {schema}.webhooks (
    event_id text NOT NULL,
    copy int NOT NULL,
    payload jsonb NOT NULL,
    attempts int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    PRIMARY KEY (event_id, copy))"""
# The sender asks for due deliveries several times a second; without this it reads every
# delivery ever made (the table keeps them) each time.
DUE_INDEX = """CREATE INDEX IF NOT EXISTS webhooks_due ON {schema}.webhooks (next_attempt_at)
    WHERE delivered_at IS NULL"""
COPIES = 2
EVENT_TYPES = {
    "authorize": "payment.authorized",
    "capture": "payment.captured",
    "void": "payment.voided",
    "refund": "payment.refunded",
}
EVENT_IDS = uuid.UUID("5f0c6d53-0d8e-4a57-9a4e-6b1f3c2a7e10")  # the namespace of event ids
SIGNATURE_HEADER = "Webhook-Signature"
CORRELATION_HEADER = "X-Correlation-ID"

DUE = """SELECT event_id, copy, payload FROM {} WHERE delivered_at IS NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at, event_id, copy LIMIT 20 FOR UPDATE SKIP LOCKED"""
DELIVERED = "UPDATE {} SET attempts = attempts + 1, delivered_at = now() WHERE event_id = %s AND copy = %s"
FAILED = """UPDATE {} SET attempts = attempts + 1,
    next_attempt_at = now() + least(%s, %s * 2 ^ attempts) * interval '1 second'
    WHERE event_id = %s AND copy = %s"""


def event_id(idempotency_key: str) -> str:
    """Stable: derived from the operation's key, so the event is the same however often it is sent."""
    return f"evt_{uuid.uuid5(EVENT_IDS, idempotency_key).hex}"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The `Webhook-Signature` of `body` sent at `timestamp` (unix seconds)."""
    signed = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={signed.hexdigest()}"


def enqueue(conn: psycopg.Connection[Any], schema: str, operation: Mapping[str, Any]) -> None:
    """Queue the event announcing `operation` (a ledger row), once per copy."""
    event = {
        "id": event_id(operation["idempotency_key"]),
        "type": EVENT_TYPES[operation["operation"]],
        "data": dict(operation),
    }
    insert = sql.SQL("INSERT INTO {} (event_id, copy, payload) VALUES (%s, %s, %s)")
    for copy in range(1, COPIES + 1):
        conn.execute(insert.format(sql.Identifier(schema, "webhooks")), (event["id"], copy, Jsonb(event)))


class WebhookSender:
    """Posts due deliveries to `url` (signed, with a `Webhook-Id` header) until stopped."""

    poll_s = 0.2
    backoff_s = 0.5  # after the first failure; doubling up to backoff_max_s
    backoff_max_s = 30.0

    def __init__(self, settings: Settings, schema: str, url: str) -> None:
        self.settings = settings
        self.url = url
        self._table = sql.Identifier(schema, "webhooks")
        self._pool = pool(settings, max_connections=1, min_connections=0)

    def run(self, stop: threading.Event) -> None:
        with httpx.Client(timeout=2.0) as client:
            while not stop.is_set():
                try:
                    sent = self.deliver_due(client)
                except psycopg.Error:
                    log.exception("could not read the webhook queue; trying again")
                    sent = 0
                if not sent:
                    stop.wait(self.poll_s)

    def deliver_due(self, client: httpx.Client) -> int:
        """Try every due delivery once; returns how many were tried."""
        with self._pool.connection() as conn, conn.transaction():
            due = conn.execute(sql.SQL(DUE).format(self._table)).fetchall()
            for event, copy, payload in due:
                if self._post(client, event, payload):
                    conn.execute(sql.SQL(DELIVERED).format(self._table), (event, copy))
                else:
                    retry = (self.backoff_max_s, self.backoff_s, event, copy)
                    conn.execute(sql.SQL(FAILED).format(self._table), retry)
        return len(due)

    def _post(self, client: httpx.Client, event: str, payload: dict[str, Any]) -> bool:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Webhook-Id": event,
            SIGNATURE_HEADER: signature(self.settings.psp_webhook_secret, body, int(time.time())),
        }
        correlation_id = payload["data"].get("correlation_id")  # none in an event queued before
        if correlation_id:
            headers[CORRELATION_HEADER] = correlation_id
        try:
            response = client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            log.warning("webhook %s not delivered to %s: %s", event, self.url, error)
            return False
        if not response.is_success:
            log.warning("webhook %s refused by %s: HTTP %s", event, self.url, response.status_code)
        return response.is_success
