"""The API against its own OpenAPI document, in process, with every check schemathesis has.

Two tests draw requests from /openapi.json: one operation at a time (requests valid and invalid
by the document, a bounded number each), and chains of calls that follow the document's links
(place an order, then read or cancel it; restock a SKU, then read its stock). Every answer is
checked: no 5xx; its status, content type, headers and body are ones the document declares,
problem types included; a request the document calls invalid is refused and one it calls valid
is accepted; a request without the API key is refused; what a link leads to exists.

A valid request may still be refused by the state, which no schema can express: an order for a
SKU the tenant never stocked (422), an order that does not exist (404), one past cancelling, or
a key whose first request still runs (409). positive_data_acceptance allows these statuses;
`refused_only_beyond_the_schema` checks that a 422 to a valid request is the unknown SKU, never
a rule the document could have declared, or one of two rules beyond JSON Schema: an order's
total must stay within the money limit (a sum over its lines), and an integer must be written
as one (JSON Schema counts `2.0` as 2). A key drawn again for another request is replaced
(`before_call`), as a client keeps a key to one request.

Each run draws at a fresh seed, printed with a failure; ORDERS_SCHEMA_SEED=<seed> replays it.
Strings are drawn from ASCII: the document writes the text rule with Unicode properties
(`\\p{C}`, `\\p{Z}`), which the generator reads as only the control characters, so it would
offer unassigned and private-use characters, which the rule refuses, as valid text.
test_api_rules.py holds the rules to the domain outside ASCII.
"""

import json
import os
import random
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, seed, settings
from schemathesis.checks import CheckContext
from schemathesis.hooks import HookContext
from support.api import API_KEYS, WEBHOOK_SECRET, restock

from domain.errors import AmountOverflowError, UnknownSkuError
from infrastructure.idempotency_store import InMemoryIdempotencyStore
from infrastructure.settings import Settings
from infrastructure.webhook_store import InMemoryWebhookStore
from services.api import ApiConfig, create_app
from services.api.idempotency import KEY_HEADER
from services.api.problems import VALIDATION_FAILED, problem_type
from services.api.schemas import EXAMPLE_ORDER
from services.bootstrap import build

ACME_KEY = next(key for key, tenant in API_KEYS.items() if tenant == "acme")
SEED = int(os.environ.get("ORDERS_SCHEMA_SEED") or random.randrange(2**32))
# The 422s a valid request may get, and why: the state, or a sum over the order's lines.
BEYOND_THE_SCHEMA = {problem_type(UnknownSkuError, status=422).uri, problem_type(AmountOverflowError).uri}
# Each Idempotency-Key sent, and the request it was first sent with.
SENT: dict[str, tuple[str, str]] = {}
CONFIG = {
    "seed": SEED,
    "auth": {"openapi": {"HTTPBearer": {"bearer": ACME_KEY}}},  # generated requests act as one tenant
    "generation": {"mode": "all", "with-security-parameters": False, "database": "none", "codec": "ascii"},
    "checks": {
        "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "409", "422", "429"]},
    },
    "output": {"sanitization": {"enabled": False}},  # the test keys, shown in a failure's curl
}
SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)

# Loaded at import, as parametrize needs the operations to collect one test per operation
# (schemathesis' fixture-based loader does not run on this pytest); in memory, nothing connects.
APP = create_app(
    build(Settings(database_url=None)),
    InMemoryIdempotencyStore(),
    InMemoryWebhookStore(),
    # A limit no run reaches, so that the writes it sends in a burst are executed.
    ApiConfig(api_keys=API_KEYS, psp_webhook_secret=WEBHOOK_SECRET, write_rate_limit="1000000/second"),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=schemathesis.Config.from_dict(CONFIG))


@schemathesis.hook
def before_call(context: HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    """A valid request whose key was drawn before for another request gets a fresh key. A key
    is a client's for one request ("unique per request"), and one reused for another is refused
    (422) before the request reaches the rules it is drawn to test."""
    key = (case.headers or {}).get(KEY_HEADER)
    if not isinstance(key, str):
        return
    request = (case.operation.label, json.dumps([case.path_parameters, case.body], default=str))
    if SENT.setdefault(key, request) != request and case.meta and case.meta.generation.mode.is_positive:
        case.headers[KEY_HEADER] = f"schema-test-{len(SENT)}"
        SENT[case.headers[KEY_HEADER]] = request


@schemathesis.check
def refused_only_beyond_the_schema(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """A 422 to a request the document calls valid names a reason the document cannot declare."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return
    problem = response.json()
    if problem["type"] == VALIDATION_FAILED.uri:
        # JSON Schema counts `2.0` as the integer 2; the API reads bodies strictly and refuses it.
        assert all(_is_whole_float(case.body, error["loc"]) for error in problem["errors"]), problem
    else:
        assert problem["type"] in BEYOND_THE_SCHEMA, problem


def _is_whole_float(body: Any, loc: list[str | int]) -> bool:
    """Whether the member of the body at `loc` (`["body", "lines", 0, "quantity"]`) is `2.0`."""
    if loc[0] != "body":
        return False
    for step in loc[1:]:
        body = body[step]
    return isinstance(body, float) and body.is_integer()


@pytest.fixture(scope="module", autouse=True)
def stocked() -> None:
    """The documented example order can then be placed, so success answers are checked too."""
    for line in EXAMPLE_ORDER["lines"]:
        restock(TestClient(APP), line["sku"])


@pytest.fixture(autouse=True)
def reported_seed() -> None:
    print(f"ORDERS_SCHEMA_SEED={SEED}")  # pytest shows it with a failure, to replay the run


@schema.parametrize()
@settings(SETTINGS, max_examples=30)
def test_every_answer_is_one_the_openapi_document_declares(case: schemathesis.Case) -> None:
    case.call_and_validate()


def test_linked_calls_find_what_the_links_promise() -> None:
    machine = seed(SEED)(schema.as_state_machine())
    machine.run(settings=settings(SETTINGS, max_examples=15, stateful_step_count=6, phases=[Phase.generate]))
