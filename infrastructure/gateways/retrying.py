"""Calling an outside party's HTTP API: a timeout per attempt, a bounded number of attempts,
exponential backoff with full jitter between them, and the same idempotency key on each.

Retrying a payment is safe only because the key stays the same: the other side answers a
repeat from its records instead of doing the work again. Connection failures, timeouts and
5xx answers are retried; a 4xx means the request itself is wrong, and is not. When the
attempts run out, what matters is whether any of them may have reached the other side. If
one may have (it was sent, then timed out, lost its connection or got a 5xx), the outcome
is unknown and the caller must ask again later with the same key, never decide that it
failed. If none did (every connection was refused), nothing happened.
"""

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from infrastructure.faults.crash_points import crash_point
from infrastructure.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    timeout_s: float = 5.0  # per attempt: connecting, sending, and waiting for the answer
    attempts: int = 3
    backoff_s: float = 0.2  # the cap of the first pause; it doubles per retry
    backoff_max_s: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetryPolicy":
        return cls(
            settings.gateway_timeout_s,
            settings.gateway_attempts,
            settings.gateway_backoff_s,
            settings.gateway_backoff_max_s,
        )

    def pause_s(self, retry: int, rng: random.Random) -> float:
        """The pause before retry number `retry` (1 for the second attempt). Full jitter:
        anywhere up to the exponential cap, so clients that failed together spread out."""
        return rng.uniform(0, min(self.backoff_max_s, self.backoff_s * 2 ** (retry - 1)))


class GatewayRefusedError(Exception):
    """A 4xx: the other side understood the request and will not do it; repeating cannot help."""


class GatewayUnreachableError(Exception):
    """No attempt reached the other side, so nothing was done; asking later is safe."""


class JsonGateway:
    """POSTs JSON under an idempotency key, retrying as the policy says."""

    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy,
        outcome_unknown: Callable[[str], Exception],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.policy = policy
        self._outcome_unknown = outcome_unknown
        self._client = httpx.Client(base_url=base_url, timeout=policy.timeout_s, headers=headers)
        self._rng = random.Random()

    def post(self, path: str, idempotency_key: str, body: Mapping[str, Any]) -> Any:
        """The decoded answer of the first attempt that gets one."""
        failures: list[_NoAnswerError] = []
        for attempt in range(self.policy.attempts):
            if attempt:
                time.sleep(self.policy.pause_s(attempt, self._rng))
            try:
                answer = self._attempt(path, idempotency_key, body)
            except _NoAnswerError as failure:
                failures.append(failure)
            else:
                crash_point("gateway.after_response")
                return answer
        what = f"POST {path} under key {idempotency_key!r}: {', '.join(map(str, failures))}"
        if any(failure.may_have_arrived for failure in failures):
            raise self._outcome_unknown(what)
        raise GatewayUnreachableError(what)

    def _attempt(self, path: str, idempotency_key: str, body: Mapping[str, Any]) -> Any:
        try:
            response = self._client.post(path, json=body, headers={"Idempotency-Key": idempotency_key})
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise _NoAnswerError(f"not sent ({type(error).__name__})", may_have_arrived=False) from None
        except httpx.TransportError as error:
            raise _NoAnswerError(f"no answer ({type(error).__name__})", may_have_arrived=True) from None
        if response.status_code >= 500:
            raise _NoAnswerError(f"HTTP {response.status_code}", may_have_arrived=True)
        if not response.is_success:
            raise GatewayRefusedError(f"POST {path}: HTTP {response.status_code} {response.text}")
        return response.json()

    def close(self) -> None:
        self._client.close()


class _NoAnswerError(Exception):
    """One attempt that got no usable answer, and whether the request may have arrived."""

    def __init__(self, why: str, may_have_arrived: bool) -> None:
        super().__init__(why)
        self.may_have_arrived = may_have_arrived
