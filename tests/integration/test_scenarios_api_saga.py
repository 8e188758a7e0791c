"""Failure scenarios S1, S2, S3, S11 and S12 (docs/FAILURE-MODES.md) with real processes:
`orders api`, the relay, the saga, the gateway and the simulators as `orders run` starts
them, under its supervisor, on the session's PostgreSQL and broker.

Each crash is placed, not hoped for: a named crash point armed once
(infrastructure/faults/crash_points.py) ends the child at that line, the supervisor starts it
again, and the test checks that the crash happened (the point's marker, and the supervisor's
"exited with 86") before it checks the pass criterion. The lost COMMIT of S3 comes from a
proxy between the API and PostgreSQL (infrastructure/faults/tcp_proxy.py). The criteria are
read from the stores: the event store and the command log by SQL, the provider's ledger over
its HTTP API (GET /charges), never from counters of the code under test.
"""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from support.crashing import supervised
from support.isolation import on_free_ports, wait_until
from support.orders import place_order

from domain.ids import payment_id, stock_item_id
from domain.inventory import RestockSku
from domain.orders import Order, OrderStatus
from infrastructure.faults.tcp_proxy import TcpProxy
from infrastructure.settings import Settings
from infrastructure.simulators.psp import tokens
from services.api.problems import KEY_IN_USE
from services.api.schemas import EXAMPLE_ORDER
from services.bootstrap import System

pytestmark = pytest.mark.integration

API_ONLY = {"api"}
SAGA_AND_PROVIDERS = {"psp-sim", "carrier-sim", "relay", "saga", "gateway"}
# An Idempotency-Key's claim lapses after this long, so that a retry may take over the claim
# of a request whose process died.
LEASE = {"ORDERS_IDEMPOTENCY_LEASE_S": "1"}
ANSWER_TIMEOUT_S = 60.0
ORDER_TIMEOUT_S = 60.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """On free ports; a short poll interval, so that a restarted saga rejoins its consumer group
    quickly; and a short gateway timeout, so that a lost answer costs one second."""
    return on_free_ports(settings).replace(kafka_max_poll_interval_ms=3_000, gateway_timeout_s=1.0)


def test_s1_an_api_killed_after_a_claim_and_after_a_commit_leaves_one_order_and_one_body_per_key(
    settings: Settings, system: System
) -> None:
    sku = stocked(system, 100, api_tenant(settings))
    keys = [f"s1-{client}-{n}-{uuid4().hex[:8]}" for client in range(3) for n in range(4)]
    seen: dict[str, list[httpx.Response]] = {key: [] for key in keys}

    def place_all(mine: list[str]) -> None:
        """One client: each key until answered, then each once more, as a client that lost the
        first answer would."""
        with api_client(settings) as client:
            for key in mine + mine:
                post_until_answered(client, order_body(sku), key, seen[key])

    crash_points = "api.after_claim@once,api.after_commit@once"
    with supervised(settings, API_ONLY, crash_points, **LEASE) as running:
        wait_until_ready(settings)
        with ThreadPoolExecutor(3) as clients:
            list(clients.map(place_all, [keys[i::3] for i in range(3)]))

    assert running.fired("api.after_claim") and running.fired("api.after_commit")
    assert running.crashes("api") == 2
    placed = {}
    for key, answers in seen.items():
        succeeded = [answer for answer in answers if answer.is_success]
        assert succeeded, f"key {key} was never answered 2xx: {Counter(a.status_code for a in answers)}"
        assert {(a.status_code, a.content) for a in succeeded} == {(201, succeeded[0].content)}, key
        placed[key] = UUID(succeeded[0].json()["order_id"])
    orders_per_key = {key: count_events(settings, "orders", "OrderPlaced.v1", placed[key]) for key in keys}
    assert orders_per_key == dict.fromkeys(keys, 1)
    assert count_events(settings, "orders", "OrderPlaced.v1") == len(keys), "one order per key, no other"


def test_s2_an_api_killed_after_the_commit_answers_the_retry_from_the_command_log_and_charges_once(
    settings: Settings, system: System
) -> None:
    sku, key = stocked(system, 5, api_tenant(settings)), f"s2-{uuid4().hex}"
    with supervised(settings, {"api", *SAGA_AND_PROVIDERS}, "api.after_commit@once", **LEASE) as running:
        wait_until_ready(settings)
        with api_client(settings) as client:
            seen: list[httpx.Response] = []
            retried = post_until_answered(client, order_body(sku), key, seen)
            again = post_until_answered(client, order_body(sku), key, [])
        assert retried.status_code == 201, retried.text
        order_id = UUID(retried.json()["order_id"])
        order = ended(system, order_id)
        charged = charges(settings, order_id)

    assert running.fired("api.after_commit") and running.crashes("api") == 1
    assert count_commands(settings, "orders", "PlaceOrder") == 1
    assert count_events(settings, "orders", "OrderPlaced.v1", order_id) == 1
    # The first attempt got no answer; the retry after the restart was answered from the
    # command log (a replay), and a further retry from the stored response: the same bytes.
    assert retried.headers.get("Idempotent-Replayed") == "true"
    assert again.content == retried.content
    assert order.status is OrderStatus.COMPLETED
    assert charged == [("authorize", "approved"), ("capture", "approved")]


