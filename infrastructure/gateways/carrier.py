"""`domain.ports.Carrier` over a carrier's HTTP API (the simulator's:
`infrastructure/simulators/carrier/app.py`).

The fulfillment context's idempotency key goes out as the `Idempotency-Key` of every
attempt, so however often the booking is retried the carrier books one parcel.
"""

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel

from domain.ports import CarrierReply, CarrierTimeoutError
from infrastructure.gateways.retrying import JsonGateway, RetryPolicy


class _Answer(BaseModel):
    status: Literal["accepted", "refused"]
    tracking_id: str
    reason: str = ""


class HttpCarrier:
    def __init__(
        self, base_url: str, policy: RetryPolicy | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        """`headers` go with every request (credentials, or a simulator's behaviour switch)."""
        self._gateway = JsonGateway(base_url, policy or RetryPolicy(), CarrierTimeoutError, headers)

    def ship(self, *, idempotency_key: str, destination: str) -> CarrierReply:
        reply = self._gateway.post("/v1/shipments", idempotency_key, {"destination": destination})
        answer = _Answer.model_validate(reply)
        return CarrierReply(answer.status, answer.tracking_id, answer.reason)

    def close(self) -> None:
        self._gateway.close()
