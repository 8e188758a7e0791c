"""Which request an answer, a log line and a command belong to: `X-Request-ID` and `traceparent`.

A client, or a proxy in front of the API, may name its request with `X-Request-ID` (1-128
visible ASCII characters) and pass a W3C trace context in `traceparent`
(`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, neither id all zeros). Either
header, if malformed, is ignored rather than refused: an id is for finding a request
afterwards, and no request should fail for it. The request's id is the `X-Request-ID` sent,
else the trace id of the `traceparent` sent, else a new uuid4 hex.

Every answer carries the id back in `X-Request-ID`, and a `traceparent` of the same trace (the
one sent, or one derived from the request id, so that a retry with the same `X-Request-ID`
stays in its trace) with a new parent id: this server's span. That includes the problems,
the 413s of the body limit, and the 500 that Starlette's own error middleware answers a crash
with, since this middleware wraps the whole application (`app.py`).

While a request is handled its id is bound to every log line (a context variable, inherited
by the thread an endpoint runs in), and it ends with one access line: method, route template,
status and duration. The routes make it the `correlation_id` of every command they issue, so
the events of a request, the saga's commands and the calls to the provider and the carrier
that follow from them can all be found by it (docs/OPERATIONS.md, "Logs and ids").
"""

import hashlib
import logging
import re
import secrets
import uuid

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp

from services.bootstrap import RequestLogging

REQUEST_ID_HEADER = "X-Request-ID"
TRACEPARENT_HEADER = "traceparent"
REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
TRACEPARENT = re.compile(r"00-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})")
HEX_ID = re.compile(r"[0-9a-f]{32}")
UNSAMPLED = "00"  # this server records no traces: it only passes a caller's decision on

log = logging.getLogger(__name__)


def request_ids(app: ASGIApp) -> RequestLogging:
    """ASGI middleware: the ids of each HTTP request, bound, answered and logged."""
    return RequestLogging(app, _ids, log)


def _ids(headers: Headers) -> tuple[dict[str, str], dict[str, str]]:
    request_id, trace_id, flags = identify(headers)
    return {"request_id": request_id}, {
        REQUEST_ID_HEADER: request_id,
        TRACEPARENT_HEADER: traceparent(trace_id, flags),
    }


def identify(headers: Headers) -> tuple[str, str, str]:
    """(request id, trace id, trace flags) of a request with these headers."""
    sent = TRACEPARENT.fullmatch(headers.get(TRACEPARENT_HEADER, ""))
    if sent is not None and (_all_zeros(sent["trace"]) or _all_zeros(sent["parent"])):
        sent = None
    request_id = headers.get(REQUEST_ID_HEADER, "")
    if not REQUEST_ID.fullmatch(request_id):
        request_id = sent["trace"] if sent else uuid.uuid4().hex
    if sent is not None:
        return request_id, sent["trace"], sent["flags"]
    return request_id, trace_id_of(request_id), UNSAMPLED


def trace_id_of(request_id: str) -> str:
    """The trace id of a request that came without a trace: the request id itself when it is
    one (32 hex digits, not all zeros, as the ids made here are), else a digest of it."""
    if HEX_ID.fullmatch(request_id) and not _all_zeros(request_id):
        return request_id
    return hashlib.sha256(request_id.encode()).hexdigest()[:32]


def traceparent(trace_id: str, flags: str) -> str:
    """A `traceparent` in `trace_id` whose parent is a new span of this server's."""
    span_id = secrets.randbelow(2**64 - 1) + 1  # never all zeros, which would be invalid
    return f"00-{trace_id}-{span_id:016x}-{flags}"


def request_id(request: Request) -> str:
    """The id `request_ids` gave the request."""
    return str(request.state.request_id)


def _all_zeros(hex_id: str) -> bool:
    return not hex_id.strip("0")
