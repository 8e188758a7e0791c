"""The contract of the webhook store (`services/api/webhook_store.py`), run against the
in-memory store (tests/unit) and PostgreSQL (tests/integration) by subclasses that provide
the fixtures `store`, `stored` (what the store holds for an event id, as a tuple, or None) and
`backdate` (make the store take an event for received that much earlier)."""

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

from services.api.webhook_store import ReceivedWebhook, WebhookStore

Stored = Callable[[str], tuple[Any, ...] | None]
Backdate = Callable[[str, timedelta], None]


def received() -> ReceivedWebhook:
    event_id, key = f"evt_{uuid4().hex}", f"pay-{uuid4().hex}"
    data = {"idempotency_key": key, "reference": "authorize_1a2b", "order_id": "order-1", "amount_cents": 700}
    payload = {"id": event_id, "type": "payment.authorized", "data": data}
    return ReceivedWebhook(event_id, "payment.authorized", key, "authorize_1a2b", "order-1", payload)


class WebhookStoreContract:
    def test_an_event_is_recorded_by_its_first_copy_and_later_copies_change_nothing(
        self, store: WebhookStore, stored: Stored
    ) -> None:
        first = received()
        changed = first._replace(type="payment.captured", payload={"id": first.event_id, "other": 1})

        assert [store.record(first), store.record(first), store.record(changed)] == [True, False, False]
        assert stored(first.event_id) == tuple(first)

    def test_another_event_id_is_another_event(self, store: WebhookStore) -> None:
        first = received()
        assert store.record(first)
        assert store.record(first._replace(event_id=f"evt_{uuid4().hex}"))

    def test_of_many_concurrent_copies_exactly_one_is_recorded(self, store: WebhookStore) -> None:
        webhook, start, recorded = received(), threading.Barrier(8), []

        def record() -> None:
            start.wait()
            recorded.append(store.record(webhook))

        threads = [threading.Thread(target=record) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(recorded) == [False] * 7 + [True]

    def test_a_purge_forgets_the_events_received_longer_ago_than_the_retry_horizon_only(
        self, store: WebhookStore, stored: Stored, backdate: Backdate
    ) -> None:
        expired, kept, new = received(), received(), received()
        for webhook in (expired, kept, new):
            store.record(webhook)
        backdate(expired.event_id, store.retry_horizon + timedelta(minutes=1))
        backdate(kept.event_id, store.retry_horizon - timedelta(minutes=1))

        assert store.purge() == 1

        assert [stored(w.event_id) for w in (expired, kept, new)] == [None, tuple(kept), tuple(new)]
        assert store.purge() == 0
