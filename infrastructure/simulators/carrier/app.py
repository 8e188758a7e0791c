"""The carrier simulator's HTTP API.

  POST /v1/shipments  {destination}  -> a booking: status accepted (with a tracking id) or refused
  GET  /shipments                    every booking, oldest first

Every POST needs an `Idempotency-Key`; a replay is answered with the first booking and
`Idempotent-Replayed: true`, and 422 means the key was first used for another destination.
Failures on demand: a destination containing "FAIL" is refused, and the header
`X-Sim-Behaviour: timeout_after_booking` books the parcel and then loses the first answer
(held until the client gives up); a retry with the same key gets the booking.
"""

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from infrastructure.settings import Settings
from infrastructure.simulators import web
from infrastructure.simulators.carrier.bookings import Bookings

Behaviour = Literal["timeout_after_booking"]  # the failures the X-Sim-Behaviour header can ask for


class ShipmentRequest(BaseModel):
    destination: Annotated[str, Field(min_length=1, max_length=1000)]


def create_app(settings: Settings, schema: str = "carrier") -> FastAPI:
    bookings = Bookings(settings, schema)
    app = web.simulator_app("Carrier simulator", {})

    @app.post("/v1/shipments")
    async def ship(
        body: ShipmentRequest,
        key: web.IdempotencyKey,
        request: Request,
        x_sim_behaviour: Annotated[Behaviour | None, Header()] = None,
    ) -> JSONResponse:
        lose = x_sim_behaviour == "timeout_after_booking"
        answer = await run_in_threadpool(lambda: bookings.book(key, body.destination, lose))
        return await web.reply(answer, request)

    @app.get("/shipments")
    def shipments() -> JSONResponse:
        return JSONResponse({"shipments": [asdict(booking) for booking in bookings.all()]})

    return app
