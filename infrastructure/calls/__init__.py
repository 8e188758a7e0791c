"""The outbound calls of one context (`<context>_calls`): written with the command that decided
them, performed by gateway workers, closed with the command that records their answer.

A row is inserted in the transaction of the deciding command (so no call without its cause,
and none lost), and closed in the transaction of the answer's command (so no answer without
its call closed). In between, workers claim due rows with `FOR UPDATE SKIP LOCKED` and a
lease: concurrent workers never take the same row, and a row whose worker died is taken
again once the lease has passed. Asking again is safe: the call id is the idempotency key
the other party sees, and the answer's command id derives from it. A failed attempt is
rescheduled here (`due_at`), so backing off holds no thread; a call that can never succeed
is parked with its reason, for an operator to retry.

`PostgresCallQueue` and `MemoryCallQueue` keep the same contract, so the gateway and its
tests run unchanged in memory and on PostgreSQL.

Beside the calls, `call_attempts` (attempts.py) records every request the HTTP clients made
under a call's key, and what it met, for `orders trace`.
"""

from infrastructure.calls.attempts import Attempt, AttemptLog, PostgresAttemptLog
from infrastructure.calls.memory import MemoryCallQueue
from infrastructure.calls.queue import ParkedCall, PostgresCallQueue
from infrastructure.calls.table import CallTable

__all__ = [
    "Attempt",
    "AttemptLog",
    "CallTable",
    "MemoryCallQueue",
    "ParkedCall",
    "PostgresAttemptLog",
    "PostgresCallQueue",
]
