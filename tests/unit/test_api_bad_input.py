"""Bad input on the three POSTs (place an order, cancel it, restock a SKU), in memory.

Every case is a 4xx problem (application/problem+json, with its status, type and title), and
none leaves anything behind: no event in any context, no entry in any command log, and no
claim on its Idempotency-Key, so the corrected request with the same key then succeeds as a
first request would. The cases are grouped in tables: malformed JSON, wrong types, numbers
out of range, unicode, body size, Idempotency-Keys and Authorization. The last table holds
unusual input that is valid, to show that the refusals are not broader than the rules.

An Idempotency-Key of spaces only is not among the cases. HTTP strips a header value's
surrounding whitespace (RFC 9110, 5.5), so over the wire it arrives empty and is refused (400),
while this in-process client would pass it on unstripped.
"""

import copy
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi.testclient import TestClient
from support.api import ACME, PROBLEM, api_client, headers, key, order_body, restock

from domain.inventory import MAX_QUANTITY, MAX_RESTOCK_QUANTITY
from domain.money import MAX_CENTS
from services.api.idempotency import IdempotentRequest
from services.api.problems import KEY_MALFORMED, KEY_MISSING, TYPE_PREFIX, UNAUTHENTICATED, VALIDATION_FAILED
from services.api.store import Scope
from services.bootstrap import System

SKU = "SKU-1"
LIMIT = 64 * 1024  # the API's default body limit
SCHEMA, BLANK = VALIDATION_FAILED.uri, "about:blank"
MISSING = object()
# The members the tables change, by their path in the body.
QUANTITY, PRICE, LINE_SKU = ("lines", 0, "quantity"), ("lines", 0, "unit_price_cents"), ("lines", 0, "sku")
NAME, REASON = ("shipping_address", "name"), ("reason",)


def domain(code: str) -> str:
    """The problem type of a domain error, by its code."""
    return TYPE_PREFIX + code.replace("_", "-")


BAD_QUANTITY, OVERFLOW, BAD_SKU = domain("invalid_quantity"), domain("amount_overflow"), domain("invalid_sku")
BAD_ADDRESS, BAD_COMMAND = domain("invalid_address"), domain("invalid_command")


@dataclass(frozen=True, eq=False)
class Endpoint:
    name: str
    path: str  # with {order_id} and {sku} to fill in
    good: dict[str, Any]  # a body it accepts
    succeeds: int  # its status then
    scalar: tuple[str | int, ...]  # where its body holds a number (or, to cancel, a text)


ORDERS = Endpoint("orders", "/v1/orders", order_body(SKU), 201, QUANTITY)
CANCEL = Endpoint("cancel", "/v1/orders/{order_id}/cancel", {"reason": "changed my mind"}, 200, REASON)
RESTOCK = Endpoint("restock", "/v1/inventory/{sku}/restock", {"quantity": 5}, 200, ("quantity",))
ALL = (ORDERS, CANCEL, RESTOCK)


class Chunked(NamedTuple):
    """A body sent in chunks, with no Content-Length."""

    data: bytes


Body = bytes | Chunked


@dataclass(frozen=True)
class Case:
    endpoint: Endpoint
    body: Body
    status: int
    type: str
    headers: Mapping[str, str | bytes | None] = field(default_factory=dict)  # None: not sent
    sku: str = SKU  # in the restock path


def raw(endpoint: Endpoint) -> bytes:
    return json.dumps(endpoint.good).encode()


def edited(endpoint: Endpoint, where: tuple[str | int, ...], value: Any) -> bytes:
    """The good body with the member at `where` set to `value`, or removed if MISSING."""
    body = copy.deepcopy(endpoint.good)
    *parents, last = where
    container: Any = body
    for step in parents:
        container = container[step]
    if value is MISSING:
        del container[last]
    else:
        container[last] = value
    return json.dumps(body).encode()


def literal(endpoint: Endpoint, where: tuple[str | int, ...], text: bytes) -> bytes:
    """The good body with `text` written as the member at `where`, where json.dumps would not."""
    marker = "<literal>"
    return edited(endpoint, where, marker).replace(json.dumps(marker).encode(), text)


def another_member(endpoint: Endpoint, name: bytes) -> bytes:
    return raw(endpoint)[:-1] + b", " + name + b": 1}"


def first_member_twice(endpoint: Endpoint) -> bytes:
    name, value = next(iter(endpoint.good.items()))
    return raw(endpoint)[:-1] + b", " + json.dumps({name: value}).encode()[1:]


