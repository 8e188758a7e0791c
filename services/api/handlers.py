"""How each exception a request can end in becomes a problem response, replacing FastAPI's
own handlers (whose bodies are plain JSON) for validation and HTTP errors."""

import logging

import psycopg
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from domain.errors import DomainError
from services.api import problems
from services.api.problems import (
    CONTENTION,
    RETRY_LATER,
    UNAVAILABLE,
    VALIDATION_FAILED,
    FieldError,
    ProblemError,
)
from services.application import ConcurrencyError

log = logging.getLogger(__name__)

# What a request ends in while the database is away or overwhelmed, each a condition that
# passes: a connection refused, lost or timed out, the pool's wait for one timed out
# (psycopg_pool's PoolTimeout is an OperationalError), a pooled connection found closed; and
# the event store's wrappers of the same (after the library's own retries).
UNAVAILABLE_ERRORS = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    persistence.OperationalError,
    persistence.InterfaceError,
)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ConcurrencyError, _contention)
    for unavailable in UNAVAILABLE_ERRORS:
        app.add_exception_handler(unavailable, _unavailable)
    app.add_exception_handler(Exception, _crash)


async def _problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProblemError)
    return problems.response(error.problem, error.headers)


async def _domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)
    return problems.response(problems.from_domain_error(error))


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    fields = [FieldError(loc=list(e["loc"]), msg=e["msg"], type=e["type"]) for e in error.errors()]
    detail = f"{len(fields)} field(s) failed validation"
    return problems.response(VALIDATION_FAILED.problem(detail, errors=fields))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return problems.response(problems.http(error.status_code, error.detail), error.headers)


async def _contention(request: Request, error: Exception) -> Response:
    return problems.response(CONTENTION.problem(str(error)), {"Retry-After": "1"})


async def _unavailable(request: Request, error: Exception) -> Response:
    """The client learns to come back later; the operator, from the log, why."""
    log.warning("%s %s: the database is unavailable: %s", request.method, request.url.path, error)
    return problems.response(UNAVAILABLE.problem("try again later"), RETRY_LATER)


async def _crash(request: Request, error: Exception) -> Response:
    """The server logs the traceback (Starlette re-raises the error after this answer)."""
    return problems.response(problems.http(500))
