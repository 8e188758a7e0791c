"""What both simulators do the same way over HTTP.

An `Idempotency-Key` header is required on every POST (400 without one, or with an empty,
over-long or unprintable one). A request the simulator cannot read is a 400, so that a 422
is either a key first used for a different request or a business refusal of an amount, and
its problem `type` says which (`infrastructure/simulators/problems.py`). Every error is a
problem+json body. A refusal recorded under a key is replayed like any other answer, with
`Idempotent-Replayed: true`, and counted as a duplicate absorbed, under the simulator's layer
(`provider` or `carrier`, in infrastructure/metrics.py). A lost answer is held until the
client gives up, which is how a reply goes missing on a real network after the work was done.
The caller's ids are logged with each request and sent back (`caller_ids.py`).
"""

import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict
from http import HTTPStatus
from typing import Annotated, Any

import anyio
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from infrastructure.metrics import METRICS
from infrastructure.simulators import problems
from infrastructure.simulators.caller_ids import caller_ids
from infrastructure.simulators.keys import Answered, KeyReusedError
from infrastructure.simulators.problems import ProblemType

MAX_KEY_LENGTH = 255
LOST_ANSWER_HELD_S = 30.0  # at most: longer than any client waits, short enough to shut down


def _idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str:
    if idempotency_key is None:
        raise HTTPException(400, "the Idempotency-Key header is required")
    if not 0 < len(idempotency_key) <= MAX_KEY_LENGTH or not idempotency_key.isprintable():
        raise HTTPException(400, f"the Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters")
    return idempotency_key


IdempotencyKey = Annotated[str, Depends(_idempotency_key)]


async def reply(answer: Answered[Any], request: Request) -> JSONResponse:
    """What was done under the key, as JSON, or the problem it was refused with (when the row
    names a `refusal`); a lost answer is sent only once the client has disconnected (or after
    LOST_ANSWER_HELD_S), so it reaches nobody."""
    if answer.lose_answer:
        with anyio.move_on_after(LOST_ANSWER_HELD_S):
            while (await request.receive())["type"] != "http.disconnect":
                pass
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if answer.replayed and request.app.state.duplicates_layer:
        METRICS.duplicates.labels(layer=request.app.state.duplicates_layer).inc()
    done = asdict(answer.done)
    refusal = done.get("refusal", "")
    if refusal:
        extensions = {k: v for k, v in done.items() if k not in ("status", "reason", "refusal")}
        return problems.BY_NAME[refusal].response(done["reason"], headers, **extensions)
    return JSONResponse(done, headers=headers)


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def simulator_app(
    title: str,
    errors: dict[type[Exception], ProblemType],
    lifespan: Lifespan | None = None,
    duplicates_layer: str = "",
) -> FastAPI:
    """An app answering 400 to unreadable requests, 422 to a reused key, and each of `errors`
    with its problem, the exception's message as the detail; its replies from its records are
    counted under `duplicates_layer` (not at all without one)."""
    app = FastAPI(title=title, lifespan=lifespan)
    app.state.duplicates_layer = duplicates_layer
    app.add_middleware(caller_ids)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(RequestValidationError, _unreadable)
    handled: dict[type[Exception], ProblemType] = {KeyReusedError: problems.KEY_REUSED, **errors}
    for error, problem in handled.items():
        app.add_exception_handler(error, _problem(problem))
    return app


def _problem(problem: ProblemType) -> Callable[[Request, Exception], JSONResponse]:
    def answer(_: Request, error: Exception) -> JSONResponse:
        return problem.response(str(error))

    return answer


def _unreadable(_: Request, error: Exception) -> JSONResponse:
    """A 400 naming each field that could not be read ("header.x-sim-behaviour: Input should be ...")."""
    assert isinstance(error, RequestValidationError)
    wrong = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    return problems.BAD_REQUEST.response("; ".join(wrong) or "the request cannot be read")


def _http_problem(_: Request, error: Exception) -> JSONResponse:
    """HTTPException: a missing key (400), an unknown path (404), a wrong method (405)."""
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400:
        return problems.BAD_REQUEST.response(str(error.detail))
    title = HTTPStatus(error.status_code).phrase
    body = {"type": "about:blank", "title": title, "status": error.status_code, "detail": str(error.detail)}
    return JSONResponse(body, error.status_code, error.headers, media_type=problems.MEDIA_TYPE)


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM. Binding first turns a port in use into an OSError for the
    caller to report, rather than a log line and an exit from inside uvicorn."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    config = uvicorn.Config(app, timeout_graceful_shutdown=2, log_config=None, access_log=False)
    uvicorn.Server(config).run(sockets=[listener])
