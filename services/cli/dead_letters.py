"""The saga's dead letters, kept in the one dead-letter table every consumer of the topics
shares (each projection's, and the saga's under the consumer name "saga"), so `orders dlq`
lists, retries and discards them all. An entry point: it wires the saga to the table."""

from collections.abc import Callable

from infrastructure.contracts import IntegrationEvent
from infrastructure.database import connect
from infrastructure.metrics import METRICS
from infrastructure.settings import Settings
from projections import dead_letters, tables
from projections.dead_letters import DeadLetter
from projections.incoming import Identity, Incoming
from services.saga.records import Record

CONSUMER = "saga"


class SagaDeadLetters:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        tables.ensure(settings)

    def park(self, record: Record, event: IntegrationEvent | None, reason: str) -> None:
        incoming = Incoming(record.value, record.key, record.topic, record.partition, record.offset)
        who = Identity(event.aggregate_id, event.aggregate_version) if event else incoming.salvage_identity()
        with connect(self.settings, autocommit=True) as conn, conn.cursor() as cursor:
            added = dead_letters.add(cursor, CONSUMER, who, incoming, reason[: dead_letters.MAX_ERROR_LENGTH])
        if added:  # parked now, not a redelivery of one parked before
            METRICS.dead_letters.labels(consumer=CONSUMER).inc()


def retry(settings: Settings, letter: DeadLetter, handle: Callable[[IntegrationEvent], None]) -> str:
    """Hand a saga dead letter to the saga again; "" once it was handled (and the letter is
    resolved), else why it still fails (and the letter stays open)."""
    try:
        handle(letter.record.event())
    except Exception as error:
        outcome = dead_letters.describe(error)
    else:
        outcome = ""
    with connect(settings, autocommit=True) as conn, conn.cursor() as cursor:
        if outcome:
            dead_letters.still_failing(cursor, letter.id, outcome)
        else:
            dead_letters.resolve(cursor, letter.id, dead_letters.RETRIED)
    return outcome
