"""The API's reaper deletes what is kept only for a while: expired Idempotency-Key records and
the webhook events received longer ago than the provider's retry horizon, and a store that
fails one round does not stop the next."""

from datetime import timedelta

from support.webhook_store import received

from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api.reaper import Reaper


def test_a_round_purges_webhook_events_past_the_retry_horizon_and_keeps_the_rest() -> None:
    webhooks = InMemoryWebhookStore(retry_horizon=timedelta(days=3))
    expired, kept = received(), received()
    for webhook in (expired, kept):
        webhooks.record(webhook)
    webhooks.received_at[expired.event_id] -= timedelta(days=3, minutes=1).total_seconds()

    Reaper(InMemoryIdempotencyStore(), webhooks, every_s=60).round()

    assert set(webhooks.recorded) == {kept.event_id}


def test_a_store_that_fails_does_not_keep_the_other_from_being_reaped() -> None:
    class Failing(InMemoryIdempotencyStore):
        def reap(self) -> int:
            raise ConnectionError("the database is away")

    webhooks = InMemoryWebhookStore(retry_horizon=timedelta(days=3))
    webhooks.record(old := received())
    webhooks.received_at[old.event_id] -= timedelta(days=4).total_seconds()

    Reaper(Failing(), webhooks, every_s=60).round()

    assert webhooks.recorded == {}
