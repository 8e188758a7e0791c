"""What both simulators do the same way over HTTP.

An `Idempotency-Key` header is required on every POST (400 without one, or with an empty,
over-long or unprintable one). A request the simulator cannot read is a 400, so that 422
means one thing only: the key was first used for a different request. A lost answer is
held until the client gives up, which is how a reply goes missing on a real network after
the work was done.
"""

import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict
from typing import Annotated, Any

import anyio
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from infrastructure.simulators.keys import Answered, KeyReusedError

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
    """What was done under the key, as JSON; a lost answer is sent only once the client has
    disconnected (or after LOST_ANSWER_HELD_S), so it reaches nobody."""
    if answer.lose_answer:
        with anyio.move_on_after(LOST_ANSWER_HELD_S):
            while (await request.receive())["type"] != "http.disconnect":
                pass
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(asdict(answer.done), headers=headers)


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def simulator_app(
    title: str, errors: dict[type[Exception], int], lifespan: Lifespan | None = None
) -> FastAPI:
    """An app answering 400 to unreadable requests, 422 to a reused key, and each of `errors`
    with its status code and the exception's message."""
    app = FastAPI(title=title, lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, _status(400))
    statuses: dict[type[Exception], int] = {KeyReusedError: 422, **errors}
    for error, status in statuses.items():
        app.add_exception_handler(error, _status(status))
    return app


def _status(code: int) -> Callable[[Request, Exception], JSONResponse]:
    def answer(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=code)

    return answer


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM. Binding first turns a port in use into an OSError for the
    caller to report, rather than a log line and an exit from inside uvicorn."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    config = uvicorn.Config(app, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[listener])
