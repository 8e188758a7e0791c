"""Probes and metrics, without authentication: the orchestrator and the scraper hold no key.

`/healthz` says the process answers; `/readyz` that it can reach every context's event store
(a load balancer should send traffic only then); `/metrics` is the Prometheus text format.
Since anyone may ask, `/readyz` says ready or not ready and nothing more: which store failed,
and how, goes to the log.
"""

import logging

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import PlainTextResponse

from services.api.metrics import CONTENT_TYPE, Metrics
from services.api.problems import RETRY_LATER, UNAVAILABLE, documented
from services.bootstrap import System

log = logging.getLogger(__name__)


class Status(BaseModel):
    status: str


def router(system: System, metrics: Metrics) -> APIRouter:
    ops = APIRouter()

    @ops.get("/healthz", response_model=Status)
    def healthz() -> Status:
        return Status(status="ok")

    @ops.get("/readyz", response_model=Status, responses=documented(UNAVAILABLE))
    def readyz() -> Status:
        for context in system.contexts:
            try:
                context.recorder.max_notification_id()
            except Exception as error:
                log.warning("not ready: the %s event store does not answer: %s", context.name, error)
                raise UNAVAILABLE.error("not ready", RETRY_LATER) from error
        return Status(status="ready")

    @ops.get("/metrics", response_class=PlainTextResponse)
    def metrics_text() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)

    return ops
