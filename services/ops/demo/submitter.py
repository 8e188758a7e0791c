"""Sends each request to the API more than once and checks that every copy got the same answer.

Every POST goes out twice under one Idempotency-Key, every third pair at the same moment.
A copy that meets its twin still running gets 409 with Retry-After and asks again after
that pause, as a well-behaved client does; so does a copy that gets no answer, or a 5xx
(the API restarting, its database away), after a growing pause, under the same key. Both
copies must end with the same status and the same body, byte for byte; the one answered
from the API's records says `Idempotent-Replayed: true`.
"""

import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

Answer = tuple[int, bytes]  # status, body
MAX_PAUSE_S = 2.0


class DivergentAnswerError(AssertionError):
    """Two copies of one request were answered differently: idempotence is broken."""


@dataclass
class Submitter:
    client: httpx.Client
    copies: int = 2
    concurrent_every: int = 3  # every Nth request sends its copies at the same time
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: int = 0

    def post(self, path: str, key: str, body: Mapping[str, Any]) -> Answer:
        """Send `copies` copies; return the one answer they all got."""
        with self._lock:
            self._serial += 1
            concurrently = self._serial % self.concurrent_every == 0
        if concurrently:
            with ThreadPoolExecutor(self.copies) as pool:
                answers = list(pool.map(lambda _: self._until_answered(path, key, body), range(self.copies)))
        else:
            answers = [self._until_answered(path, key, body) for _ in range(self.copies)]
        if any(answer != answers[0] for answer in answers):
            raise DivergentAnswerError(f"POST {path} under {key!r}: {answers}")
        return answers[0]

    def _until_answered(self, path: str, key: str, body: Mapping[str, Any]) -> Answer:
        failures = 0
        while True:
            try:
                response = self.client.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                response = None
            if response is None or response.status_code >= 500:
                self._count("no answer or 5xx, asked again")
                failures += 1
                time.sleep(min(MAX_PAUSE_S, 0.1 * 2**failures))
                continue
            if response.status_code == 409 and response.headers.get("retry-after"):
                self._count("in flight, asked again")
                time.sleep(float(response.headers["retry-after"]))
                continue
            replayed = response.headers.get("idempotent-replayed") == "true"
            self._count("replayed" if replayed else ("executed" if response.is_success else "refused"))
            return response.status_code, response.content

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] += 1
