"""Hostile records through the real projector on PostgreSQL: whatever a record holds - JSON
nested too deep to decode, a version or a quantity beyond what the tables hold, a string too
long for an index, a NUL or a lone surrogate - the batch commits, that record ends as a dead
letter (or is applied or parked, if it is an event after all), the records around it are
applied once, and a redelivery of the batch changes nothing.

No broker: the batches go straight to `Projector.handle`, as the consumer loop hands them over.
"""

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import astuple
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import Connection, sql
from support.isolation import isolated_settings

from infrastructure.consuming import Delivery
from infrastructure.database import connect
from projections import positions, stats, tables
from projections.incoming import Incoming
from projections.runner import Projector
from projections.stats import Counts
from projections.stock import Stock

pytestmark = pytest.mark.integration

TOPIC = "inventory.events"
OFFSETS = itertools.count()  # every record at a Kafka position of its own, across examples


@pytest.fixture(scope="module")
def projector(database_url: str) -> Iterator[Projector]:
    """One stock projector for the module; every example uses aggregates and SKUs of its own."""
    with isolated_settings(database_url) as settings:
        projector = Projector(settings, Stock())
        tables.ensure(settings, projector.projection)
        yield projector
        projector.close()


@pytest.fixture(scope="module")
def db(projector: Projector) -> Iterator[Connection[Any]]:
    """A connection of the test's own, to read what the projector did."""
    with connect(projector.settings, autocommit=True) as conn:
        yield conn


def envelope(aggregate_id: UUID, version: int, event_type: str, **data: Any) -> dict[str, Any]:
    return {
        "context": "inventory",
        "event_id": f"{aggregate_id}:{version}",
        "event_type": event_type,
        "schema_version": 1,
        "aggregate_id": str(aggregate_id),
        "aggregate_version": version,
        "notification_id": 1,
        "occurred_at": "2024-05-01T12:00:00+00:00",
        "command_id": "command",
        "correlation_id": "correlation",
        "causation_id": "cause",
        "data": data,
    }


def delivery(value: bytes, key: bytes | None = None) -> Delivery:
    return Delivery(TOPIC, 0, next(OFFSETS), key, value)


def restocked(quantity: int, sku: str = "") -> list[Delivery]:
    """A new SKU registered (v1) and restocked (v2): two records the projector must apply."""
    aggregate_id, sku = uuid4(), sku or f"SKU-{uuid4().hex}"
    key = str(aggregate_id).encode()
    events = [
        envelope(aggregate_id, 1, "StockItemRegistered", sku=sku),
        envelope(aggregate_id, 2, "StockRestocked", sku=sku, quantity=quantity),
    ]
    return [delivery(json.dumps(event).encode(), key) for event in events]


def stock_of(db: Connection[Any], sku: str) -> tuple[int, ...] | None:
    query = "SELECT available, reserved, shipped, restocked FROM stock WHERE sku = %s"
    row = db.execute(query, (sku,)).fetchone()
    return tuple(row) if row else None


def dead_lettered(db: Connection[Any], record: Delivery) -> bool:
    return _held_in(db, "projection_dead_letters", record)


def parked(db: Connection[Any], record: Delivery) -> bool:
    """Whether the record waits for an earlier version: a valid event, only early."""
    return _held_in(db, "projection_parked", record)


def _held_in(db: Connection[Any], table: str, record: Delivery) -> bool:
    query = sql.SQL(
        "SELECT 1 FROM {} WHERE projection = 'stock' AND topic = %s AND partition = %s AND \"offset\" = %s"
    ).format(sql.Identifier(table))
    return db.execute(query, (record.topic, record.partition, record.offset)).fetchone() is not None


def applied(db: Connection[Any], record: Delivery) -> bool:
    """Whether the record is an event whose version the projection has recorded as applied."""
    try:
        event = Incoming.delivered(record).event()
    except Exception:
        return False
    with db.cursor() as cursor:
        return positions.last_applied(cursor, "stock", event.aggregate_id) >= event.aggregate_version


def handled_around(projector: Projector, db: Connection[Any], hostile: list[Delivery]) -> Counts:
    """Hand a batch of good records with the hostile ones amid them to the projector, twice
    (Kafka redelivers); check what becomes of each; return what the first delivery did."""
    before, after = restocked(7), restocked(11)
    batch = [*before, *hostile, *after]
    start = stats.read(db, "stock")

    projector.handle(batch)

    first = stats.read(db, "stock")
    for record in hostile:
        assert any(outcome(db, record) for outcome in (dead_lettered, applied, parked)), record
    for good in (before, after):
        assert applied(db, good[1])

    projector.handle(batch)  # redelivered: every record of it is a duplicate now

    assert stats.read(db, "stock") == Counts(
        first.applied, first.duplicates_skipped + len(batch), first.parked, first.dead_lettered
    )
    for good, quantity in ((before, 7), (after, 11)):
        sku = json.loads(good[0].value)["data"]["sku"]
        assert stock_of(db, sku) == (quantity, 0, 0, quantity)  # applied once, though delivered twice
    return Counts(*(now - then for now, then in zip(astuple(first), astuple(start), strict=True)))