def padded(body: bytes, size: int) -> bytes:
    """`body` with whitespace before its closing brace, `size` bytes in all."""
    return body[:-1] + b" " * (size - len(body)) + b"}"


def each(
    endpoints: tuple[Endpoint, ...], what: str, body: Callable[[Endpoint], Body], status: int, type_: str
) -> list[Any]:
    return [pytest.param(Case(e, body(e), status, type_), id=f"{e.name}: {what}") for e in endpoints]


def one(endpoint: Endpoint, what: str, body: Body, status: int, type_: str, **extra: Any) -> Any:
    return pytest.param(Case(endpoint, body, status, type_, **extra), id=f"{endpoint.name}: {what}")


def bad(endpoint: Endpoint, what: str, where: tuple[str | int, ...], value: Any, type_: str) -> Any:
    """A 422 case: the good body with one member changed."""
    return one(endpoint, what, edited(endpoint, where, value), 422, type_)


DEEP = b"[" * 10_000 + b"]" * 10_000
MALFORMED_JSON = [
    *each(ALL, "truncated", lambda e: raw(e)[:-1], 422, SCHEMA),
    *each(ALL, "trailing garbage", lambda e: raw(e) + b"}", 422, SCHEMA),
    *each(ALL, "two documents", lambda e: raw(e) * 2, 422, SCHEMA),
    *each(ALL, "a bare string", lambda e: b'"order"', 422, SCHEMA),
    *each(ALL, "a bare array", lambda e: b"[]", 422, SCHEMA),
    *each(ALL, "a bare number", lambda e: b"42", 422, SCHEMA),
    *each((ORDERS, RESTOCK), "null", lambda e: b"null", 422, SCHEMA),  # to cancel, null is no body
    *each((ORDERS, RESTOCK), "empty", lambda e: b"", 422, SCHEMA),
    *each(ALL, "a member twice", first_member_twice, 422, SCHEMA),
    *each(ALL, "NaN", lambda e: edited(e, e.scalar, float("nan")), 422, SCHEMA),
    *each(ALL, "Infinity", lambda e: edited(e, e.scalar, float("inf")), 422, SCHEMA),
    *each(ALL, "-Infinity", lambda e: edited(e, e.scalar, float("-inf")), 422, SCHEMA),
    *each(ALL, "10,000 levels deep", lambda e: DEEP, 400, BLANK),
    *each(ALL, "an invalid UTF-8 byte", lambda e: another_member(e, b'"\xff"'), 400, BLANK),
    *each(ALL, "an overlong UTF-8 encoding", lambda e: another_member(e, b'"\xc0\xaf"'), 400, BLANK),
    *each(ALL, "a UTF-8 encoded surrogate", lambda e: another_member(e, b'"\xed\xa0\x80"'), 422, SCHEMA),
    *each(ALL, "a byte order mark", lambda e: b"\xef\xbb\xbf" + raw(e), 422, SCHEMA),
    *each(ALL, "UTF-16", lambda e: json.dumps(e.good).encode("utf-16"), 422, SCHEMA),
    *[one(e, "text/plain", raw(e), 415, BLANK, headers={"Content-Type": "text/plain"}) for e in ALL],
    *[one(e, "no content type", raw(e), 415, BLANK, headers={"Content-Type": None}) for e in ALL],
]

