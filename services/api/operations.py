"""Probes and metrics, without authentication: the orchestrator and the scraper hold no key.

`/healthz` says the process answers; `/readyz` that it can reach every context's event store
(a load balancer should send traffic only then); `/metrics` is the Prometheus text format.
"""

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import PlainTextResponse

from services.api import problems
from services.api.metrics import CONTENT_TYPE, Metrics
from services.api.problems import ProblemError, documented
from services.bootstrap import System


class Status(BaseModel):
    status: str


def router(system: System, metrics: Metrics) -> APIRouter:
    ops = APIRouter()

    @ops.get("/healthz", response_model=Status)
    def healthz() -> Status:
        return Status(status="ok")

    @ops.get("/readyz", response_model=Status, responses=documented(503))
    def readyz() -> Status:
        for context in system.contexts:
            try:
                context.recorder.max_notification_id()
            except Exception as error:
                detail = f"the {context.name} event store does not answer: {error}"
                raise ProblemError(problems.http(503, detail)) from error
        return Status(status="ready")

    @ops.get("/metrics", response_class=PlainTextResponse)
    def metrics_text() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)

    return ops
