"""Work queued per key, done by a pool: one key's items in order, different keys at once.

A key is worked on by one thread at a time; when its first item fails, the key waits out a
backoff (exponential, full jitter, capped) and that item is tried again, while the other
keys carry on. Nothing is ever dropped: an item leaves its queue only when its handler
returned.
"""

import heapq
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Lanes(Generic[T]):
    def __init__(
        self,
        handle: Callable[[T], None],
        done: Callable[[T], None],
        workers: int,
        name: str,
        backoff_s: float = 0.1,
        backoff_max_s: float = 5.0,
    ) -> None:
        self.handle = handle
        self.done = done  # told of every item once its handler returned
        self.workers = workers
        self.name = name
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._queues: dict[str, deque[T]] = {}  # a key is here while it has work
        self._ready: deque[str] = deque()  # keys whose first item may run now
        self._delayed: list[tuple[float, str]] = []  # (due, key): failed, waiting to retry
        self._failures: dict[str, int] = {}
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._rng = random.Random()

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._work, name=f"{self.name}-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def add(self, key: str, item: T) -> None:
        with self._cond:
            queue = self._queues.get(key)
            if queue is None:  # an idle key: ready at once
                self._queues[key] = deque([item])
                self._ready.append(key)
                self._cond.notify()
            else:  # behind the items already there (running, ready or waiting to retry)
                queue.append(item)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Let the items being handled finish (waiting at most `timeout_s`); start no more."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while (key := self._next_key()) is not None:
            item = self._queues[key][0]  # only this thread touches the key now
            try:
                self.handle(item)
            except Exception as error:
                self._failed(key, error)
            else:
                self.done(item)
                self._succeeded(key)

    def _next_key(self) -> str | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    self._ready.append(heapq.heappop(self._delayed)[1])
                if self._ready:
                    return self._ready.popleft()
                self._cond.wait(min(0.5, self._delayed[0][0] - now) if self._delayed else 0.5)
            return None

    def _succeeded(self, key: str) -> None:
        with self._cond:
            self._failures.pop(key, None)
            queue = self._queues[key]
            queue.popleft()
            if queue:
                self._ready.append(key)
                self._cond.notify()
            else:
                del self._queues[key]

    def _failed(self, key: str, error: Exception) -> None:
        with self._cond:
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            pause = self._rng.uniform(0, min(self.backoff_max_s, self.backoff_s * 2 ** (failures - 1)))
            heapq.heappush(self._delayed, (time.monotonic() + pause, key))
            self._cond.notify()
        log.warning("%s: %s failed (%d in a row), again in %.2fs: %r", self.name, key, failures, pause, error)
