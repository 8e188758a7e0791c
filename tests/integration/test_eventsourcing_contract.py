"""The `eventsourcing` library's own contract tests, run against our persistence configuration.

The library ships abstract test cases (`eventsourcing.tests.persistence`) that every recorder
and infrastructure factory must pass. Here they run against what the services really use:

* `PostgresCommandRecorder`, built by `PostgresCommandFactory` from
  `Settings(database_url=...).persistence_env()` (lock timeout, pool sizes, pre-ping, schema),
  exactly as `Application` builds it: `InfrastructureFactory.construct(Environment(name, env))`;
* `MemoryCommandRecorder`, built the same way from `Settings().persistence_env()`.

Each PostgreSQL test gets a schema of its own, created in `setUp` and dropped (CASCADE) on
cleanup, so tests neither see each other's rows nor other suites' tables, and can rerun.

`CommandRecorderTestCase` at the end is the same kind of contract for our one extension: the
command row and the events commit together or not at all.

Not run here: `AggregateRecorderTestCase` against the command recorders (it requires
`insert_events` to return None, the aggregate-recorder contract; an application recorder
returns notification ids), so it runs against the factory's aggregate (snapshot) recorder;
the tracking and process recorder cases, since our factories use the library's classes as is.
Nothing is skipped: the slowest library test takes about a second.
"""

import uuid
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import psycopg
import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    ProcessRecorder,
    StoredEvent,
    TrackingRecorder,
)
from eventsourcing.popo import (
    POPOAggregateRecorder,
    POPOProcessRecorder,
    POPOTrackingRecorder,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier

from domain.commands import CommandRecord
from infrastructure.command_log import (
    MemoryCommandFactory,
    MemoryCommandRecorder,
    PostgresCommandFactory,
    PostgresCommandRecorder,
)
from infrastructure.settings import Settings

# Imported as a module, not by name: pytest collects every TestCase subclass it finds in a
# module's namespace, and some of the library's bases are not abstract.
try:
    from eventsourcing.tests import persistence as contract
except ModuleNotFoundError as missing:  # its cipher tests import pycryptodome
    raise ImportError(
        f"eventsourcing.tests needs {missing.name!r}: install eventsourcing[crypto] (pycryptodome)"
    ) from missing

pytestmark = pytest.mark.integration

# The application name the factory is given: tables are `contract_events`/`contract_commands`.
APP_NAME = "Contract"


@pytest.fixture(scope="class")
def contract_database(request: pytest.FixtureRequest, database_url: str) -> None:
    """Hand the session's PostgreSQL server to a unittest-style class."""
    request.cls.database_url = database_url


class PostgresSchemaPerTest:
    """Mixin: a fresh schema per test, and the environment our services would be given for it.

    Subclasses are `unittest.TestCase`s marked `@pytest.mark.usefixtures("contract_database")`.
    """

    database_url: ClassVar[str]
    schema: str
    env: Environment

    def setUp(self) -> None:
        self.schema = f"contract_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(self.schema)))
        # Cleanups run after tearDown (so after any factory is closed), last registered first.
        self.addCleanup(self._drop_schema)  # type: ignore[attr-defined]
        settings = Settings(database_url=self.database_url, postgres_schema=self.schema)
        self.env = Environment(APP_NAME, settings.persistence_env())
        super().setUp()  # type: ignore[misc]

    def _drop_schema(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(self.schema)))

    def fetch(self, query: str, **tables: str) -> list[tuple[Any, ...]]:
        """Run `query` with `{schema}` and each `{name}` in `tables` filled in as identifiers."""
        names = {name: Identifier(table) for name, table in tables.items()}
        statement = SQL(query).format(schema=Identifier(self.schema), **names)
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(statement).fetchall()


class PostgresCommandRecorderFromSettings(PostgresSchemaPerTest):
    """Mixin: `create_recorder()` returns the recorder an application gets from our settings."""

    factory: PostgresCommandFactory

    def setUp(self) -> None:
        super().setUp()
        factory = InfrastructureFactory.construct(self.env)
        assert type(factory) is PostgresCommandFactory, type(factory)
        self.factory = factory
        self.addCleanup(factory.close)  # type: ignore[attr-defined]

    def create_recorder(self) -> PostgresCommandRecorder:
        recorder = self.factory.application_recorder()
        assert type(recorder) is PostgresCommandRecorder, type(recorder)
        assert recorder.datastore.schema == self.schema
        assert recorder.datastore.lock_timeout == 5
        return recorder


def memory_command_recorder() -> MemoryCommandRecorder:
    """The recorder an application gets from our settings without DATABASE_URL."""
    factory = InfrastructureFactory.construct(Environment(APP_NAME, Settings().persistence_env()))
    assert type(factory) is MemoryCommandFactory, type(factory)
    recorder = factory.application_recorder()
    assert type(recorder) is MemoryCommandRecorder, type(recorder)
    return recorder


