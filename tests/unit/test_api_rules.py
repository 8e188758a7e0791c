"""The OpenAPI document declares the rules the domain enforces on text, for all of Unicode.

services/api/schemas.py restates each rule the domain checks on a string member of a request
body (a pattern, a length) for the document, and the schemathesis run draws ASCII only
(test_api_schema.py). Here strings from all of Unicode, and of lengths around the declared
limit, go into a body the API accepts. The document judges the body, with the validator
schemathesis uses, and the API answers it: a body the document calls valid is not refused by a
rule, and one it calls invalid is refused by the domain, with a 422 naming the rule.

Neither unassigned code points nor surrogates are drawn: which code points are assigned depends
on each side's version of Unicode, and a lone surrogate is not text the validator can take (the
API refuses it, test_api_bad_input.py).
"""

import copy
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.api import api_client, headers, key, order_body, restock

from domain.errors import UnknownSkuError
from infrastructure.settings import Settings
from services.api.problems import VALIDATION_FAILED, problem_type
from services.bootstrap import build

SKU = "SKU-1"
ORDER = order_body(SKU)
STATE = problem_type(UnknownSkuError, status=422).uri  # a SKU the rule allows, never stocked
MEMBERS = [  # path, body schema, where in the body
    *[
        ("/v1/orders", "PlaceOrderRequest", where)
        for where in [
            ("customer_id",),
            ("currency",),
            ("lines", 0, "sku"),
            ("shipping_address", "name"),
            ("shipping_address", "line1"),
            ("shipping_address", "city"),
            ("shipping_address", "postal_code"),
            ("shipping_address", "country"),
            ("payment", "token"),
        ]
    ],
    ("/v1/orders/{order_id}/cancel", "CancelRequest", ("reason",)),
]
CHARACTERS = st.characters(exclude_categories=["Cn", "Cs"])


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    system = build(Settings(database_url=None))
    yield api_client(system)
    system.close()


@pytest.fixture(scope="module")
def order_id(api: TestClient) -> str:
    restock(api, SKU)
    placed = api.post("/v1/orders", json=ORDER, headers=headers(key()))
    assert placed.status_code == 201, placed.text
    return str(placed.json()["order_id"])


def texts(limit: int | None) -> st.SearchStrategy[str]:
    """Short strings, and strings of about the length the document allows."""
    short = st.text(CHARACTERS, max_size=6)
    if limit is None:
        return short
    return st.one_of(short, st.text(CHARACTERS, min_size=limit - 1, max_size=limit + 1))


def with_member(body: dict[str, Any], where: tuple[str | int, ...], value: str) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, last = where
    container: Any = changed
    for step in parents:
        container = container[step]
    container[last] = value
    return changed


@pytest.mark.parametrize(
    ("path", "schema_name", "where"), MEMBERS, ids=["/".join(map(str, m[2])) for m in MEMBERS]
)
def test_a_string_the_document_allows_is_one_the_domain_accepts(
    api: TestClient, order_id: str, path: str, schema_name: str, where: tuple[str | int, ...]
) -> None:
    components = api.get("/openapi.json").json()["components"]
    document = jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    )
    good = ORDER if schema_name == "PlaceOrderRequest" else {"reason": "changed my mind"}
    member: dict[str, Any] = {"$ref": f"#/components/schemas/{schema_name}"}
    for step in where:
        member = _resolved(components, member)
        member = member["items"] if isinstance(step, int) else member["properties"][step]
    member = _resolved(components, member)

    @given(texts(member.get("maxLength")))
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    def agree(text: str) -> None:
        body = with_member(good, where, text)
        answer = api.post(path.format(order_id=order_id), json=body, headers=headers(key()))
        refused = answer.status_code == 422 and answer.json()["type"] not in (VALIDATION_FAILED.uri, STATE)
        assert answer.status_code < 500, answer.text
        assert refused != document.is_valid(body), f"{text!r}: {answer.status_code} {answer.text}"

    agree()


def _resolved(components: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema
