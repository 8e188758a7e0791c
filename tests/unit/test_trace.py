"""`orders trace`: the tree its records make, how it is shown, and its answers to bad input.

The records are those of a real order, as two runs on PostgreSQL read them (their ids, their
order, the times rounded): placed, its authorization's first answer lost, cancelled by a second
request, its payment voided and its stock released; plus a webhook whose call was not read."""

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from rich.console import Console

from infrastructure.calls.attempts import Attempt
from infrastructure.devstack import free_port
from services.cli import main
from services.ops.trace import as_json, as_tree
from services.ops.trace.records import Call, Command, Deadline, Event, Record, Records, Request, Webhook
from services.ops.trace.tree import Node, Trace, build

ORDER = "c7d3d205-2be5-56cc-849b-9d2a9c09e338"
STOCK = "8fbd85a7-121c-553b-8a21-e67348dc6fc7"
PAYMENT = "76062eac-1adb-5ffc-95a6-977371939096"
PLACED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def at(ms: int) -> datetime:
    return PLACED_AT + timedelta(milliseconds=ms)


def event(
    context: str, aggregate: str, version: int, topic: str, made_by: Command, ms: int,
    published: bool = True, **detail: object,
) -> Event:  # fmt: skip
    return Event(context, aggregate, version, topic, made_by.command_id, made_by.correlation_id,
                 made_by.causation_id, at(ms), published, detail)  # fmt: skip


def command(
    context: str, command_id: str, kind: str, ms: int, cause: str, role: str = "",
    correlation: str = "req-place", outcome: str = "ok",
) -> Command:  # fmt: skip
    return Command(context, command_id, kind, at(ms), outcome, cause, correlation, role)


PLACE = command(
    "orders", "e56cf0d5-5349-5e79-9630-ca00e25602df", "PlaceOrder", 1, "e56cf0d5-5349-5e79-9630-ca00e25602df"
)
RESERVE = command("inventory", "b10e7a95-ccf1-5031-ac04-212f2c59b9e1", "ReserveStock", 229, f"{ORDER}:1")
RESERVED = command("orders", "f65045e5-589e-59f5-b336-ade7903661c2", "AdvanceOrder", 241, f"{ORDER}:1")
AUTHORIZE = command("payments", "2d2b1215-d697-5583-a7d9-f276c29b4ff0", "AuthorizePayment", 257, f"{ORDER}:2")
AUTHORIZED = command(
    "payments", f"answer:{PAYMENT}:authorize", "RecordProviderAnswer", 1162, f"{PAYMENT}:authorize"
)
PAID = command("orders", "71e1c383-f384-5941-b59c-83c1c0b370ac", "AdvanceOrder", 1173, f"{PAYMENT}:2")
CANCEL = command("orders", "c6ff87b7-59f7-5c76-851d-41d20ae38f7f", "CancelOrder", 1288,
                 "c6ff87b7-59f7-5c76-851d-41d20ae38f7f", correlation="req-cancel")  # fmt: skip
VOID = command("payments", "32be67ee-3738-5957-81df-5435abf99b99", "VoidPayment", 1362, f"{ORDER}:4",
               "undo payment_voided", correlation="req-cancel")  # fmt: skip
RELEASE = command("inventory", "62ae9628-1b33-5eb3-bb13-640b354431c5", "ReleaseStock", 1381, f"{ORDER}:4",
                  "undo stock_released", correlation="req-cancel")  # fmt: skip
VOIDED = command("payments", f"answer:{PAYMENT}:void", "RecordProviderAnswer", 1524, f"{PAYMENT}:void",
                 correlation="req-cancel")  # fmt: skip
STOCK_RECORDED = command("orders", "adf4b677-b9f2-5a04-8844-6cde8f738d82", "RecordCompensation", 1433,
                         f"{STOCK}:4", "stock_released recorded", correlation="req-cancel")  # fmt: skip
VOID_RECORDED = command("orders", "69694799-562f-505c-bca3-1d7c6e3fa5a2", "RecordCompensation", 1582,
                        f"{PAYMENT}:4", "payment_voided recorded", correlation="req-cancel")  # fmt: skip
COMMANDS = (PLACE, RESERVE, RESERVED, AUTHORIZE, AUTHORIZED, PAID, CANCEL, VOID, RELEASE, VOIDED,
            STOCK_RECORDED, VOID_RECORDED)  # fmt: skip