WRONG_TYPES = [
    bad(ORDERS, "a string for quantity", QUANTITY, "2", SCHEMA),
    bad(ORDERS, "a float for unit_price_cents", PRICE, 1250.0, SCHEMA),
    bad(ORDERS, "a bool for quantity", QUANTITY, True, SCHEMA),
    bad(ORDERS, "a bool for unit_price_cents", PRICE, False, SCHEMA),
    bad(ORDERS, "null for customer_id", ("customer_id",), None, SCHEMA),
    bad(ORDERS, "null for lines", ("lines",), None, SCHEMA),
    bad(ORDERS, "null for a line's sku", LINE_SKU, None, SCHEMA),
    bad(ORDERS, "an object for lines", ("lines",), ORDERS.good["lines"][0], SCHEMA),
    bad(ORDERS, "a list for shipping_address", ("shipping_address",), [], SCHEMA),
    bad(ORDERS, "a number for currency", ("currency",), 978, SCHEMA),
    bad(ORDERS, "no payment", ("payment",), MISSING, SCHEMA),
    bad(ORDERS, "an unknown member", ("coupon",), "FREE", SCHEMA),
    bad(ORDERS, "an unknown member in a line", ("lines", 0, "discount"), 1, SCHEMA),
    bad(ORDERS, "no lines", ("lines",), [], domain("empty_order")),
    bad(CANCEL, "a number for reason", ("reason",), 7, SCHEMA),
    bad(CANCEL, "null for reason", ("reason",), None, SCHEMA),
    bad(CANCEL, "a list for reason", ("reason",), ["changed", "mind"], SCHEMA),
    bad(CANCEL, "an object for reason", ("reason",), {}, SCHEMA),
    bad(CANCEL, "a bool for reason", ("reason",), True, SCHEMA),
    bad(CANCEL, "an unknown member", ("refund",), False, SCHEMA),
    bad(RESTOCK, "a string for quantity", ("quantity",), "5", SCHEMA),
    bad(RESTOCK, "a float for quantity", ("quantity",), 5.0, SCHEMA),
    bad(RESTOCK, "a bool for quantity", ("quantity",), True, SCHEMA),
    bad(RESTOCK, "null for quantity", ("quantity",), None, SCHEMA),
    bad(RESTOCK, "a list for quantity", ("quantity",), [5], SCHEMA),
    bad(RESTOCK, "an object for quantity", ("quantity",), {"value": 5}, SCHEMA),
    bad(RESTOCK, "no quantity", ("quantity",), MISSING, SCHEMA),
    bad(RESTOCK, "an unknown member", ("location",), "A1", SCHEMA),
]


def two_lines(unit_price_cents: int) -> list[dict[str, Any]]:
    line = {"quantity": 1, "unit_price_cents": unit_price_cents}
    return [{"sku": SKU, **line}, {"sku": "SKU-2", **line}]


def quantity(what: str, text: bytes, status: int, type_: str) -> list[Any]:
    """A case for each endpoint that takes a quantity, with `text` as the quantity."""
    return each((ORDERS, RESTOCK), what, lambda e: literal(e, e.scalar, text), status, type_)


