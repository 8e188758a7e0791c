"""Writes are limited per API key (`ApiConfig.write_rate_limit`, in the notation of the `limits`
library: "100/second"), in a moving window kept in this process's memory. A write over the
limit is refused with a 429 problem and Retry-After, before it has any effect.

Only the writes the API executes are counted: the idempotency gate takes its count once it
found no kept answer for the key (`idempotency.py`), so a replay of a kept answer, which costs
a lookup, is never refused, and a client retrying after a lost response is not charged twice.
Each API process counts on its own: behind a load balancer, N processes let N times the limit
through, which still bounds a client that runs away.
"""

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from services.api.problems import RATE_LIMITED


class WriteRateLimit:
    def __init__(self, rate: str) -> None:
        self._rate = parse(rate)
        self._windows = MovingWindowRateLimiter(MemoryStorage())

    def take(self, api_key: str) -> None:
        """Count one write with `api_key`, or refuse it (429) if its window is full."""
        if not self._windows.hit(self._rate, api_key):
            frees_at, _ = self._windows.get_window_stats(self._rate, api_key)
            wait_s = max(1, math.ceil(frees_at - time.time()))
            raise RATE_LIMITED.error(f"at most {self._rate} writes per API key", {"Retry-After": str(wait_s)})