def nested(depth: int) -> bytes:
    return ('{"data": ' * depth + "1" + "}" * depth).encode()


def with_fields(**fields: Any) -> bytes:
    """A restock of a new SKU on an aggregate of its own, with `fields` of its envelope (or, as
    `data_*`, of its data) replaced."""
    aggregate_id = uuid4()
    event = envelope(aggregate_id, 1, "StockRestocked", sku=f"SKU-{uuid4().hex}", quantity=1)
    inner = {name.removeprefix("data_"): value for name, value in fields.items() if name.startswith("data_")}
    event["data"].update(inner)  # first: `data` itself may be replaced by something else next
    event.update({name: value for name, value in fields.items() if not name.startswith("data_")})
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "value",
    [
        nested(100_000),
        with_fields(aggregate_version=2**31),
        with_fields(aggregate_version=2**63),
        with_fields(aggregate_version=0),
        with_fields(aggregate_version=-1),
        with_fields(data_sku=random.Random(1).randbytes(8_000).hex()),
        with_fields(event_id=random.Random(2).randbytes(8_000).hex()),
        with_fields(event_type="Stock\x00Restocked"),
        with_fields(event_type="Stock\ud800Restocked"),
        with_fields(data_quantity=2**63),
    ],
    ids=[
        "nested too deep",
        "version beyond integer",
        "version beyond bigint",
        "version 0",
        "negative version",
        "SKU too long for an index",
        "event id too long for an index",
        "NUL in the event type",
        "surrogate in the event type",
        "quantity beyond bigint",
    ],
)
def test_a_hostile_record_is_dead_lettered_and_the_batch_goes_on(
    projector: Projector, db: Connection[Any], value: bytes
) -> None:
    record = delivery(value, key=str(uuid4()).encode())

    done = handled_around(projector, db, [record])

    assert dead_lettered(db, record)
    assert done == Counts(applied=4, dead_lettered=1)


def test_totals_that_would_overflow_bigint_dead_letter_the_restock_that_overflows(
    projector: Projector, db: Connection[Any]
) -> None:
    sku = f"SKU-{uuid4().hex}"
    # A second aggregate restocks the same SKU: the totals add up beyond bigint.
    first, (registered, overflowing) = restocked(2**62, sku), restocked(2**62, sku)

    done = handled_around(projector, db, [*first, registered, overflowing])

    assert dead_lettered(db, overflowing)
    assert stock_of(db, sku) == (2**62, 0, 0, 2**62)
    assert done == Counts(applied=7, dead_lettered=1)


def test_a_record_whose_version_record_fails_is_dead_lettered_and_its_apply_undone(
    projector: Projector, db: Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = restocked(5)
    registered = json.loads(victim[0].value)
    aggregate_id, sku = UUID(registered["aggregate_id"]), registered["data"]["sku"]
    advance = positions.advance

    def failing(cursor: Any, projection: str, aggregate: UUID, version: int) -> None:
        if (aggregate, version) == (aggregate_id, 2):
            raise RuntimeError("the version record failed")
        advance(cursor, projection, aggregate, version)

    monkeypatch.setattr(positions, "advance", failing)
    # The record nested too deep sends the batch down the careful path, record by record.
    done = handled_around(projector, db, [*victim, delivery(nested(10_000))])

    assert dead_lettered(db, victim[1])
    assert stock_of(db, sku) == (0, 0, 0, 0)  # registered; the restock went back with its version record
    assert done == Counts(applied=5, dead_lettered=2)


# JSON a publisher should never send, and values a table cannot hold.
HOSTILE_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**40, 0, -1])
    | st.floats()
    | st.text()
    | st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff x", "", " "])
    | st.integers(0, 2**16).map(lambda seed: random.Random(seed).randbytes(3_000).hex())
)
HOSTILE_JSON = st.recursive(
    HOSTILE_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
ENVELOPE_FIELDS = [
    "aggregate_version",
    "aggregate_id",
    "event_type",
    "event_id",
    "schema_version",
    "occurred_at",
    "notification_id",
    "data",
    "data_sku",
    "data_quantity",
    "context",
]


@st.composite
def hostile_values(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "nested", "envelope"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "json":
        return json.dumps(draw(HOSTILE_JSON)).encode()
    if kind == "nested":
        return nested(draw(st.integers(1_000, 50_000)))
    replaced = draw(st.lists(st.sampled_from(ENVELOPE_FIELDS), min_size=1, max_size=3, unique=True))
    return with_fields(**{name: draw(HOSTILE_JSON) for name in replaced})


@settings(max_examples=40, deadline=None)
@given(values=st.lists(hostile_values(), min_size=1, max_size=3), keyed=st.booleans())
def test_no_hostile_record_stops_the_projector_or_the_records_around_it(
    projector: Projector, db: Connection[Any], values: list[bytes], keyed: bool
) -> None:
    hostile = [delivery(value, str(uuid4()).encode() if keyed else None) for value in values]

    done = handled_around(projector, db, hostile)

    assert done.applied >= 4
    assert done.applied + done.dead_lettered + done.parked == 4 + len(hostile)
    assert done.duplicates_skipped == 0