# --- The library's ApplicationRecorderTestCase -----------------------------------------------


@pytest.mark.usefixtures("contract_database")
class TestPostgresCommandRecorderIsAnApplicationRecorder(
    PostgresCommandRecorderFromSettings,
    contract.ApplicationRecorderTestCase[PostgresCommandRecorder],
):
    def test_insert_subscribe(self) -> None:
        # Optional in the library's base class; the relay tails the log, so we want it.
        self.optional_test_insert_subscribe()


class TestMemoryCommandRecorderIsAnApplicationRecorder(
    contract.ApplicationRecorderTestCase[MemoryCommandRecorder]
):
    def create_recorder(self) -> MemoryCommandRecorder:
        return memory_command_recorder()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


# --- The library's NonInterleavingNotificationIDsBaseCase -------------------------------------
# Two racing writers of 1000 events each: each writer's notification ids must form one block,
# or a reader tailing the log could pass a gap that a later commit fills.


@pytest.mark.usefixtures("contract_database")
class TestPostgresCommandRecorderNotificationIdsDoNotInterleave(
    PostgresCommandRecorderFromSettings,
    contract.NonInterleavingNotificationIDsBaseCase,
):
    pass


class TestMemoryCommandRecorderNotificationIdsDoNotInterleave(
    contract.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> ApplicationRecorder:
        return memory_command_recorder()


# --- The library's AggregateRecorderTestCase --------------------------------------------------
# It asserts that insert_events() returns None, which is the aggregate-recorder contract and not
# the application-recorder one (notification ids), so it cannot apply to our command recorders.
# It applies to the one aggregate recorder our factory makes: the snapshot store.


@pytest.mark.usefixtures("contract_database")
class TestPostgresSnapshotRecorderFromSettingsIsAnAggregateRecorder(
    PostgresSchemaPerTest, contract.AggregateRecorderTestCase
):
    def setUp(self) -> None:
        super().setUp()
        self.factory = InfrastructureFactory.construct(self.env)
        self.addCleanup(self.factory.close)

    def create_recorder(self) -> AggregateRecorder:
        return self.factory.aggregate_recorder("snapshots")


# --- The library's InfrastructureFactoryTestCase ----------------------------------------------


@pytest.mark.usefixtures("contract_database")
class TestPostgresCommandFactoryIsAnInfrastructureFactory(
    PostgresSchemaPerTest, contract.InfrastructureFactoryTestCase[PostgresCommandFactory]
):
    # The base's setUp constructs the factory from `self.env`; our mixin's setUp sets it first.
    class TrackingRecorderSubclass(PostgresTrackingRecorder):
        pass

    def expected_factory_class(self) -> type[PostgresCommandFactory]:
        return PostgresCommandFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return PostgresCommandRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresProcessRecorder


class TestMemoryCommandFactoryIsAnInfrastructureFactory(
    contract.InfrastructureFactoryTestCase[MemoryCommandFactory]
):
    class TrackingRecorderSubclass(POPOTrackingRecorder):
        pass

    def setUp(self) -> None:
        self.env = Environment("TestCase", Settings().persistence_env())
        super().setUp()

    def expected_factory_class(self) -> type[MemoryCommandFactory]:
        return MemoryCommandFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return POPOAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return MemoryCommandRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return POPOTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return POPOProcessRecorder


# --- Our extension: the command log -----------------------------------------------------------


class CommandRecorderTestCase(contract.RecorderTestCase, ABC):
    """The command row and the events are one transaction: both are stored, or neither is."""

    @abstractmethod
    def create_recorder(self) -> PostgresCommandRecorder | MemoryCommandRecorder:
        """"""

    @abstractmethod
    def stored_command_ids(self, recorder: Any) -> list[str]:
        """Every command id stored, sorted, read without going through find_command."""

    @abstractmethod
    def stored_events(self, recorder: Any) -> list[tuple[uuid.UUID, int, str]]:
        """(originator_id, originator_version, topic) of every event stored, in notification order."""

    def event(self, originator_id: uuid.UUID, version: int, topic: str) -> StoredEvent:
        return StoredEvent(originator_id=originator_id, originator_version=version, topic=topic, state=b"{}")

    def test_a_reused_command_id_stores_neither_its_events_nor_its_command_row(self) -> None:
        recorder = self.create_recorder()
        order1, order2 = uuid.uuid4(), uuid.uuid4()
        first = CommandRecord("cmd-1", "PlaceOrder", "fingerprint-1", {"result": {"order_id": str(order1)}})
        recorder.insert_events([self.event(order1, 1, "OrderPlaced.v1")], command_record=first)

        again = CommandRecord("cmd-1", "PlaceOrder", "fingerprint-2", {"result": {"order_id": str(order2)}})
        with self.assertRaises(IntegrityError):
            recorder.insert_events(
                [self.event(order2, 1, "OrderPlaced.v1"), self.event(order2, 2, "OrderConfirmed.v1")],
                command_record=again,
            )

        self.assertEqual(self.stored_command_ids(recorder), ["cmd-1"])
        self.assertEqual(self.stored_events(recorder), [(order1, 1, "OrderPlaced.v1")])
        self.assertEqual(recorder.find_command("cmd-1"), first)
        self.assertEqual(recorder.select_events(order2), [])

        # Nothing was left half-done: the same events under a new command id go through.
        recorder.insert_events(
            [self.event(order2, 1, "OrderPlaced.v1")],
            command_record=CommandRecord("cmd-2", "PlaceOrder", "fingerprint-2", {"result": {}}),
        )
        self.assertEqual(self.stored_command_ids(recorder), ["cmd-1", "cmd-2"])
        self.assertEqual(
            self.stored_events(recorder), [(order1, 1, "OrderPlaced.v1"), (order2, 1, "OrderPlaced.v1")]
        )

    def test_a_conflicting_event_stores_no_command_row(self) -> None:
        recorder = self.create_recorder()
        order = uuid.uuid4()
        recorder.insert_events(
            [self.event(order, 1, "OrderPlaced.v1")],
            command_record=CommandRecord("cmd-1", "PlaceOrder", "f1", {"result": {}}),
        )

        # Another writer already stored version 1: optimistic concurrency, so no command row.
        with self.assertRaises(IntegrityError):
            recorder.insert_events(
                [self.event(order, 1, "OrderCancelled.v1")],
                command_record=CommandRecord("cmd-2", "CancelOrder", "f2", {"result": {}}),
            )

        self.assertEqual(self.stored_command_ids(recorder), ["cmd-1"])
        self.assertIsNone(recorder.find_command("cmd-2"))
        self.assertEqual(self.stored_events(recorder), [(order, 1, "OrderPlaced.v1")])

    def test_a_command_record_without_events_stores_just_the_command_row(self) -> None:
        recorder = self.create_recorder()
        outcome = {"error": {"code": "out_of_stock", "message": "SKU «HOT» has 0 left", "asked": [1, 2.5]}}
        refusal = CommandRecord("cmd-refused", "ReserveStock", "f1", outcome)

        recorder.insert_events([], command_record=refusal)

        self.assertEqual(self.stored_command_ids(recorder), ["cmd-refused"])
        self.assertEqual(self.stored_events(recorder), [])
        self.assertIsNone(recorder.max_notification_id())
        found = recorder.find_command("cmd-refused")
        self.assertEqual(found, refusal)
        assert found is not None
        self.assertIsInstance(found.outcome, dict)
        self.assertEqual(found.outcome, outcome)

        # Recording the same refusal twice is a duplicate too, even with nothing else to insert.
        with self.assertRaises(IntegrityError):
            recorder.insert_events([], command_record=refusal)
        self.assertEqual(self.stored_command_ids(recorder), ["cmd-refused"])

    def test_find_command_returns_none_for_an_unknown_id(self) -> None:
        recorder = self.create_recorder()
        recorder.insert_events([self.event(uuid.uuid4(), 1, "OrderPlaced.v1")])  # no command record
        self.assertIsNone(recorder.find_command("never-sent"))
        self.assertEqual(self.stored_command_ids(recorder), [])


@pytest.mark.usefixtures("contract_database")
class TestPostgresCommandRecorderKeepsTheCommandLog(
    PostgresCommandRecorderFromSettings, CommandRecorderTestCase
):
    def stored_command_ids(self, recorder: Any) -> list[str]:
        query = "SELECT command_id FROM {schema}.{table} ORDER BY command_id"
        return [row[0] for row in self.fetch(query, table=f"{APP_NAME.lower()}_commands")]

    def stored_events(self, recorder: Any) -> list[tuple[uuid.UUID, int, str]]:
        query = (
            "SELECT originator_id, originator_version, topic FROM {schema}.{table} ORDER BY notification_id"
        )
        return [(row[0], row[1], row[2]) for row in self.fetch(query, table=recorder.events_table_name)]


class TestMemoryCommandRecorderKeepsTheCommandLog(CommandRecorderTestCase):
    def create_recorder(self) -> MemoryCommandRecorder:
        return memory_command_recorder()

    def stored_command_ids(self, recorder: Any) -> list[str]:
        return sorted(recorder._commands)  # no SQL to read it with: the dict is the table

    def stored_events(self, recorder: Any) -> list[tuple[uuid.UUID, int, str]]:
        notifications = recorder.select_notifications(start=None, limit=1_000)
        return [(n.originator_id, n.originator_version, n.topic) for n in notifications]
