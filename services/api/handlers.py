"""How each exception a request can end in becomes a problem response, replacing FastAPI's
own handlers (whose bodies are plain JSON) for validation and HTTP errors."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from domain.errors import DomainError
from services.api import problems
from services.api.problems import CONTENTION, VALIDATION_FAILED, FieldError, ProblemError
from services.application import ConcurrencyError


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ConcurrencyError, _contention)
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


async def _crash(request: Request, error: Exception) -> Response:
    """The server logs the traceback (Starlette re-raises the error after this answer)."""
    return problems.response(problems.http(500))
