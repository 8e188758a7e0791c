"""Deletes what the API keeps only for a while, every `every_s` seconds, in a thread of the API
process while it runs: expired Idempotency-Key records, and the provider's webhook events
received longer ago than its retry horizon (services/api/webhooks.py says why that is safe).
Every API process may run one: deleting expired rows is safe to do twice."""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from services.api.store import IdempotencyStore
from services.api.webhook_store import WebhookStore

log = logging.getLogger(__name__)


class Reaper:
    def __init__(self, store: IdempotencyStore, webhooks: WebhookStore, every_s: float) -> None:
        self.store, self.webhooks, self.every_s = store, webhooks, every_s

    @contextmanager
    def running(self) -> Iterator[None]:
        stop = threading.Event()
        thread = threading.Thread(target=self._run, args=(stop,), name="idempotency-reaper", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.every_s):
            self.round()

    def round(self) -> None:
        self._delete("expired idempotency keys", self.store.reap)
        self._delete("webhook events past the provider's retry horizon", self.webhooks.purge)

    @staticmethod
    def _delete(what: str, delete: Callable[[], int]) -> None:
        try:
            deleted = delete()
        except Exception:  # the database may be away for a while; the next round retries
            log.exception("deleting %s failed", what)
        else:
            log.debug("deleted %d %s", deleted, what)