EVENTS = (
    event("orders", ORDER, 1, "OrderPlaced.v1", PLACE, 0),
    event("orders", ORDER, 2, "OrderStockReserved.v1", RESERVED, 240),
    event("orders", ORDER, 3, "OrderPaymentAuthorized.v1", PAID, 1172),
    event("orders", ORDER, 4, "OrderCancelled.v1", CANCEL, 1287, reason="changed my mind"),
    event("orders", ORDER, 5, "OrderCompensated.v1", STOCK_RECORDED, 1432, step="stock_released"),
    event(
        "orders", ORDER, 6, "OrderCompensated.v1", VOID_RECORDED, 1581, published=False, step="payment_voided"
    ),
    event("inventory", STOCK, 3, "StockReserved.v1", RESERVE, 228, sku="SKU-1", quantity=2),
    event("inventory", STOCK, 4, "StockReleased.v1", RELEASE, 1380, published=False, sku="SKU-1", quantity=2),
    event("payments", PAYMENT, 1, "PaymentRequested.v1", AUTHORIZE, 256),
    event("payments", PAYMENT, 2, "PaymentAuthorized.v1", AUTHORIZED, 1161),
    event("payments", PAYMENT, 3, "PaymentVoidRequested.v1", VOID, 1361),
    event("payments", PAYMENT, 4, "PaymentVoided.v1", VOIDED, 1523),
)
CALLS = (
    Call("payments", f"{PAYMENT}:authorize", "authorize", "req-place", AUTHORIZE.command_id, "answered", 2,
         "ProviderTimeoutError: no answer (ReadTimeout)", at(257), at(1162)),
    Call("payments", f"{PAYMENT}:void", "void", "req-cancel", VOID.command_id, "answered", 1, "", at(1362),
         at(1524)),
)  # fmt: skip
ATTEMPTS = (
    Attempt(f"{PAYMENT}:authorize", "authorize", at(300), 501, "timeout", 1),
    Attempt(f"{PAYMENT}:authorize", "authorize", at(1120), 12, "ok 200", 2),
    Attempt(f"{PAYMENT}:void", "void", at(1400), 10, "ok 200", 1),
)
WEBHOOKS = (
    Webhook("evt_9b76ab86", "payment.authorized", f"{PAYMENT}:authorize", "authorize_89eb93c9", at(512)),
    Webhook("evt_89b4d364", "payment.voided", f"{PAYMENT}:void", "void_82662392", at(1715)),
    Webhook("evt_0aa1d2c3", "payment.captured", "another-payment:capture", "capture_1f2e3d4c", at(1800)),
)
DEADLINE = Deadline("complete-by", at(120_000), None, "req-place", f"deadline:{ORDER}:complete-by")
RECORDS = Records(UUID(ORDER), "cancelled", "acme", EVENTS, COMMANDS, CALLS, ATTEMPTS, WEBHOOKS, (DEADLINE,))


@pytest.fixture
def trace() -> Trace:
    return build(RECORDS)


def nodes(trace: Trace) -> Iterator[tuple[tuple[Record, ...], Node]]:
    """Every node, with the records on the way to it (its request first)."""
    stack: list[tuple[tuple[Record, ...], Node]] = [((), request) for request in trace.requests]
    while stack:
        path, node = stack.pop()
        yield path, node
        stack += [((*path, node.record), child) for child in reversed(node.children)]


def under(trace: Trace, record: Record) -> tuple[Record, ...]:
    [path] = [path for path, node in nodes(trace) if node.record is record]
    return path


def times_shown(trace: Trace) -> Counter[int]:
    """How often each record read is in the tree."""
    return Counter(id(node.record) for _, node in nodes(trace) if not isinstance(node.record, Request))


def test_every_record_appears_exactly_once(trace: Trace) -> None:
    every = (*EVENTS, *COMMANDS, *CALLS, *ATTEMPTS, *WEBHOOKS, DEADLINE)
    assert times_shown(trace) == Counter(id(record) for record in every)


def test_each_request_leads_the_branch_of_its_correlation_id_and_the_unlinked_come_last(trace: Trace) -> None:
    assert [request.record for request in trace.requests] == [
        Request("req-place"),
        Request("req-cancel"),
        Request(""),
    ]
    assert [child.record for child in trace.requests[0].children] == [PLACE, DEADLINE]
    assert [child.record for child in trace.requests[1].children] == [CANCEL]
    assert [child.record for child in trace.requests[2].children] == [WEBHOOKS[2]]


def test_a_saga_command_hangs_under_the_event_that_caused_it_and_its_events_under_it(trace: Trace) -> None:
    assert under(trace, AUTHORIZE) == (Request("req-place"), PLACE, EVENTS[0], RESERVED, EVENTS[1])
    assert under(trace, EVENTS[8]) == (*under(trace, AUTHORIZE), AUTHORIZE)
    assert under(trace, VOID_RECORDED)[-3:] == (CALLS[1], VOIDED, EVENTS[11])


def test_a_call_hangs_under_the_command_that_decided_it_with_what_followed_in_time(trace: Trace) -> None:
    [authorize] = [node for _, node in nodes(trace) if node.record is CALLS[0]]
    assert under(trace, CALLS[0])[-1] is AUTHORIZE
    assert [child.record for child in authorize.children] == [
        ATTEMPTS[0],
        WEBHOOKS[0],  # the provider charged during the first attempt, whose answer was lost
        ATTEMPTS[1],
        AUTHORIZED,
    ]


def test_a_command_the_log_refused_hangs_under_the_cause_its_id_derives_from() -> None:
    refused = command("inventory", "5be1c0de-0000-5000-8000-000000000001", "ReserveStock", 200, f"{ORDER}:1",
                      outcome="refused: insufficient_stock")  # fmt: skip
    failed = command("orders", "5be1c0de-0000-5000-8000-000000000002", "FailOrder", 210, f"{ORDER}:1")
    events = (EVENTS[0], event("orders", ORDER, 2, "OrderFailed.v1", failed, 209))
    records = Records(UUID(ORDER), "failed", "", events, (PLACE, refused, failed))

    [request] = build(records).requests

    [placed] = request.children[0].children
    assert [child.record for child in placed.children] == [refused, failed]
    assert placed.children[0].children == ()


