"""The provider simulator announces every approved operation by webhook, twice with the same
event id, signed with the time it is sent, and retries a delivery the receiver refused."""

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from support.isolation import wait_until
from support.simulators import psp_simulator

from infrastructure.devstack import free_port
from infrastructure.simulators.psp import tokens

pytestmark = pytest.mark.integration

SECRET = "it-webhook-secret"


class Receiver:
    """A tiny webhook endpoint that records each delivery and answers the first `refuse` with 503."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.deliveries: list[tuple[int, str, dict[str, Any]]] = []  # (status answered, Webhook-Id, body)
        self.signed: list[tuple[str, bytes]] = []  # (Webhook-Signature, body bytes) of each delivery
        self._lock = threading.Lock()

    def accepted(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(event_id, body) for status, event_id, body in self.deliveries if status == 200]

    def record(self, event_id: str, body: dict[str, Any]) -> int:
        with self._lock:
            status = 503 if len(self.deliveries) < self.refuse else 200
            self.deliveries.append((status, event_id, body))
            return status

    @contextmanager
    def running(self) -> Iterator[str]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.signed.append((self.headers["Webhook-Signature"], raw))
                self.send_response(receiver.record(self.headers["Webhook-Id"], json.loads(raw)))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        thread = threading.Thread(target=server.serve_forever, name="webhook-receiver")
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/webhooks"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


@contextmanager
def provider_sending_to(database_url: str, receiver: Receiver) -> Iterator[httpx.Client]:
    with (
        receiver.running() as webhook_url,
        psp_simulator(database_url, psp_webhook_url=webhook_url, psp_webhook_secret=SECRET) as served,
        httpx.Client(base_url=served.url, timeout=10) as client,
    ):
        yield client


def authorize(psp: httpx.Client, token: str) -> dict[str, Any]:
    body = {"order_id": f"order-{uuid.uuid4()}", "amount_cents": 700, "currency": "EUR", "token": token}
    reply = psp.post("/v1/authorizations", json=body, headers={"Idempotency-Key": f"pay-{uuid.uuid4()}"})
    return dict(reply.raise_for_status().json())


def test_each_approved_operation_arrives_twice_with_one_stable_event_id(database_url: str) -> None:
    receiver = Receiver()
    with provider_sending_to(database_url, receiver) as psp:
        authorize(psp, tokens.DECLINE)  # declined: nothing to announce
        approved = authorize(psp, tokens.OK)
        wait_until(lambda: True if len(receiver.accepted()) >= 2 else None, "two deliveries")
        capture = {"authorization": approved["reference"], "amount_cents": 700, "currency": "EUR"}
        psp.post("/v1/captures", json=capture, headers={"Idempotency-Key": "cap-1"}).raise_for_status()
        wait_until(lambda: True if len(receiver.accepted()) >= 4 else None, "four deliveries")

    received = [
        (body["type"], body["data"]["idempotency_key"], body["id"], event_id)
        for event_id, body in receiver.accepted()
    ]
    authorized_id, captured_id = received[0][2], received[2][2]
    assert received == [
        *[("payment.authorized", approved["idempotency_key"], authorized_id, authorized_id)] * 2,
        *[("payment.captured", "cap-1", captured_id, captured_id)] * 2,
    ]
    assert authorized_id != captured_id
    assert len(receiver.deliveries) == 4  # none for the declined authorization, queued first


def test_a_refused_delivery_is_retried_until_accepted(database_url: str) -> None:
    receiver = Receiver(refuse=2)
    with provider_sending_to(database_url, receiver) as psp:
        approved = authorize(psp, tokens.OK)
        wait_until(lambda: True if len(receiver.accepted()) >= 2 else None, "both copies accepted")

    refused = [(status, event_id) for status, event_id, _ in receiver.deliveries[:2]]
    accepted = [(event_id, body["data"]["reference"]) for event_id, body in receiver.accepted()]
    assert accepted == [(accepted[0][0], approved["reference"])] * 2
    assert refused == [(503, accepted[0][0])] * 2


def test_each_delivery_is_signed_together_with_the_time_it_was_sent(database_url: str) -> None:
    receiver = Receiver()
    with provider_sending_to(database_url, receiver) as psp:
        started = int(time.time())
        authorize(psp, tokens.OK)
        wait_until(lambda: True if len(receiver.accepted()) >= 2 else None, "both copies")
        finished = time.time()

    assert len(receiver.signed) == 2
    for header, body in receiver.signed:
        signed = re.fullmatch(r"t=([0-9]+),v1=([0-9a-f]{64})", header)
        assert signed is not None, header
        sent_at, mac = int(signed[1]), signed[2]
        assert started <= sent_at <= finished
        assert mac == hmac.new(SECRET.encode(), f"{sent_at}.".encode() + body, hashlib.sha256).hexdigest()
