"""The port to the idempotency store: where a POST claims its key before it has any effect,
and leaves its response for the retries. `infrastructure/idempotency_store.py` implements it,
in PostgreSQL and in memory.

Infrastructure may not import services, so the port speaks in plain values: a scope is a
4-tuple, a response a 3-tuple, and what the store says about a scope held by another request
is any object with the two attributes of `Held`.
"""

from datetime import timedelta
from typing import NamedTuple, Protocol


class Scope(NamedTuple):
    """One client's key for one operation: the same key from another tenant, or sent to
    another route, is another key. The route's parameters are not part of it but of the
    request's fingerprint: the same key to cancel another order is a reused key."""

    tenant: str
    method: str
    route: str  # the route's template, as it matched: /v1/orders/{order_id}/cancel
    key: str


class RecordedResponse(NamedTuple):
    """A response as it was first sent, to be sent again to every retry of its request."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Held(Protocol):
    """What the store holds for a scope that another request has claimed."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def response(self) -> tuple[int, tuple[tuple[str, str], ...], bytes] | None:
        """The recorded response, or None while that request is still running."""
        ...


class IdempotencyStore(Protocol):
    """`claim` is atomic: of any number of concurrent callers with one scope, exactly one gets
    None (the scope is now theirs, under `token`) and every other gets what holds it. A record
    older than its `ttl` counts as absent, and so does a claim left without a response for
    longer than its `lease` (its request crashed), to a caller with the claim's fingerprint: no
    key stays locked forever, and a key's first body is not replaced by another one's.

    The claim keeps the `request_id` of the HTTP request that made it (`request_ids.py`), for
    an operator to find the log lines and the events of the request that executed a key; a
    replay's own id is in its log lines only."""

    def claim(
        self,
        scope: Scope,
        fingerprint: str,
        token: str,
        lease: timedelta,
        ttl: timedelta,
        request_id: str = "",
    ) -> Held | None: ...

    def complete(self, scope: Scope, token: str, response: RecordedResponse) -> None:
        """Keep `response` for the retries, if `token` still holds the claim."""
        ...

    def release(self, scope: Scope, token: str) -> None:
        """Give the claim up without a response, so that the client may try again at once."""
        ...

    def reap(self) -> int:
        """Delete the records past their ttl; returns how many."""
        ...
