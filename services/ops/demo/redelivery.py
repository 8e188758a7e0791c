"""After the run: hand every published record again to the saga and to every projection,
as Kafka would after a consumer lost its offsets, and show that nothing changes.

The saga is handed all the records of the four topics in order (its commands are all in the
command logs already, so each is answered from there); each projection replays its topics
from offset 0 over its live tables (each version is applied already, so each is skipped).
"Nothing changes" is read from the stores: no new event, no new command-log row, the same
read-model checksums.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from infrastructure.database import connect
from infrastructure.deadlines import PostgresDeadlineStore
from infrastructure.settings import Settings
from projections import sources
from projections.catalog import PROJECTIONS
from projections.rebuild import replay_from_kafka
from services.bootstrap import System
from services.saga import OrderSaga


@dataclass(frozen=True)
class Redelivery:
    saga_records: int  # records handed to the saga again
    projection_records: int  # records handed to the projections again, all together
    skipped: int  # of those, skipped by the projections as applied already
    new_rows: int  # events and command-log rows that appeared: must be 0
    changed: list[str]  # projections whose checksum changed: must be none

    @property
    def ok(self) -> bool:
        return not self.new_rows and not self.changed and self.skipped == self.projection_records


def redeliver(settings: Settings, system: System) -> Redelivery:
    before = _rows(settings, system)
    deadlines = PostgresDeadlineStore(settings)
    try:
        saga = OrderSaga(system, deadlines)
        handed = 0
        for batch in sources.from_kafka(settings, system.registry.names):
            for record in batch:
                saga.handle(record.event())
            handed += len(batch)
    finally:
        deadlines.close()
    outcomes = {name: replay_from_kafka(settings, projection) for name, projection in PROJECTIONS.items()}
    return Redelivery(
        saga_records=handed,
        projection_records=sum(o.counts.total for o in outcomes.values()),
        skipped=sum(o.counts.duplicates_skipped for o in outcomes.values()),
        new_rows=sum(_rows(settings, system).values()) - sum(before.values()),
        changed=[name for name, o in outcomes.items() if o.checksum != o.before],
    )


def _rows(settings: Settings, system: System) -> Mapping[str, int]:
    """Rows in every events table and command log."""
    counts: dict[str, Any] = {}
    with connect(settings) as conn:
        for app in system.contexts:
            recorder: Any = app.recorder
            for table in (recorder.events_table_name, recorder.commands_table_name):
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                ).fetchone()
                counts[table] = row[0] if row else 0
    return counts