NUMBERS = [
    *quantity("quantity 10**30", str(10**30).encode(), 422, BAD_QUANTITY),
    bad(ORDERS, "quantity above the maximum", QUANTITY, MAX_QUANTITY + 1, BAD_QUANTITY),
    bad(RESTOCK, "quantity above the maximum", ("quantity",), MAX_RESTOCK_QUANTITY + 1, BAD_QUANTITY),
    *quantity("quantity 0", b"0", 422, BAD_QUANTITY),
    *quantity("quantity -1", b"-1", 422, BAD_QUANTITY),
    *quantity("quantity of 5,000 digits", b"9" * 5_000, 400, BLANK),  # Python reads up to 4,300
    *quantity("quantity 1e400", b"1e400", 422, SCHEMA),  # a float, and infinite at that
    bad(ORDERS, "unit price beyond the money limit", PRICE, MAX_CENTS + 1, OVERFLOW),
    bad(ORDERS, "unit price 10**30", PRICE, 10**30, OVERFLOW),
    bad(ORDERS, "unit price -1", PRICE, -1, domain("invalid_amount")),
    bad(ORDERS, "a line total beyond the limit", PRICE, MAX_CENTS, OVERFLOW),  # times a quantity of 2
    bad(ORDERS, "a total beyond the limit across lines", ("lines",), two_lines(MAX_CENTS // 2 + 1), OVERFLOW),
]

TEXTS = {  # each is refused wherever the domain takes text: an address, a reason
    "NUL": "Ada\u0000Lovelace",
    "a lone surrogate": "Ada \ud800",
    "a right-to-left override": "\u202eecalevoL adA",
    "a zero-width joiner": "Ada\u200dLovelace",
    "10,000 characters": "A" * 10_000,
    "spaces only": "   ",
    "no-break spaces only": "\u00a0\u00a0",
}
UNICODE = [
    *[bad(ORDERS, f"{what} in a name", NAME, text, BAD_ADDRESS) for what, text in TEXTS.items()],
    *[bad(CANCEL, f"{what} in the reason", REASON, text, BAD_COMMAND) for what, text in TEXTS.items()],
    bad(ORDERS, "NUL in customer_id", ("customer_id",), "c\u0000", BAD_COMMAND),
    bad(
        ORDERS, "NUL in the payment token", ("payment", "token"), "tok\u0000", domain("invalid_payment_token")
    ),
    bad(ORDERS, "NUL in the currency", ("currency",), "EU\u0000", domain("invalid_currency")),
    bad(ORDERS, "NUL in a SKU", LINE_SKU, "SKU\u00001", BAD_SKU),
    bad(ORDERS, "an emoji in a SKU", LINE_SKU, "SKU-\U0001f389", BAD_SKU),
    bad(ORDERS, "a combining character in a SKU", LINE_SKU, "SKU-e\u0301", BAD_SKU),
    bad(ORDERS, "a lone surrogate as a member name", ("\ud800",), 1, SCHEMA),
    bad(ORDERS, "NUL as a member name", ("\u0000",), 1, SCHEMA),
    *[
        one(RESTOCK, f"{what} in the SKU of the path", raw(RESTOCK), status, type_, sku=sku)
        for what, sku, status, type_ in [
            ("NUL", "SKU%001", 422, BAD_SKU),
            ("an emoji", "SKU-%F0%9F%8E%89", 422, BAD_SKU),
            ("a combining character", "SKU-e%CC%81", 422, BAD_SKU),
            ("an invalid UTF-8 byte", "SKU-%FF", 422, BAD_SKU),
            ("a space", "SKU%201", 422, BAD_SKU),
            ("65 characters", "S" * 65, 422, BAD_SKU),
            ("an encoded slash", "SKU%2F1", 404, BLANK),
        ]
    ],
]

OVERSIZED = [
    *each(ALL, "one byte over 64 KiB", lambda e: padded(raw(e), LIMIT + 1), 413, BLANK),
    *each(ALL, "over 64 KiB, chunked", lambda e: Chunked(padded(raw(e), LIMIT + 1024)), 413, BLANK),
    bad(ORDERS, "just under 64 KiB, a long name", NAME, "A" * (LIMIT - 1024), BAD_ADDRESS),
    bad(CANCEL, "just under 64 KiB, a long reason", REASON, "A" * (LIMIT - 64), BAD_COMMAND),
    bad(RESTOCK, "just under 64 KiB, a long member", ("x",), "A" * (LIMIT - 64), SCHEMA),
]

KEYS: dict[str, tuple[str | bytes | None, str]] = {
    "no Idempotency-Key": (None, KEY_MISSING.uri),
    "an empty Idempotency-Key": ("", KEY_MALFORMED.uri),
    "an Idempotency-Key of 256 characters": ("k" * 256, KEY_MALFORMED.uri),
    "a tab in the Idempotency-Key": ("key\tone", KEY_MALFORMED.uri),
    "DEL in the Idempotency-Key": ("key\x7f", KEY_MALFORMED.uri),
    "a Latin-1 Idempotency-Key": (b"cl\xe9", KEY_MALFORMED.uri),
    "a UTF-8 Idempotency-Key": ("ключ".encode(), KEY_MALFORMED.uri),
}
AUTHORIZATIONS: dict[str, str | bytes | None] = {
    "no Authorization": None,
    "Bearer without a key": "Bearer",
    "an unknown key": "Bearer key-initech",
    "a known key with a suffix": "Bearer key-acme-",
    "another scheme": "Basic a2V5LWFjbWU6",
    "a key without a scheme": "key-acme",
    "a non-ASCII key": b"Bearer key-acm\xe9",
}
HEADERS = [
    *[
        one(e, what, raw(e), 400, type_, headers={"Idempotency-Key": value})
        for what, (value, type_) in KEYS.items()
        for e in ALL
    ],
    *[
        one(e, what, raw(e), 401, UNAUTHENTICATED.uri, headers={"Authorization": value})
        for what, value in AUTHORIZATIONS.items()
        for e in ALL
    ],
]


@dataclass(frozen=True)
class World:
    """An in-memory system with stock of SKU and one placed order, and its API."""

    system: System
    api: TestClient
    order_id: str

    def path(self, endpoint: Endpoint, sku: str = SKU) -> str:
        return endpoint.path.format(order_id=self.order_id, sku=sku)

    def post(
        self, endpoint: Endpoint, body: Body, sent: Mapping[str, str | bytes | None], sku: str = SKU
    ) -> httpx.Response:
        given = {**ACME, "Content-Type": "application/json", **sent}
        content = _chunks(body.data) if isinstance(body, Chunked) else body
        pairs = [(name, value) for name, value in given.items() if value is not None]
        answer: httpx.Response = self.api.post(self.path(endpoint, sku), content=content, headers=pairs)
        return answer

    def stored(self) -> tuple[int | None, ...]:
        """The position of every context's notification log: a new event moves one."""
        return tuple(context.recorder.max_notification_id() for context in self.system.contexts)

    def command_logged(self, endpoint: Endpoint, idempotency_key: str) -> bool:
        """Whether a command log holds the command that this endpoint and key stand for."""
        scope = Scope("acme", "POST", endpoint.path, idempotency_key)
        command_id = IdempotentRequest(scope, fingerprint="", api_key="").command_id
        return any(context.command_log.find_command(command_id) for context in self.system.contexts)


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 1024):
        yield data[start : start + 1024]


@pytest.fixture
def world(system: System) -> World:
    api = api_client(system)
    restock(api, SKU)
    placed = api.post("/v1/orders", json=order_body(SKU), headers=headers(key()))
    assert placed.status_code == 201, placed.text
    return World(system, api, placed.json()["order_id"])


def assert_problem(answer: httpx.Response, status: int, type_: str) -> None:
    assert 400 <= answer.status_code < 500, answer.text
    assert (answer.status_code, answer.headers["content-type"]) == (status, PROBLEM), answer.text
    problem = answer.json()
    assert (problem["status"], problem["type"]) == (status, type_)
    assert problem["title"]


@pytest.mark.parametrize("case", [*MALFORMED_JSON, *WRONG_TYPES, *NUMBERS, *UNICODE, *OVERSIZED, *HEADERS])
def test_bad_input_is_a_problem_that_stores_nothing_and_leaves_the_key_free(world: World, case: Case) -> None:
    same = key()
    sent = {"Idempotency-Key": same, **case.headers}
    before = world.stored()

    refused = world.post(case.endpoint, case.body, sent, case.sku)

    assert_problem(refused, case.status, case.type)
    assert world.stored() == before
    assert not world.command_logged(case.endpoint, same)
    corrected = world.post(case.endpoint, raw(case.endpoint), {"Idempotency-Key": same})
    assert corrected.status_code == case.endpoint.succeeds, corrected.text
    assert "idempotent-replayed" not in corrected.headers


def test_json_nested_as_deep_as_the_stack_allows_is_refused_without_a_crash(world: World) -> None:
    """FastAPI parses the body first, and the Idempotency-Key layer again, a few stack frames
    deeper: nesting between the two limits once crashed the second parse (a 500)."""
    before, limit = world.stored(), sys.getrecursionlimit()
    for depth in range(limit - 150, limit + 10):
        nested = b'{"quantity": 5, "x": ' + b"[" * depth + b"]" * depth + b"}"
        answer = world.post(RESTOCK, nested, {"Idempotency-Key": key()})
        assert 400 <= answer.status_code < 500, f"nested {depth} deep: {answer.status_code}"
        assert answer.headers["content-type"] == PROBLEM
    assert world.stored() == before


def accepted(endpoint: Endpoint, what: str, body: Body) -> Any:
    return pytest.param(endpoint, body, id=f"{endpoint.name}: {what}")


ACCEPTED = [
    accepted(ORDERS, "combining characters in a name", edited(ORDERS, NAME, "Zoe\u0308 Ac\u0327a")),
    accepted(ORDERS, "an emoji in a name", edited(ORDERS, NAME, "Ada \U0001f389")),
    accepted(ORDERS, "a right-to-left name", edited(ORDERS, NAME, "\u05e2\u05d3\u05d4")),
    accepted(CANCEL, "an emoji in the reason", edited(CANCEL, REASON, "moved \U0001f3e0")),
    *[accepted(e, "exactly 64 KiB", padded(raw(e), LIMIT)) for e in ALL],
    *[accepted(e, "chunked, without Content-Length", Chunked(raw(e))) for e in ALL],
]


@pytest.mark.parametrize(("endpoint", "body"), ACCEPTED)
def test_unusual_but_valid_input_is_accepted_and_kept_as_sent(
    world: World, endpoint: Endpoint, body: Body
) -> None:
    before, fresh = world.stored(), key()

    answer = world.post(endpoint, body, {"Idempotency-Key": fresh})

    assert answer.status_code == endpoint.succeeds, answer.text
    assert world.stored() != before
    assert world.command_logged(endpoint, fresh)
    sent = json.loads(body.data if isinstance(body, Chunked) else body)
    if endpoint is ORDERS:
        read = world.api.get(answer.headers["location"], headers=ACME).json()
        assert read["shipping_address"] == sent["shipping_address"]
    if endpoint is CANCEL:
        read = world.api.get(f"/v1/orders/{world.order_id}", headers=ACME).json()
        assert read["reason"] == sent["reason"]
