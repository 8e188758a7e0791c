"""Deletes expired Idempotency-Key records, every `every_s` seconds, in a thread of the API
process while it runs. Every API process may run one: deleting expired rows is safe to do twice."""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from services.api.store import IdempotencyStore

log = logging.getLogger(__name__)


class Reaper:
    def __init__(self, store: IdempotencyStore, every_s: float) -> None:
        self.store, self.every_s = store, every_s

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
            try:
                reaped = self.store.reap()
            except Exception:  # the database may be away for a while; the next round retries
                log.exception("reaping expired idempotency keys failed")
            else:
                log.debug("reaped %d expired idempotency keys", reaped)
