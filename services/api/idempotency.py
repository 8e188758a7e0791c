"""Layer 1 of docs/IDEMPOTENCY.md: the `Idempotency-Key` every POST carries.

A key's scope is (tenant, method, route template, key): `/v1/orders/{order_id}/cancel`, not
the path as sent, so that no spelling of a path makes a retry another request. A request's
fingerprint is the sha256 of its canonical body (JSON with sorted keys and no whitespace; a
body that is not strict JSON is refused, `json_body.py`), together with the path's parameters
as the endpoint reads them (an order id in any spelling a UUID allows is one order): the same
key sent to cancel another order is another request under that key. Before a request has any
effect, it claims its scope in the store (`store.py`). Then:

- the claim is ours: count the write against the API key's rate limit (`rate_limit.py`),
  execute the command, and keep the response for the retries; or release the claim when the
  next attempt may be answered differently (malformed input, a missing SKU, the rate limit,
  any 5xx), so that the client may correct it or simply try again;
- a finished request holds it with the same fingerprint: send its response again, marked
  `Idempotent-Replayed: true`;
- a running request holds it: 409 with Retry-After; another fingerprint holds it: 422.

Why a crash after the command committed, and before its response was kept, cannot make the
retry do the work twice or answer differently: the command id is derived from the scope, so
every attempt of one request is the same command, and the command log, which commits in the
transaction of the command's events (services/application.py), answers a repeated command with
its first result. The response is built from that result (the Receipt) alone. So after such a
crash the claim's lease lapses, the retry claims the scope again and executes the same command,
the log replays it, and the retry gets byte for byte the response that the first attempt would
have sent. A lapsed claim is taken over only with its own fingerprint, so another body under
the key is refused even while the first request's command may not have run. The store caches
responses and fends off concurrent duplicates; the command log is the durable record
(docs/adr/0003-api-idempotency.md).
"""

import functools
import hashlib
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from uuid import uuid4, uuid5

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from domain.errors import RuleViolationError
from domain.ids import NAMESPACE
from infrastructure.faults.crash_points import crash_point
from services.api import problems, request_ids
from services.api.auth import bearer
from services.api.json_body import canonical
from services.api.metrics import Metrics
from services.api.problems import KEY_IN_USE, KEY_MALFORMED, KEY_MISSING, KEY_REUSED
from services.api.rate_limit import WriteRateLimit
from services.api.store import Held, IdempotencyStore, RecordedResponse, Scope
from services.application import Receipt

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = "^[\\x20-\\x7e]{1,255}$"  # 1-255 printable ASCII characters
Render = Callable[[dict[str, Any]], RecordedResponse]


@dataclass(frozen=True)
class IdempotentRequest:
    scope: Scope
    fingerprint: str
    api_key: str = field(repr=False)  # whose rate limit the request counts against
    request_id: str = ""  # the HTTP request's (`request_ids.py`): its commands' correlation id

    @property
    def command_id(self) -> str:
        """The same for every attempt of this request, so that the command log can tell."""
        return str(uuid5(NAMESPACE, json.dumps(["http", *self.scope])))


