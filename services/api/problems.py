"""Every 4xx and 5xx the API sends is an RFC 9457 problem (`application/problem+json`).

A problem's `type` is a stable `tag:` URI (RFC 4151: it names the type and is not meant to be
fetched). A domain error's type is built from its `code`, the same code the command log
records, so a refusal replayed from the log has the type of the first. The statuses of the
three domain families are in docs/adr/0003-api-idempotency.md: a malformed command 422, a
missing thing 404, a refusal by the current state 409. Plain HTTP errors (no such route, wrong
method, body too large, wrong media type, a crash) are `about:blank`, titled by their status.
The OpenAPI document lists the types of each operation's problems, status by status
(`documented`), built by the same functions as the problems themselves.
The answers that ask the client to come back (429, 503) say when, in Retry-After, and never
why: the cause of a 503 is logged for the operator, not sent.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from domain.errors import CommandIdReusedError, DomainError, InvalidCommandError, NotFoundError
from services.api.store import RecordedResponse

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "tag:idempotent-orders,2026:problem/"
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = None  # a domain error's code
    errors: list[FieldError] | None = None  # what failed validation, field by field


@dataclass(frozen=True)
class ProblemType:
    name: str  # empty for a plain HTTP error, whose type is about:blank
    status: int
    title: str

    @property
    def uri(self) -> str:
        return TYPE_PREFIX + self.name if self.name else "about:blank"

    def problem(self, detail: str, **extensions: Any) -> Problem:
        return Problem(type=self.uri, title=self.title, status=self.status, detail=detail, **extensions)

    def error(self, detail: str, headers: Mapping[str, str] | None = None) -> "ProblemError":
        return ProblemError(self.problem(detail), headers)


UNAUTHENTICATED = ProblemType("unauthenticated", 401, "Missing or unknown API key")
WEBHOOK_UNSIGNED = ProblemType("webhook-signature-invalid", 401, "Missing or wrong webhook signature")
VALIDATION_FAILED = ProblemType("validation-failed", 422, "The request does not match its schema")
KEY_MISSING = ProblemType("idempotency-key-missing", 400, "Idempotency-Key header required")
KEY_MALFORMED = ProblemType("idempotency-key-malformed", 400, "Idempotency-Key header malformed")
KEY_REUSED = ProblemType("idempotency-key-reused", 422, "Idempotency-Key used for another request")
KEY_IN_USE = ProblemType("idempotency-key-in-use", 409, "A request with this Idempotency-Key is running")
CONTENTION = ProblemType("contention", 503, "Too many concurrent changes; try again")
UNAVAILABLE = ProblemType("unavailable", 503, "Temporarily unavailable; try again later")
RATE_LIMITED = ProblemType("rate-limited", 429, "Too many writes with this API key")
# For UNAVAILABLE: a database restarts or fails over in seconds; a client refused again waits again.
RETRY_LATER = {"Retry-After": "5"}


class ProblemError(Exception):
    """Raised anywhere while handling a request, to answer with `problem`."""

    def __init__(self, problem: Problem, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(problem.detail or problem.title)
        self.problem = problem
        self.headers = dict(headers or {})


def http(status: int, detail: str | None = None) -> Problem:
    """A problem with no meaning beyond its HTTP status."""
    phrase = HTTPStatus(status).phrase
    return Problem(title=phrase, status=status, detail=None if detail == phrase else detail)


def plain(status: int) -> ProblemType:
    """The type of the problems `http` makes with this status, as the OpenAPI document lists it."""
    return ProblemType("", status, HTTPStatus(status).phrase)


def problem_type(error: type[DomainError], status: int | None = None) -> ProblemType:
    """The type of the problems answering `error`: named by its code, with the status of its
    family unless `status` is given. Both `from_domain_error` and the OpenAPI document use it,
    so the document lists the types the server sends."""
    if issubclass(error, CommandIdReusedError):  # the key's command already ran with another body
        return KEY_REUSED
    return ProblemType(error.code.replace("_", "-"), status or _status(error), _title(error.code))


def from_domain_error(error: DomainError, status: int | None = None) -> Problem:
    kind = problem_type(type(error), status)
    if kind is KEY_REUSED:
        return kind.problem(str(error))
    return kind.problem(str(error), code=error.code)


def recorded(problem: Problem) -> RecordedResponse:
    return RecordedResponse(problem.status, (("content-type", MEDIA_TYPE),), _body(problem))


def response(problem: Problem, headers: Mapping[str, str] | None = None) -> Response:
    return Response(_body(problem), problem.status, headers=dict(headers or {}), media_type=MEDIA_TYPE)


def documented(*answers: ProblemType) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these problems, and for any other status (`default`), as problems.

    Each status lists its problem types, in its description and as the `enum` of the `type` its
    schema allows, so that a conformance test finds a type the document does not list.
    UNAVAILABLE is always among them: every operation that answers problems reads or writes the
    database, which may be away."""
    kinds: dict[int, dict[str, ProblemType]] = {}
    for kind in (*answers, UNAVAILABLE):
        kinds.setdefault(kind.status, {})[kind.uri] = kind
    responses: dict[int | str, dict[str, Any]] = {
        status: _response(status, list(kinds[status].values())) | _headers(status) for status in sorted(kinds)
    }
    responses["default"] = {"description": "Any other error", "content": _content(PROBLEM_SCHEMA)}
    return responses


def _response(status: int, kinds: list[ProblemType]) -> dict[str, Any]:
    """A problem response of `status`, of one of these types (of any, if none are given)."""
    phrase = HTTPStatus(status).phrase
    if not kinds:
        return {"description": phrase, "content": _content(PROBLEM_SCHEMA)}
    listed = "\n".join(f"- `{kind.uri}`: {kind.title}" for kind in kinds)
    narrowed = {"properties": {"type": {"enum": [kind.uri for kind in kinds]}, "status": {"const": status}}}
    return {
        "description": f"{phrase}, as one of these problem types:\n\n{listed}",
        "content": _content({"allOf": [PROBLEM_SCHEMA, narrowed]}),
    }


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {MEDIA_TYPE: {"schema": schema}}


def _headers(status: int) -> dict[str, Any]:
    """Every 429 and 503 says when to try again."""
    if status not in (429, 503):
        return {}
    retry_after = {
        "required": True,
        "description": "Seconds to wait.",
        "schema": {"type": "integer", "minimum": 1},
    }
    return {"headers": {"Retry-After": retry_after}}


def _status(error: type[DomainError]) -> int:
    if issubclass(error, InvalidCommandError):
        return 422
    if issubclass(error, NotFoundError):
        return 404
    return 409


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _body(problem: Problem) -> bytes:
    return problem.model_dump_json(exclude_none=True).encode()