def test_a_deadline_leads_the_failure_it_fired() -> None:
    fired = Deadline("complete-by", at(120_000), at(120_050), "req-place", DEADLINE.key)
    failure = command("orders", "deadline-failure", "FailOrder", 120_060, fired.key, "deadline complete-by")
    records = Records(UUID(ORDER), "failed", "", EVENTS[:1], (PLACE, failure), deadlines=(fired,))

    [request] = build(records).requests

    assert [child.record for child in request.children] == [PLACE, fired]
    assert [child.record for child in request.children[1].children] == [failure]


def test_records_that_only_name_each_other_as_causes_are_still_shown() -> None:
    first = command("orders", "cmd-a", "AdvanceOrder", 10, f"{ORDER}:2")
    second = command("orders", "cmd-b", "AdvanceOrder", 20, f"{ORDER}:1")
    looped = (event("orders", ORDER, 1, "OrderStockReserved.v1", first, 11),
              event("orders", ORDER, 2, "OrderPaymentAuthorized.v1", second, 21))  # fmt: skip

    trace = build(Records(UUID(ORDER), "paid", "", looped, (first, second)))

    assert times_shown(trace) == Counter(id(record) for record in (*looped, first, second))


def test_the_json_holds_every_node_with_its_kind_and_fields(trace: Trace) -> None:
    document = as_json(trace, "database orders on db:5432")

    assert (document["order_id"], document["status"], document["tenant_id"]) == (ORDER, "cancelled", "acme")
    place, _, unlinked = document["requests"]
    assert (place["kind"], place["correlation_id"], unlinked["correlation_id"]) == (
        "request",
        "req-place",
        "",
    )
    [placed] = place["children"][0]["children"]
    assert (placed["kind"], placed["event_id"], placed["published"]) == ("event", f"{ORDER}:1", True)
    assert place["children"][1] == {
        "kind": "deadline", "name": "complete-by", "due_at": "2026-03-02T09:32:00+00:00", "fired_at": None,
        "correlation_id": "req-place", "key": f"deadline:{ORDER}:complete-by", "children": [],
    }  # fmt: skip
    assert [e["version"] for e in document["events_by_context"]["payments"]] == [1, 2, 3, 4]
    assert list(document["events_by_context"]) == ["orders", "inventory", "payments"]


def test_the_tree_shows_a_command_and_its_one_event_on_one_line(trace: Trace) -> None:
    console = Console(width=1000, record=True, color_system=None)
    console.print(as_tree(trace))
    text = console.export_text()

    assert text.startswith(f"order {ORDER} · cancelled · tenant acme · placed 2026-03-02 09:30:00.000 UTC\n")
    assert (
        "+1.362s VoidPayment undo payment_voided ok payments -> PaymentVoidRequested v3"
        " command 32be67ee-3738-5957-81df-5435abf99b99" in text
    )
    assert f"+0.257s call authorize answered after 2 claims payments key {PAYMENT}:authorize\n" in text
    assert "+0.300s attempt 1: timeout, 501 ms" in text and "+1.120s attempt 2: ok 200, 12 ms" in text
    assert "-> StockReleased v4 sku=SKU-1 quantity=2 not yet published" in text
    assert "request req-cancel (correlation id)" in text and "linked to no request" in text
    assert "deadline complete-by due at +120.000s, not fired" in text
    assert f"inventory {STOCK}: 3 StockReserved, 4 StockReleased *" in text


@pytest.fixture
def environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("ORDERS_DEVSTACK_DIR", str(tmp_path))
    monkeypatch.delenv("ORDERS_POSTGRES_SCHEMA", raising=False)
    return monkeypatch


def test_an_id_that_is_not_an_order_id_is_a_usage_error_in_one_line(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "order-42"]) == 2
    shown = capsys.readouterr()
    assert (shown.out, shown.err) == (
        "",
        "orders: error: not an order id: 'order-42' (order ids are UUIDs)\n",
    )


def test_a_database_that_cannot_be_reached_is_said_in_one_line(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    environ.setenv("DATABASE_URL", f"postgresql://postgres:secret@127.0.0.1:{port}/orders")

    assert main(["trace", ORDER]) == 1

    shown = capsys.readouterr()
    assert shown.out == "" and shown.err.count("\n") == 1
    assert shown.err.startswith(f"orders: error: cannot read the database orders on 127.0.0.1:{port}: ")
    assert "Connection refused" in shown.err and "secret" not in shown.err


def test_without_a_database_there_is_nothing_to_trace(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environ.delenv("DATABASE_URL", raising=False)

    assert main(["trace", ORDER]) == 1

    assert (
        capsys.readouterr().err
        == "orders: error: DATABASE_URL is not set (source .devstack/env, or set it)\n"
    )