class Idempotency:
    def __init__(
        self,
        store: IdempotencyStore,
        lease: timedelta,
        ttl: timedelta,
        metrics: Metrics,
        write_rate_limit: WriteRateLimit,
    ) -> None:
        self.store, self.lease, self.ttl, self.metrics = store, lease, ttl, metrics
        self.write_rate_limit = write_rate_limit

    def run(self, request: IdempotentRequest, execute: Callable[[], Receipt], render: Render) -> Response:
        """Answer `request` once: by `execute`, rendered from the Receipt's result alone, or
        from the store."""
        token = uuid4().hex
        held = self.store.claim(
            request.scope, request.fingerprint, token, self.lease, self.ttl, request.request_id
        )
        if held is not None:
            return self._answer_held(held, request)
        crash_point("api.after_claim")
        try:
            self.write_rate_limit.take(request.api_key)  # only now: a replay above is not counted
            receipt = execute()
            crash_point("api.after_commit")
            answer, replayed = render(receipt.result), receipt.replayed
        except RuleViolationError as refusal:  # recorded in the command log: final, so kept too
            answer, replayed = problems.recorded(problems.from_domain_error(refusal)), refusal.replayed
        except Exception:
            self.store.release(request.scope, token)
            self.metrics.api_idempotency.labels(outcome="released").inc()
            raise
        self.store.complete(request.scope, token, answer)
        # recovered: the command log answered (and counted) it, its response not kept before
        self.metrics.api_idempotency.labels(outcome="recovered" if replayed else "executed").inc()
        return _response(answer, replayed)

    def _answer_held(self, held: Held, request: IdempotentRequest) -> Response:
        if held.fingerprint != request.fingerprint:
            self.metrics.api_idempotency.labels(outcome="mismatch").inc()
            self.metrics.key_reuse.inc()
            raise KEY_REUSED.error(f"this {KEY_HEADER} was used for a request with another body")
        if held.response is None:
            self.metrics.api_idempotency.labels(outcome="in_flight").inc()
            self.metrics.duplicates.labels(layer="http_in_flight").inc()
            raise KEY_IN_USE.error("the first request with this key is still running", {"Retry-After": "1"})
        self.metrics.api_idempotency.labels(outcome="replayed").inc()
        self.metrics.duplicates.labels(layer="http_replay").inc()
        return _response(RecordedResponse(*held.response), replayed=True)


def idempotent_request(tenant: Callable[..., str]) -> Callable[..., Awaitable[IdempotentRequest]]:
    """The dependency that turns a POST into its scope and fingerprint, or refuses it (400, 415)."""

    async def dependency(
        request: Request,
        tenant_id: Annotated[str, Depends(tenant)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        key: Annotated[
            str | None,
            Header(
                alias=KEY_HEADER,
                description="1-255 printable ASCII characters, unique per request.",
                json_schema_extra=_key_schema,
            ),
        ] = None,
    ) -> IdempotentRequest:
        body = await request.body()
        if body and not _is_json(request.headers.get("content-type", "")):
            raise problems.ProblemError(problems.http(415, "the body must be application/json"))
        assert credentials is not None  # `tenant` refused the request otherwise
        scope = Scope(tenant_id, request.method, request.scope["route"].path_format, check_key(key))
        fingerprinted = fingerprint(body, _parameters(request))
        return IdempotentRequest(
            scope, fingerprinted, credentials.credentials, request_ids.request_id(request)
        )

    return dependency


def _parameters(request: Request) -> dict[str, Any]:
    """The path's parameters as the endpoint reads them. A value it refuses is left as sent:
    FastAPI answers that request with 422 before the endpoint, and so before any claim."""
    declared = inspect.signature(request.scope["route"].endpoint).parameters
    parameters = {}
    for name, sent in request.path_params.items():
        reader = _reader(declared[name].annotation)
        try:
            parameters[name] = reader.dump_python(reader.validate_python(sent), mode="json")
        except ValidationError:
            parameters[name] = sent
    return parameters


@functools.cache
def _reader(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _key_schema(schema: dict[str, Any]) -> None:
    """Document the header as the string it must be (FastAPI would say "string or null", for
    the None with which the dependency learns that it is missing)."""
    schema.pop("anyOf", None)
    schema.update(type="string", pattern=KEY_PATTERN)


def check_key(key: str | None) -> str:
    if key is None:
        raise KEY_MISSING.error(f"every POST needs an {KEY_HEADER} header")
    if not re.fullmatch(KEY_PATTERN, key):
        raise KEY_MALFORMED.error(f"{KEY_HEADER} must be 1-255 printable ASCII characters")
    return key


def fingerprint(body: bytes, parameters: dict[str, Any]) -> str:
    """On a route without parameters, the body's alone: equal to the fingerprints of the
    records kept before parameters were part of it."""
    text = canonical(body) if body else ""
    if parameters:
        text = json.dumps([parameters, text], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _response(answer: RecordedResponse, replayed: bool) -> Response:
    headers = dict(answer.headers) | ({REPLAYED_HEADER: "true"} if replayed else {})
    return Response(answer.body, answer.status, headers=headers)