def test_s3_a_commit_whose_answer_the_api_lost_is_answered_from_the_command_log_not_a_5xx(
    settings: Settings, system: System
) -> None:
    sku, key = stocked(system, 5, api_tenant(settings)), f"s3-{uuid4().hex}"
    server = conninfo_to_dict(settings.database_url or "")
    with TcpProxy(str(server.get("host") or "127.0.0.1"), int(server.get("port") or 5432)) as proxy:
        via_proxy = make_conninfo(settings.database_url or "", host="127.0.0.1", port=proxy.port)
        with supervised(settings, API_ONLY, DATABASE_URL=via_proxy) as running:
            wait_until_ready(settings)
            with api_client(settings) as client:
                # The next COMMIT is the order's: the Idempotency-Key store's statements autocommit.
                proxy.cut_after(b"COMMIT")
                seen: list[httpx.Response] = []
                answered = post_until_answered(client, order_body(sku), key, seen)
                again = post_until_answered(client, order_body(sku), key, [])

    assert proxy.cuts == 1
    assert running.crashes("api") == 0 and not [line for line in running.said if "exited" in line]
    # The COMMIT reached the server and its answer was lost; the command path's retry found
    # the command in the log and answered from it, within the same request: no 5xx, no retry
    # by the client needed. The client's own retry gets the stored response.
    assert [answer.status_code for answer in seen] == [201]
    assert answered.headers.get("Idempotent-Replayed") == "true"
    assert again.content == answered.content
    order_id = UUID(answered.json()["order_id"])
    assert count_events(settings, "orders", "OrderPlaced.v1", order_id) == 1
    assert count_events(settings, "orders", "OrderPlaced.v1") == 1
    assert count_commands(settings, "orders", "PlaceOrder") == 1


# Where the gateway's process learns the provider's answer: in the HTTP client, before it
# returns the answer, and in the gateway, before the payments context records it.
@pytest.mark.parametrize("point", ["gateway.after_response", "gateway.after_call"])
def test_s11_a_lost_authorization_answer_and_a_gateway_killed_after_the_provider_answered_charge_once(
    settings: Settings, system: System, point: str
) -> None:
    sku = stocked(system, 5)
    # The first answer is lost: the call stays pending and is asked again under the same key.
    # That second answer is the first the gateway's process receives, so the crash point
    # fires on it; the restarted gateway claims the call once its lease has passed.
    with supervised(settings, SAGA_AND_PROVIDERS, f"{point}@once") as running:
        order_id = place_order(system, sku, token=tokens.TIMEOUT_AFTER_CHARGE)
        order = ended(system, order_id)
        charged = charges(settings, order_id)

    assert running.fired(point) and running.crashes("gateway") == 1
    assert charged == [("authorize", "approved"), ("capture", "approved")]
    assert order.status is OrderStatus.COMPLETED
    assert payment_events(settings, order_id) == [
        "PaymentRequested.v1",
        "PaymentAuthorized.v1",  # after the crash, from the provider's record of the first charge
        "PaymentCaptureRequested.v1",
        "PaymentCaptured.v1",
    ]


def test_s12_a_saga_killed_while_compensating_a_declined_payment_releases_the_stock_exactly_once(
    settings: Settings, system: System
) -> None:
    restocked = 5
    sku = stocked(system, restocked)
    with supervised(
        settings, {"psp-sim", "relay", "saga", "gateway"}, "saga.after_compensation_step@once"
    ) as running:
        order_id = place_order(system, sku, quantity=2, token=tokens.DECLINE)
        order = wait_until(
            lambda: compensated(system, order_id),
            f"order {order_id} to fail and record its compensation",
            timeout_s=ORDER_TIMEOUT_S,
            every_s=0.2,
        )

    assert running.fired("saga.after_compensation_step") and running.crashes("saga") == 1
    assert order.status is OrderStatus.FAILED and order.reason == "payment declined"
    # The crash came after the release, before its record: the restarted saga found the
    # release in the inventory's command log and recorded it instead of releasing again.
    assert order.compensations == ["stock_released"]
    assert count_events(settings, "inventory", "StockReleased.v1", stock_item_id(sku)) == 1
    item = system.inventory.stock_item(sku)
    assert item.reserved == 0, "nothing is held for a failed order"
    assert item.available + item.reserved + item.shipped == restocked, "stock is conserved"


