"""The carrier simulator's HTTP API.

  POST /v1/shipments  {destination}        -> a booking: status accepted (with a tracking id) or refused
  POST /v1/shipments/{tracking_id}/cancel   -> status cancelled; 409 once the parcel is handed over
  POST /v1/shipments/{tracking_id}/handover -> status handed_over; 409 once the parcel is cancelled
  GET  /shipments                          every booking and its parcel's state, oldest first

Every POST needs an `Idempotency-Key`; a replay is answered with the first answer (a refusal
included) and `Idempotent-Replayed: true`, and 422 means the key was first used for another
request. Cancelling a cancelled parcel, or handing over a handed-over one, under another key
answers as the first did. An unknown tracking id is a 404. Errors are problem+json
(`infrastructure/simulators/problems.py`).

Failures on demand: a destination containing "FAIL" is refused, and the header
`X-Sim-Behaviour` loses the first answer of a new request after doing its work (held until
the client gives up; a retry with the same key gets the answer):
`timeout_after_booking` for a booking, `timeout_after_cancel` for a cancel and
`timeout_after_handover` for a hand-over. Each operation ignores the other two values, so a
client may send one header with every request; any other value is a 400.
"""

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import FastAPI, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from infrastructure.settings import Settings
from infrastructure.simulators import problems, web
from infrastructure.simulators.carrier.bookings import Bookings
from infrastructure.simulators.carrier.parcels import Parcels, UnknownParcelError

# the failures the X-Sim-Behaviour header can ask for
Behaviour = Literal["timeout_after_booking", "timeout_after_cancel", "timeout_after_handover"]
SimBehaviour = Annotated[Behaviour | None, Header()]
TrackingId = Annotated[str, Path(min_length=1, max_length=255)]


class ShipmentRequest(BaseModel):
    destination: Annotated[str, Field(min_length=1, max_length=1000)]


def create_app(settings: Settings, schema: str = "carrier") -> FastAPI:
    bookings = Bookings(settings, schema)
    parcels = Parcels(settings, schema)
    app = web.simulator_app(
        "Carrier simulator", {UnknownParcelError: problems.UNKNOWN_PARCEL}, duplicates_layer="carrier"
    )

    @app.post("/v1/shipments")
    async def ship(
        body: ShipmentRequest, key: web.IdempotencyKey, request: Request, x_sim_behaviour: SimBehaviour = None
    ) -> JSONResponse:
        lose = x_sim_behaviour == "timeout_after_booking"
        answer = await run_in_threadpool(lambda: bookings.book(key, body.destination, lose))
        return await web.reply(answer, request)

    @app.post("/v1/shipments/{tracking_id}/cancel")
    async def cancel(
        tracking_id: TrackingId,
        key: web.IdempotencyKey,
        request: Request,
        x_sim_behaviour: SimBehaviour = None,
    ) -> JSONResponse:
        lose = x_sim_behaviour == "timeout_after_cancel"
        answer = await run_in_threadpool(lambda: parcels.cancel(key, tracking_id, lose))
        return await web.reply(answer, request)

    @app.post("/v1/shipments/{tracking_id}/handover")
    async def hand_over(
        tracking_id: TrackingId,
        key: web.IdempotencyKey,
        request: Request,
        x_sim_behaviour: SimBehaviour = None,
    ) -> JSONResponse:
        lose = x_sim_behaviour == "timeout_after_handover"
        answer = await run_in_threadpool(lambda: parcels.hand_over(key, tracking_id, lose))
        return await web.reply(answer, request)

    @app.get("/shipments")
    def shipments() -> JSONResponse:
        return JSONResponse({"shipments": [asdict(parcel) for parcel in bookings.all()]})

    return app
