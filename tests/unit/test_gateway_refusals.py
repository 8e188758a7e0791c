"""How the gateway clients read a 4xx: a business refusal (a refusal's problem type, with its
status) is the other side's answer; anything else means our request is wrong."""

from typing import Any

import httpx
import pytest

from domain.ports import RequestRejectedError
from infrastructure.gateways import GatewayRefusedError
from infrastructure.simulators import problems


def refused(status: int, body: Any) -> GatewayRefusedError:
    return GatewayRefusedError.of("/v1/captures", httpx.Response(status, json=body))


@pytest.mark.parametrize(
    "problem",
    [problems.AUTHORIZATION_VOIDED, problems.AMOUNT_ABOVE_CAPTURED, problems.PARCEL_HANDED_OVER],
)
def test_a_refusal_type_with_its_status_is_a_business_refusal(problem: problems.ProblemType) -> None:
    error = refused(problem.status, {"type": problem.uri, "title": problem.title, "detail": "why"})
    assert (error.refusal, error.status, error.detail) == (problem, problem.status, "why")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (422, {"type": problems.KEY_REUSED.uri, "detail": "key reused"}),
        (422, {"type": problems.CURRENCY_MISMATCH.uri, "detail": "another currency"}),
        (404, {"type": problems.UNKNOWN_AUTHORIZATION.uri, "detail": "unknown"}),
        (400, {"type": "about:blank", "detail": "unreadable"}),
        (400, {"type": problems.AUTHORIZATION_VOIDED.uri, "detail": "a refusal's type, not its status"}),
        (409, "not a problem"),
    ],
)
def test_any_other_4xx_is_a_rejected_request(status: int, body: Any) -> None:
    error = refused(status, body)
    assert error.refusal is None
    assert isinstance(error, RequestRejectedError)
    assert error.status == status and f"HTTP {status}" in str(error)


def test_the_detail_of_a_body_that_is_not_a_problem_is_its_text() -> None:
    error = GatewayRefusedError.of("/v1/voids", httpx.Response(418, text="teapot"))
    assert (error.detail, error.problem, error.refusal) == ("teapot", {}, None)
