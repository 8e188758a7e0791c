"""No card token and no address in clear text anywhere the system writes them, and a customer
who is forgotten stays forgotten while everything else keeps working.

The test reads what an attacker with a copy of the database or of the topics would read: every
row of every table in the system's schema, raw, and every record of every topic.
"""

import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from kafka.structs import TopicPartition
from psycopg import sql
from support.isolation import environment, isolated_settings
from support.orders import ADDRESS, place_order
from support.publishing import World, stored_events, world

from domain.orders import OrderStatus, ShippingAddress
from domain.privacy import PersonalDataErasedError, owner_of
from infrastructure import kafka
from infrastructure.settings import Settings
from services.registry import CONTEXTS

pytestmark = pytest.mark.integration

STORE_KEY = "q0uZV2mLh3fIzG5qk1b8rHqYx2w5cJ9pS7dN4eT6uVo="  # 32 bytes, base64: a test key
TOKEN = "tok_ok_4242424242424242"
SECRETS = (TOKEN, ADDRESS.name, ADDRESS.line1)


@pytest.fixture
def encrypted(database_url: str, kafka_bootstrap_servers: str) -> Iterator[World]:
    with (
        isolated_settings(database_url, kafka_bootstrap_servers, cipher_key=STORE_KEY) as settings,
        world(settings) as w,
    ):
        yield w


def rows_of_every_table(settings: Settings) -> Iterator[tuple[str, bytes]]:
    """Each value of each row of each table in the schema, as the bytes stored (bytea) or as
    PostgreSQL prints it (every other type)."""
    with psycopg.connect(str(settings.database_url)) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (settings.postgres_schema,),
        ).fetchall()
        assert len(tables) >= 8  # the four event stores at least, and the keys
        for (table,) in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(settings.postgres_schema), sql.Identifier(table)
            )
            for row in conn.execute(query):
                for value in row:
                    yield table, value if isinstance(value, bytes) else str(value).encode()


def records_of_every_topic(settings: Settings) -> Iterator[bytes]:
    reader = kafka.reader(settings, "personal-data-test")
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in map(settings.topic, CONTEXTS)
            for p in reader.partitions_for_topic(topic) or ()
        ]
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        while polled := reader.poll(timeout_ms=1_000):
            for record in (r for records in polled.values() for r in records):
                yield record.value
                yield from (value for _, value in record.headers or ())
    finally:
        reader.close()


def clear_text_found(settings: Settings) -> list[str]:
    found = [
        f"{secret!r} in table {table}"
        for table, value in rows_of_every_table(settings)
        for secret in SECRETS
        if secret.encode() in value
    ]
    records = list(records_of_every_topic(settings))
    assert records, "nothing was published"
    found += [
        f"{secret!r} on a topic" for record in records for secret in SECRETS if secret.encode() in record
    ]
    return found


def test_no_token_and_no_address_in_clear_text_in_any_table_or_topic(encrypted: World) -> None:
    w = encrypted
    w.flows.restock("SKU-PII", 5)
    order_id = w.flows.completed(("SKU-PII", 1))
    place_order(w.system, "SKU-PII", token=TOKEN)  # one more, whose calls are still pending
    w.publisher.publish_new()

    assert clear_text_found(w.settings) == []
    stored = [value for table, value in rows_of_every_table(w.settings) if table.endswith("events")]
    assert stored and not any(b"SKU-PII" in value for value in stored)  # every event is encrypted
    order = w.system.orders.order(order_id)
    assert order.status is OrderStatus.COMPLETED
    assert ShippingAddress.opened(w.system.vault, order.shipping_address) == ADDRESS


def test_a_forgotten_customer_s_data_cannot_be_opened_and_replay_still_works(encrypted: World) -> None:
    w = encrypted
    w.flows.restock("SKU-PII", 5)
    order_id = w.flows.completed(("SKU-PII", 1))
    before = [event.to_bytes() for context in CONTEXTS for event in stored_events(w.system, context)]

    forget = [sys.executable, "-m", "services.cli", "forget", "c-1"]  # OrderFlows' customer
    result = subprocess.run(forget, env=environment(w.settings), capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("forgot /c-1:")

    order = w.system.orders.order(order_id)  # loaded again from its events
    assert order.status is OrderStatus.COMPLETED
    with pytest.raises(PersonalDataErasedError):
        ShippingAddress.opened(w.system.vault, order.shipping_address)
    with pytest.raises(PersonalDataErasedError):
        w.system.vault.open(order.payment_token)
    after = [event.to_bytes() for context in CONTEXTS for event in stored_events(w.system, context)]
    assert after == before  # what the relay publishes, and projections rebuild from, is unchanged
    assert not w.system.vault.forget(owner_of("", "c-1"))  # forgetting twice is a no-op
