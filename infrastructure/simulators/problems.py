"""Every error and refusal the simulators send: an RFC 9457 problem (`application/problem+json`).

A problem's `type` is a stable `tag:` URI (RFC 4151: it names the type and is not meant to be
fetched, like the API's), one per simulator and name, so a client can tell them apart without
reading prose. Two kinds must never be confused by a client:

  a refusal  (`refusal=True`, 409 or 422) is the business answer of a party that understood
             the request and will not do it in the state it met: a capture after a void, a
             refund above what remains captured, a cancel of a parcel that has left. It is
             recorded as the key's answer, so a retry under the key gets it again; the
             gateways turn it into a "refused" reply.
  any other  4xx says the request itself is wrong (unreadable, an unknown authorization or
             parcel, a key first used for another request): the gateways raise
             `GatewayRefusedError`, for the caller to park rather than retry.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from domain.ports import RequestRejectedError

PREFIX = "tag:idempotent-orders,2026:simulator/"
MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    simulator: str  # psp, carrier, or "" for both
    name: str  # unique across simulators: what a ledger row stores and a reply's `code` says
    status: int
    title: str
    refusal: bool = False

    @property
    def uri(self) -> str:
        return f"{PREFIX}{self.simulator}/{self.name}" if self.simulator else f"{PREFIX}{self.name}"

    def response(
        self, detail: str, headers: Mapping[str, str] | None = None, **extensions: Any
    ) -> JSONResponse:
        body = {**extensions, "type": self.uri, "title": self.title, "status": self.status, "detail": detail}
        return JSONResponse(body, self.status, headers=dict(headers or {}), media_type=MEDIA_TYPE)

    def rejected(self, detail: str) -> RequestRejectedError:
        """What an in-process implementation raises where the simulator would answer this problem."""
        return RequestRejectedError(
            f"HTTP {self.status} {self.title}: {detail}", status=self.status, detail=detail
        )


BAD_REQUEST = ProblemType("", "bad-request", 400, "The request cannot be read")
KEY_REUSED = ProblemType("", "key-reused", 422, "The idempotency key was first used for another request")

UNKNOWN_AUTHORIZATION = ProblemType("psp", "unknown-authorization", 404, "No such approved authorization")
SERVER_ERROR = ProblemType("psp", "server-error", 503, "Simulated server error, nothing was done")
CURRENCY_MISMATCH = ProblemType("psp", "currency-mismatch", 422, "Not the authorization's currency")
AUTHORIZATION_VOIDED = ProblemType("psp", "authorization-voided", 409, "The authorization is voided", True)
AUTHORIZATION_CAPTURED = ProblemType(
    "psp", "authorization-captured", 409, "The authorization is already captured", True
)
NOT_CAPTURED = ProblemType("psp", "not-captured", 409, "Nothing was captured to refund", True)
AMOUNT_ABOVE_AUTHORIZED = ProblemType(
    "psp", "amount-above-authorized", 422, "The capture is above the authorized amount", True
)
AMOUNT_ABOVE_CAPTURED = ProblemType(
    "psp", "amount-above-captured", 422, "The refund is above what remains captured", True
)

UNKNOWN_PARCEL = ProblemType("carrier", "unknown-parcel", 404, "No such parcel")
PARCEL_HANDED_OVER = ProblemType("carrier", "parcel-handed-over", 409, "The parcel is handed over", True)
PARCEL_CANCELLED = ProblemType("carrier", "parcel-cancelled", 409, "The parcel is cancelled", True)

BY_NAME = {
    problem.name: problem
    for problem in (
        BAD_REQUEST,
        KEY_REUSED,
        UNKNOWN_AUTHORIZATION,
        SERVER_ERROR,
        CURRENCY_MISMATCH,
        AUTHORIZATION_VOIDED,
        AUTHORIZATION_CAPTURED,
        NOT_CAPTURED,
        AMOUNT_ABOVE_AUTHORIZED,
        AMOUNT_ABOVE_CAPTURED,
        UNKNOWN_PARCEL,
        PARCEL_HANDED_OVER,
        PARCEL_CANCELLED,
    )
}
BY_URI = {problem.uri: problem for problem in BY_NAME.values()}


def refusal_of(problem_type: str) -> ProblemType | None:
    """The business refusal a problem's `type` names, or None if it is not one."""
    problem = BY_URI.get(problem_type)
    return problem if problem is not None and problem.refusal else None