def test_a_saga_killed_before_committing_its_offsets_handles_the_records_again_to_no_second_effect(
    settings: Settings, system: System
) -> None:
    sku = stocked(system, 5)
    with supervised(settings, SAGA_AND_PROVIDERS, "consumer.before_offset_commit@once") as running:
        order_id = place_order(system, sku)
        order = ended(system, order_id)
        charged = charges(settings, order_id)

    assert running.fired("consumer.before_offset_commit") and running.crashes("saga") == 1
    assert order.status is OrderStatus.COMPLETED
    # The restarted saga read again what it had handled and not committed: every command it
    # sent again was answered from a command log, so each step is one command, one effect.
    assert count_commands(settings, "orders", "AdvanceOrder") == 5
    assert count_commands(settings, "payments", "AuthorizePayment") == 1
    assert charged == [("authorize", "approved"), ("capture", "approved")]


def api_tenant(settings: Settings) -> str:
    """The tenant `api_client` acts as, whose stock its orders draw on."""
    tenant, _ = settings.api_keys[0]
    return tenant


@contextmanager
def api_client(settings: Settings) -> Iterator[httpx.Client]:
    """A client of the API as the settings' first tenant."""
    _, key = settings.api_keys[0]
    url = f"http://127.0.0.1:{settings.api_port}"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        yield client


def wait_until_ready(settings: Settings) -> None:
    def ready() -> bool | None:
        try:
            return httpx.get(f"http://127.0.0.1:{settings.api_port}/readyz").status_code == 200 or None
        except httpx.TransportError:
            return None

    wait_until(ready, "the API to answer /readyz", timeout_s=ANSWER_TIMEOUT_S)


def post_until_answered(
    client: httpx.Client, body: dict[str, Any], key: str, seen: list[httpx.Response]
) -> httpx.Response:
    """POST /v1/orders as a client that retries under the same key - after a lost connection, a 5xx, or a
    409 "in flight" - until it gets another answer, which it returns. Every answer it got is
    appended to `seen`."""

    def attempt() -> httpx.Response | None:
        try:
            answer = client.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:  # the process died under the request, or is not back yet
            return None
        seen.append(answer)
        in_flight = answer.status_code == 409 and answer.json().get("type") == KEY_IN_USE.uri
        return None if in_flight or answer.status_code >= 500 else answer

    return wait_until(attempt, f"an answer to {key}", timeout_s=ANSWER_TIMEOUT_S)


def order_body(sku: str, token: str = tokens.OK) -> dict[str, Any]:
    changes = {"lines": [{"sku": sku, "quantity": 1, "unit_price_cents": 1250}], "payment": {"token": token}}
    return {**EXAMPLE_ORDER, **changes}


def stocked(system: System, quantity: int, tenant_id: str = "") -> str:
    """A new SKU with `quantity` in the tenant's stock (by default the in-process tenant's, whose
    orders `place_order` places)."""
    sku = f"SKU-{uuid4().hex[:8]}"
    restock = RestockSku(command_id=f"restock-{sku}", sku=sku, quantity=quantity, tenant_id=tenant_id)
    system.inventory.execute(restock)
    return sku


def ended(system: System, order_id: UUID) -> Order:
    def terminal() -> Order | None:
        order = system.orders.order(order_id)
        return order if order.is_terminal else None

    return wait_until(terminal, f"order {order_id} to end", timeout_s=ORDER_TIMEOUT_S, every_s=0.2)


def compensated(system: System, order_id: UUID) -> Order | None:
    order = system.orders.order(order_id)
    return order if order.is_terminal and order.compensations else None


def charges(settings: Settings, order_id: UUID) -> list[tuple[str, str]]:
    """What the provider did for the order, by its own ledger, oldest first."""
    url = f"http://127.0.0.1:{settings.psp_port}/charges"
    listed = httpx.get(url, params={"order_id": str(order_id)}, timeout=10).raise_for_status().json()
    return [(charge["operation"], charge["status"]) for charge in listed["charges"]]


def count_events(settings: Settings, context: str, topic: str, originator: UUID | None = None) -> int:
    where = sql.SQL("topic = %s") + (sql.SQL(" AND originator_id = %s") if originator else sql.SQL(""))
    return _count(settings, f"{context}_events", where, (topic, originator) if originator else (topic,))


def count_commands(settings: Settings, context: str, command_type: str) -> int:
    return _count(settings, f"{context}_commands", sql.SQL("command_type = %s"), (command_type,))


def payment_events(settings: Settings, order_id: UUID) -> list[str]:
    query = sql.SQL("SELECT topic FROM {} WHERE originator_id = %s ORDER BY originator_version").format(
        sql.Identifier(settings.postgres_schema, "payments_events")
    )
    with psycopg.connect(settings.database_url or "") as conn:
        return [topic for (topic,) in conn.execute(query, (payment_id(order_id),))]


def _count(settings: Settings, table: str, where: sql.Composable, params: tuple[Any, ...]) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE ").format(sql.Identifier(settings.postgres_schema, table))
    with psycopg.connect(settings.database_url or "") as conn:
        row = conn.execute(query + where, params).fetchone()
    assert row is not None
    return int(row[0])
