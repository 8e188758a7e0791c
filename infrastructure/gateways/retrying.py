"""Calling an outside party's HTTP API: a timeout per attempt, a bounded number of attempts,
exponential backoff with full jitter between them, and the same idempotency key on each.

Retrying a payment is safe only because the key stays the same: the other side answers a
repeat from its records instead of doing the work again. Connection failures, timeouts and
5xx answers are retried; a 4xx is an answer, and is not: `GatewayRefusedError` carries its
status and problem, and the clients turn a business refusal (`problems.refusal_of`) into a
"refused" reply. When the attempts run out, what matters is whether any of them may have
reached the other side. If one may have (it was sent, then timed out, lost its connection or
got a 5xx), the outcome is unknown and the caller must ask again later with the same key,
never decide that it failed. If none did (every connection was refused), nothing happened.

A caller that keeps its own retry schedule (in a database, across restarts) uses
`RetryPolicy.single_attempt()`: one try per call, with the same three outcomes.

Every attempt made while a context asks a call (`domain/asking.py`) says where it comes
from: `X-Correlation-ID` and `X-Request-ID` carry the call's correlation id (the request
that started the flow), `X-Causation-ID` the command that decided the call. With an
`AttemptLog` (`infrastructure/calls/attempts.py`), every attempt is recorded under its key
with what it met, answered or not.
"""

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from domain.asking import call_being_asked
from domain.ports import RequestRejectedError, UnreachableError
from infrastructure.calls.attempts import Attempt, AttemptLog
from infrastructure.faults.crash_points import crash_point
from infrastructure.settings import Settings
from infrastructure.simulators.problems import ProblemType, refusal_of


