"""The command path against what the database and the library can do (L1, L2, P1, P2).

- L1: one row INSERTed and COMMITted per operation with psycopg, into a table made by the
  library's own DDL (the columns and indexes of every context's events table), with a
  stored event's bytes: the ceiling for one durable write. No table lock, so concurrent
  commits may share a WAL flush.
- L2: the eventsourcing library alone, its plain `Application` on the same persistence
  settings, saving the same stock-item event per operation: no command log, no load, no
  cache. The peer a project on the library would start from.
- P1: `RestockSku` through the inventory context's `execute`, every idempotency layer on:
  the command-log lookup, the load (cached, fast-forwarded), the fingerprint, the handler,
  then the event, the command row and every 100th event's snapshot in one transaction.
  One stock item per thread, so threads never conflict.
- P2: the same commands again, each answered from the command log, against a raw SELECT of
  the same rows by primary key.
"""

import itertools
import uuid
from contextlib import ExitStack
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg import sql

from bench.blocks.measure import Operation, Run, in_threads
from domain.inventory import RestockSku, StockItem
from domain.tracing import Trace
from services.transcodings import register_value_objects

TRACE = Trace("bench", "bench", "bench")
RAW_TABLE = "raw_events"


class Library(Application[UUID]):
    """The library's plain application; only the project's value objects are taught to its
    transcoder, so that it stores the very events the inventory context stores."""

    name = "Library"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_objects(transcoder)


def measure(run: Run) -> None:
    """L1, L2 and P1 at each thread count, then P2; into `run.measurements`."""
    state = _stored_state(run)
    _create_raw_table(run)
    library = Library({**run.settings.persistence_env(), "PERSISTENCE_MODULE": "eventsourcing.postgres"})
    try:
        executed = {threads: _at(run, library, state, threads) for threads in run.sizes.threads}
    finally:
        library.close()
    first = executed[1]  # P1's first executions, one thread: what P2 replays
    run.measurements["p2_replay"] = in_threads(
        run, "P2 replay of P1's commands, 1 thread", 1, lambda t, stack: _replay(run, first), len(first)
    )
    run.measurements["p2_select"] = in_threads(
        run,
        "P2 SELECT of their command rows, 1 thread",
        1,
        lambda t, stack: _select(run, first, stack),
        len(first),
    )


def _at(run: Run, library: Library, state: bytes, threads: int) -> list[RestockSku]:
    """L1, L2 and P1 with `threads` threads; returns the commands the first thread executed."""
    key, said = ("1_thread", "1 thread") if threads == 1 else (f"{threads}_threads", f"{threads} threads")
    run.measurements[f"l1_{key}"] = in_threads(
        run, f"L1 raw INSERT+COMMIT, {said}", threads, lambda t, stack: _raw_insert(run, state, stack)
    )
    run.measurements[f"l2_{key}"] = in_threads(
        run, f"L2 library save, {said}", threads, lambda t, stack: _library_save(library, f"L2-{threads}-{t}")
    )
    made: list[list[RestockSku]] = []
    run.measurements[f"p1_{key}"] = in_threads(
        run, f"P1 execute, {said}", threads, lambda t, stack: _execute(run, threads, t, made)
    )
    return made[0]


def _stored_state(run: Run) -> bytes:
    """What the inventory context stores for one restock: L1 writes rows of this size."""
    item = StockItem.register("STATE", TRACE)
    item.restock(1, TRACE)
    event = item.collect_events()[-1]
    return bytes(run.system.inventory.mapper.to_stored_event(event).state)


def _create_raw_table(run: Run) -> None:
    """By the library's recorder itself, so that its columns and indexes are the contexts'."""
    datastore = run.system.inventory.recorder.datastore  # type: ignore[attr-defined]
    PostgresApplicationRecorder(datastore, events_table_name=RAW_TABLE).create_table()


def _raw_insert(run: Run, state: bytes, stack: ExitStack) -> Operation:
    conn = stack.enter_context(psycopg.connect(run.database_url, autocommit=True))
    insert = sql.SQL(
        "INSERT INTO {} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"
    ).format(sql.Identifier(run.settings.postgres_schema, RAW_TABLE))
    originator, versions = uuid.uuid4(), itertools.count(1)
    topic = get_topic(StockItem.Restocked)
    return lambda _: conn.execute(insert, (originator, next(versions), topic, state), prepare=True)


def _library_save(library: Library, sku: str) -> Operation:
    item = StockItem.register(sku, TRACE)
    library.save(item)

    def save(_: int) -> None:
        item.restock(1, TRACE)
        library.save(item)

    return save


def _execute(run: Run, threads: int, thread: int, made: list[list[RestockSku]]) -> Operation:
    """Thread `thread`'s commands, made before the clock starts; kept in `made` for P2."""
    sku = f"P1-{threads}-{thread}"
    each = run.sizes.ops // threads
    commands = [RestockSku(command_id=f"{sku}-{i}", sku=sku, quantity=1) for i in range(each)]
    made.append(commands)
    inventory = run.system.inventory

    def execute(i: int) -> None:
        if i < 0:  # warming up: commands of their own, not to be replayed
            inventory.execute(RestockSku(command_id=f"{sku}-warm{i}", sku=sku, quantity=1))
        else:
            inventory.execute(commands[i])

    return execute


def _replay(run: Run, commands: list[RestockSku]) -> Operation:
    inventory = run.system.inventory

    def replay(i: int) -> None:
        receipt = inventory.execute(commands[max(i, 0)])
        assert receipt.replayed, commands[i].command_id

    return replay


def _select(run: Run, commands: list[RestockSku], stack: ExitStack) -> Operation:
    conn = stack.enter_context(psycopg.connect(run.database_url, autocommit=True))
    table = run.system.inventory.recorder.commands_table_name  # type: ignore[attr-defined]
    select = sql.SQL(
        "SELECT command_id, command_type, fingerprint, outcome FROM {} WHERE command_id = %s"
    ).format(sql.Identifier(run.settings.postgres_schema, table))

    def read(i: int) -> Any:
        row = conn.execute(select, (commands[max(i, 0)].command_id,), prepare=True).fetchone()
        assert row is not None
        return row

    return read
