"""`domain.ports.Carrier` over a carrier's HTTP API (the simulator's:
`infrastructure/simulators/carrier/app.py`).

The fulfillment context's idempotency key goes out as the `Idempotency-Key` of every
attempt, so however often the booking (or a cancel, or a hand-over) is retried the carrier
does it once. A cancel or hand-over the parcel's state does not allow (409 with a refusal's
problem type) is the carrier's answer, returned as a "refused" reply naming the parcel; any
other 4xx (an unknown tracking id, a reused key) raises `GatewayRefusedError`. With an
`AttemptLog`, every attempt is recorded under its key (`infrastructure/calls/attempts.py`).
"""

from collections.abc import Mapping
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel

from domain.ports import CarrierReply, CarrierTimeoutError
from infrastructure.calls.attempts import AttemptLog
from infrastructure.gateways.retrying import GatewayRefusedError, JsonGateway, RetryPolicy


class _Booking(BaseModel):
    status: Literal["accepted", "refused"]
    tracking_id: str
    reason: str = ""


class _Moved(BaseModel):
    status: Literal["cancelled", "handed_over"]
    tracking_id: str


class HttpCarrier:
    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        attempts: AttemptLog | None = None,
    ) -> None:
        """`headers` go with every request (credentials, or a simulator's behaviour switch)."""
        self._gateway = JsonGateway(base_url, policy or RetryPolicy(), CarrierTimeoutError, headers, attempts)

    def ship(self, *, idempotency_key: str, destination: str) -> CarrierReply:
        reply = self._gateway.post("book", "/v1/shipments", idempotency_key, {"destination": destination})
        answer = _Booking.model_validate(reply)
        return CarrierReply(answer.status, answer.tracking_id, answer.reason)

    def cancel(self, *, idempotency_key: str, tracking_id: str) -> CarrierReply:
        return self._move("cancel", idempotency_key, tracking_id, "cancel")

    def hand_over(self, *, idempotency_key: str, tracking_id: str) -> CarrierReply:
        return self._move("hand_over", idempotency_key, tracking_id, "handover")

    def close(self) -> None:
        self._gateway.close()

    def _move(self, operation: str, idempotency_key: str, tracking_id: str, action: str) -> CarrierReply:
        path = f"/v1/shipments/{quote(tracking_id, safe='')}/{action}"
        try:
            reply = self._gateway.post(operation, path, idempotency_key, {})
        except GatewayRefusedError as error:
            if error.refusal is None:
                raise
            return CarrierReply("refused", tracking_id, error.detail, error.refusal.name)
        return CarrierReply("accepted", _Moved.model_validate(reply).tracking_id)