@dataclass(frozen=True)
class RetryPolicy:
    timeout_s: float = 5.0  # per attempt: connecting, sending, and waiting for the answer
    attempts: int = 3
    backoff_s: float = 0.2  # the cap of the first pause; it doubles per retry
    backoff_max_s: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or not self.timeout_s > 0:
            raise ValueError(f"a retry policy needs at least one attempt and a timeout: {self}")

    def single_attempt(self) -> "RetryPolicy":
        """This policy's timeout, one attempt: for a caller that schedules its own retries."""
        return replace(self, attempts=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetryPolicy":
        """One attempt per call: the gateway workers keep the schedule of the next attempts
        in the call table (`services/gateway.py`), where waiting holds no thread."""
        return cls(settings.gateway_timeout_s, 1, settings.gateway_backoff_s, settings.gateway_backoff_max_s)

    def pause_s(self, retry: int, rng: random.Random) -> float:
        """The pause before retry number `retry` (1 for the second attempt). Full jitter:
        anywhere up to the exponential cap, so clients that failed together spread out."""
        return rng.uniform(0, min(self.backoff_max_s, self.backoff_s * 2 ** (retry - 1)))


class GatewayRefusedError(RequestRejectedError):
    """A 4xx: the other side answered that it will not do this; repeating cannot help.
    `problem` is the decoded problem+json body (empty if the body was not one). The clients
    return a business refusal as a reply and let every other 4xx through: the request is wrong."""

    def __init__(self, message: str, *, status: int, detail: str, problem: Mapping[str, Any]) -> None:
        super().__init__(message, status=status, detail=detail)
        self.problem = dict(problem)

    @property
    def refusal(self) -> ProblemType | None:
        """The business refusal this is (a refusal's problem type, with its status), or None."""
        refusal = refusal_of(str(self.problem.get("type", "")))
        return refusal if refusal is not None and refusal.status == self.status else None

    @classmethod
    def of(cls, path: str, response: httpx.Response) -> "GatewayRefusedError":
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = {}
        detail = str(problem.get("detail", response.text))
        return cls(
            f"POST {path}: HTTP {response.status_code} {detail}",
            status=response.status_code,
            detail=detail,
            problem=problem,
        )


class GatewayUnreachableError(UnreachableError):
    """No attempt reached the other side, so nothing was done; asking later is safe."""


class JsonGateway:
    """POSTs JSON under an idempotency key, retrying as the policy says."""

    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy,
        outcome_unknown: Callable[[str], Exception],
        headers: Mapping[str, str] | None = None,
        attempts: AttemptLog | None = None,
    ) -> None:
        self.policy = policy
        self._outcome_unknown = outcome_unknown
        self._client = httpx.Client(base_url=base_url, timeout=policy.timeout_s, headers=headers)
        self._attempts = attempts
        self._rng = random.Random()

    def post(self, operation: str, path: str, idempotency_key: str, body: Mapping[str, Any]) -> Any:
        """The decoded answer of the first attempt that gets one; `operation` names the
        attempts in the log (the call's: authorize, book...)."""
        failures: list[_NoAnswerError] = []
        for attempt in range(self.policy.attempts):
            if attempt:
                time.sleep(self.policy.pause_s(attempt, self._rng))
            try:
                answer = self._attempt(operation, path, idempotency_key, body)
            except _NoAnswerError as failure:
                failures.append(failure)
            else:
                crash_point("gateway.after_response")
                return answer
        what = f"POST {path} under key {idempotency_key!r}: {', '.join(map(str, failures))}"
        if any(failure.may_have_arrived for failure in failures):
            raise self._outcome_unknown(what)
        raise GatewayUnreachableError(what)

    def _attempt(self, operation: str, path: str, idempotency_key: str, body: Mapping[str, Any]) -> Any:
        started_at, started = datetime.now(UTC), time.monotonic()
        try:
            response = self._client.post(path, json=body, headers=_headers(idempotency_key))
        except httpx.TransportError as error:
            self._record(
                Attempt(idempotency_key, operation, started_at, _ms_since(started), _described(error))
            )
            sent = not isinstance(error, _NOT_SENT)
            why = f"{'no answer' if sent else 'not sent'} ({type(error).__name__})"
            raise _NoAnswerError(why, may_have_arrived=sent) from None
        outcome = f"{'ok' if response.is_success else 'http'} {response.status_code}"
        self._record(Attempt(idempotency_key, operation, started_at, _ms_since(started), outcome))
        if response.status_code >= 500:
            raise _NoAnswerError(f"HTTP {response.status_code}", may_have_arrived=True)
        if not response.is_success:
            raise GatewayRefusedError.of(path, response)
        return response.json()

    def _record(self, attempt: Attempt) -> None:
        if self._attempts is not None:
            self._attempts.record(attempt)

    def close(self) -> None:
        self._client.close()


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # nothing reached the other side


def _headers(idempotency_key: str) -> dict[str, str]:
    """The key, and where the call being asked comes from, if one is."""
    call = call_being_asked()
    if call is None:
        return {"Idempotency-Key": idempotency_key}
    traced = {
        "X-Request-ID": call.correlation_id,
        "X-Correlation-ID": call.correlation_id,
        "X-Causation-ID": call.causation_id,
    }
    return {"Idempotency-Key": idempotency_key, **{name: value for name, value in traced.items() if value}}


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _described(error: httpx.TransportError) -> str:
    """What an attempt without an answer met, in a few words: "timeout", "connection refused"."""
    if isinstance(error, httpx.ConnectTimeout):
        return "connect timeout"
    if isinstance(error, httpx.PoolTimeout):
        return "no free connection"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):  # "[Errno 111] Connection refused"
        return re.sub(r"^\[Errno -?\d+\]\s*", "", str(error)).lower() or "cannot connect"
    return "connection lost"


class _NoAnswerError(Exception):
    """One attempt that got no usable answer, and whether the request may have arrived."""

    def __init__(self, why: str, may_have_arrived: bool) -> None:
        super().__init__(why)
        self.may_have_arrived = may_have_arrived
