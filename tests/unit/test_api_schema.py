"""The API against its own OpenAPI document, in process: for requests that schemathesis
generates from /openapi.json (valid and invalid ones, a fixed seed, a bounded number per
operation), no answer is a 5xx, and every answer is one the document declares: its status,
content type, headers and body schema, problem+json errors included."""

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.api import ACME, API_KEYS, WEBHOOK_SECRET, restock

from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.settings import Settings
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.api.schemas import EXAMPLE_ORDER
from services.bootstrap import build

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
CONFIG = {
    "seed": 20_260_101,
    "headers": ACME,  # generated requests act as one tenant; auth has tests of its own
    "generation": {"mode": "all", "with-security-parameters": False, "database": "none"},
}


# Loaded at import, as parametrize needs the operations to collect one test per operation
# (schemathesis' fixture-based loader does not run on this pytest); in memory, nothing connects.
APP = create_app(
    build(Settings(database_url=None)),
    InMemoryIdempotencyStore(),
    InMemoryWebhookStore(),
    ApiConfig(api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture(scope="module", autouse=True)
def stocked() -> None:
    """The documented example order can then be placed, so success answers are checked too."""
    for line in EXAMPLE_ORDER["lines"]:
        restock(TestClient(APP), line["sku"])


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_one_the_openapi_document_declares(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
