"""Commands that arrive while another commits share the next transaction on PostgreSQL, each
in a savepoint of its own: a duplicate among them fails alone and is answered from the log,
the others commit together, and notification ids still follow commit order.

To make the batch certain, the test holds the inventory's events table itself (the EXCLUSIVE
lock every insert takes), so the first command's commit waits and the next ones queue behind
it; letting go, it reads which transaction wrote each command's row by its `recorded_at`, which
is `now()`: the start of the transaction, the same for every statement in it, savepoints too."""

import threading
import time
from typing import Any
from uuid import UUID

import pytest
from psycopg import sql

from domain.ids import stock_item_id
from domain.inventory import RestockSku
from infrastructure.database import connect
from infrastructure.settings import Settings
from services.application import Receipt
from services.bootstrap import System

pytestmark = pytest.mark.integration


def restock(command_id: str, sku: str) -> RestockSku:
    return RestockSku(command_id=command_id, sku=sku, quantity=1)


def test_commands_queued_behind_a_commit_share_one_transaction_and_a_duplicate_fails_alone(
    settings: Settings, system: System
) -> None:
    inventory = system.inventory
    recorder: Any = inventory.recorder
    inventory.execute(restock("c-dup", "SKU-D"))  # applied before: its copy will be a duplicate
    for sku in ("SKU-A", "SKU-B", "SKU-C"):
        inventory.execute(restock(f"register-{sku}", sku))
    events = sql.Identifier(recorder.events_table_name)
    answers: dict[str, Receipt | Exception] = {}

    def execute(command: RestockSku) -> threading.Thread:
        def run() -> None:
            try:
                answers[command.command_id] = inventory.execute(command, expect_new=True)
            except Exception as error:
                answers[command.command_id] = error

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    with connect(settings) as holder, holder.transaction():
        holder.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(events))  # until the block ends
        threads = [execute(restock("c-a", "SKU-A"))]
        wait_for(lambda: recorder._group._leading, "the first command to be committing")
        queued = (("c-b", "SKU-B"), ("c-dup", "SKU-D"), ("c-c", "SKU-C"))
        threads += [execute(restock(command, sku)) for command, sku in queued]
        wait_for(lambda: len(recorder._group._queue) == 3, "three commands to queue behind it")
    for thread in threads:
        thread.join(30)

    assert {command: type(answer).__name__ for command, answer in answers.items()} == dict.fromkeys(
        ("c-a", "c-b", "c-dup", "c-c"), "Receipt"
    )
    replayed = [getattr(answers[c], "replayed", None) for c in ("c-a", "c-b", "c-dup", "c-c")]
    assert replayed == [False, False, True, False], "the duplicate answered from the log"
    with connect(settings) as conn:
        started = dict(
            conn.execute(
                sql.SQL(
                    "SELECT command_id, recorded_at FROM {} WHERE command_id IN ('c-a', 'c-b', 'c-c')"
                ).format(sql.Identifier(recorder.commands_table_name))
            ).fetchall()
        )
        ids = conn.execute(
            sql.SQL("SELECT originator_id::text, notification_id FROM {} ORDER BY notification_id").format(
                events
            )
        ).fetchall()
    assert started["c-b"] == started["c-c"] != started["c-a"], "b and c committed in one transaction"
    by_sku = {stock_item_id(sku): sku for sku in ("SKU-A", "SKU-B", "SKU-C")}
    last = [by_sku[UUID(aggregate)] for aggregate, _ in ids if UUID(aggregate) in by_sku][-3:]
    assert last == ["SKU-A", "SKU-B", "SKU-C"], "notification ids in commit order, then queue order"


def wait_for(condition: Any, what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout_s}s for {what}"
        time.sleep(0.01)
