"""The command log: one row per applied command, committed with the command's events.

Each context's application recorder is extended so that `app.save(..., command_record=r)`
inserts `r` into `<context>_commands` inside the very transaction that inserts the events.
Either both are durable or neither is, which is what lets a replay, a concurrent duplicate
or a retry after an ambiguous COMMIT find the first result instead of applying it again.
The same transaction writes the outbound calls the command decided (`calls=`) and closes
the calls whose answer it records (`answered=`), in `<context>_calls` (`infrastructure/calls`).
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from domain.calls import Call
from domain.commands import CommandRecord
from infrastructure import shared_datastore
from infrastructure.calls import CallTable, MemoryCallQueue, PostgresCallQueue
from infrastructure.database import DDL_LOCK_KEY
from infrastructure.group_commit import GroupCommit, Write

# One key for every process creating this project's tables (an arbitrary constant).


class PostgresCommandRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        context = events_table_name.removesuffix("_events")
        self.commands_table_name = context + "_commands"
        self.call_table = CallTable(self.datastore.schema, context + "_calls")
        self.calls = PostgresCallQueue(self.datastore, self.call_table)
        table = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.commands_table_name))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " command_id text PRIMARY KEY,"
                " command_type text NOT NULL,"
                " fingerprint text NOT NULL,"
                " outcome jsonb NOT NULL,"
                " recorded_at timestamptz NOT NULL DEFAULT now())"
            ).format(table)
        )
        self._insert_command = SQL(
            "INSERT INTO {} (command_id, command_type, fingerprint, outcome) VALUES (%s, %s, %s, %s)"
        ).format(table)
        self.sql_create_statements += self.call_table.create
        self._group = GroupCommit(self._commit_batch)
        self._select_command = SQL(
            "SELECT command_id, command_type, fingerprint, outcome FROM {} WHERE command_id = %s"
        ).format(table)

    def create_table(self) -> None:
        with _ddl_locked(self.datastore):
            super().create_table()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        command_record: CommandRecord | None = None,
        calls: Sequence[Call] = (),
        answered: Sequence[str] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Insert the command's row, its calls and its events in one transaction, which
        commands arriving at the same moment share (`infrastructure/group_commit.py`).

        The library's retry on a lost connection is kept: if the lost answer was to a COMMIT
        that succeeded, the retry hits the command's row."""
        return self._group.submit(_Rows(stored_events, command_record, calls, answered, kwargs))

    def _commit_batch(self, batch: Sequence[Write]) -> None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            if len(batch) == 1:  # alone: its failure is the transaction's, no savepoint needed
                batch[0].result = self._write(curs, batch[0].rows)
                return
            for write in batch:
                try:
                    with conn.transaction():  # a savepoint: a failure rolls back this write alone
                        write.result = self._write(curs, write.rows)
                except psycopg.IntegrityError as error:
                    write.error = IntegrityError(str(error))

    def _write(self, curs: Any, rows: "_Rows") -> Sequence[int]:
        """The library pipelines its insert; a unique violation on the command row would abort
        that pipeline and surface as a retryable "pipeline aborted" error. Here the command
        row goes first, unpipelined, so a duplicate fails at once as an IntegrityError,
        before the table lock is taken."""
        if rows.command_record is not None:
            curs.execute(self._insert_command, self._command_params(rows.command_record), prepare=True)
        notification_ids: Sequence[int] = []
        if rows.stored_events:
            self._insert_stored_events(curs, rows.stored_events, **rows.kwargs)
            notification_ids = self._fetch_ids_after_insert_events(curs, rows.stored_events, **rows.kwargs)
        # After the events' table lock, never before: `create_table` locks the events
        # table first, then the calls table, and the opposite order could deadlock.
        self.call_table.write(curs, rows.calls, rows.answered)
        return notification_ids

    @staticmethod
    def _command_params(record: CommandRecord) -> tuple[str, str, str, str]:
        return (record.command_id, record.command_type, record.fingerprint, json.dumps(record.outcome))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def find_command(self, command_id: str) -> CommandRecord | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_command, (command_id,), prepare=True)
            row = curs.fetchone()
        return None if row is None else CommandRecord(**row)


@dataclass(frozen=True)
class _Rows:
    """What one command writes."""

    stored_events: Sequence[StoredEvent]
    command_record: CommandRecord | None
    calls: Sequence[Call]
    answered: Sequence[str]
    kwargs: dict[str, Any]


class MemoryCommandRecorder(POPOApplicationRecorder):
    """The same contract in memory, so unit tests run the same scenarios without a server."""

    def __init__(self) -> None:
        super().__init__()
        self._commands: dict[str, CommandRecord] = {}
        self.calls = MemoryCallQueue()

    def _insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        command_record: CommandRecord | None = None,
        calls: Sequence[Call] = (),
        answered: Sequence[str] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        with self._database_lock:
            if command_record is not None and command_record.command_id in self._commands:
                raise IntegrityError(f"command {command_record.command_id} already recorded")
            notification_ids = super()._insert_events(stored_events, **kwargs)
            if command_record is not None:
                self._commands[command_record.command_id] = command_record
            self.calls.write(calls, answered)
            return notification_ids

    def find_command(self, command_id: str) -> CommandRecord | None:
        with self._database_lock:
            return self._commands.get(command_id)


class PostgresCommandFactory(PostgresFactory):
    """The library's factory, with one connection pool per process and server (and schema)
    for all the contexts instead of one each (`shared_datastore.py`)."""

    application_recorder_class = PostgresCommandRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        ds = self.datastore
        self._shared_key = (ds.pool.conninfo, ds.schema, ds.lock_timeout, ds.pre_ping)
        self.datastore = shared_datastore.acquire(self._shared_key, ds)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        """The library's recorder, which here keeps only snapshots (`<context>_snapshots`, for
        the contexts that take them), its table created under the DDL lock."""
        with _ddl_locked(self.datastore):
            return super().aggregate_recorder(purpose)

    def close(self) -> None:
        key, self._shared_key = self._shared_key, None
        if key is not None:
            shared_datastore.release(key)


@contextmanager
def _ddl_locked(datastore: PostgresDatastore) -> Iterator[None]:
    """Hold the advisory lock of every process creating this project's tables: the library's
    DDL (CREATE TYPE, CREATE OR REPLACE FUNCTION) fails with "tuple concurrently updated" when
    several processes start at once."""
    with datastore.get_connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK_KEY,))


class MemoryCommandFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        return MemoryCommandRecorder()
