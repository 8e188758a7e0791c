"""The ids a caller sends with each request, as a real provider or carrier takes them: logged
with the request and sent back, never a reason to refuse it.

`X-Request-ID`, `X-Correlation-ID` and `X-Causation-ID` (the system's gateway names with them
the flow a call belongs to and what caused it) are each taken when they are 1-255 printable
ASCII characters and ignored otherwise. While a request is handled they are bound to every
log line, as `request_id`, `correlation_id` and `causation_id` (`infrastructure/logs.py`);
the request ends with one access line (method, route, status, duration); and its answer
carries them back in the same headers. The provider keeps the correlation id with the
operation (`CorrelationId`), and its webhooks send it back.
"""

import logging
import re
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp

from infrastructure.logs import RequestLogging

HEADERS = {  # each header, and its field on a log line
    "X-Request-ID": "request_id",
    "X-Correlation-ID": "correlation_id",
    "X-Causation-ID": "causation_id",
}
CALLER_ID = re.compile(r"[\x20-\x7e]{1,255}")

log = logging.getLogger(__name__)


def sent(headers: Headers) -> dict[str, str]:
    """The well-formed ids among `headers`, by header name."""
    return {name: headers[name] for name in HEADERS if CALLER_ID.fullmatch(headers.get(name, ""))}


def identify(headers: Headers) -> tuple[dict[str, str], dict[str, str]]:
    """The caller's ids, by log field, and the same ids to send back, by header."""
    ids = sent(headers)
    return {HEADERS[name]: value for name, value in ids.items()}, ids


def caller_ids(app: ASGIApp) -> RequestLogging:
    """ASGI middleware: each request's ids bound to its log lines, logged and sent back."""
    return RequestLogging(app, identify, log)


def _correlation_id(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", ""))


# The correlation id the caller sent, or "" when it sent none (or a malformed one).
CorrelationId = Annotated[str, Depends(_correlation_id)]
