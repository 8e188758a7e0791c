"""Group commit: the writes of commands that arrive together share one transaction.

Every context's events table is written under an EXCLUSIVE table lock held to COMMIT (the
eventsourcing library takes it so that notification ids commit in the order they were issued,
and a reader tailing the log never passes over a gap that fills in later). So one context
commits one transaction at a time, each paying a lock and a WAL flush of its own, however many
threads execute commands: at four threads the command path ran no faster than at one.

Here the first thread to arrive while no commit is in flight leads: it takes every write
waiting (up to `max_batch`), its own first, and commits them in one transaction; threads that
arrive meanwhile wait, and when the commit ends the first of them leads the next one. A lone
command therefore commits at once, as before, and under load one lock and one flush serve
many commands. Nothing else changes:

- each command's rows (its command-log row, events and calls) are written inside a savepoint
  of their own, so a command that fails - its id already recorded, an aggregate version
  taken - is rolled back alone, raising its own IntegrityError to its own caller, and the
  others commit;
- every caller returns only after the COMMIT that made its rows durable, with synchronous
  commit as configured; a COMMIT that fails fails every command in it, each caller's retry
  then finding its row if the COMMIT did happen, as after any lost answer;
- the table lock is held from the batch's first insert to its COMMIT, so notification ids
  still commit in issue order.
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_BATCH = 64  # writes committed together at most; more wait for the next commit


@dataclass(eq=False)
class Write:
    """One command's rows, and, once committed or failed, what its caller gets."""

    rows: Any  # what the committing function writes for this command
    result: Sequence[int] | None = None
    error: BaseException | None = None
    done: bool = field(default=False, repr=False)


# Writes a batch in one transaction: sets each write's result, or its error if it failed
# alone (rolled back to its savepoint); raises if the transaction as a whole failed.
CommitBatch = Callable[[Sequence[Write]], None]


class GroupCommit:
    def __init__(self, commit_batch: CommitBatch, max_batch: int = MAX_BATCH) -> None:
        self._commit_batch = commit_batch
        self._max_batch = max_batch
        self._queue: list[Write] = []
        self._leading = False
        self._changed = threading.Condition()

    def submit(self, rows: Any) -> Sequence[int] | None:
        """Commit `rows` with whatever else is waiting; its result, or its error raised."""
        write = Write(rows)
        with self._changed:
            self._queue.append(write)
            while not write.done and (self._leading or self._queue[0] is not write):
                self._changed.wait()
            if write.done:  # committed (or failed) in a batch another thread led
                return _outcome(write)
            self._leading = True
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        try:
            self._commit_batch(batch)
        except BaseException as error:  # the transaction failed: every write in it did
            for each in batch:
                each.result, each.error = None, error
        finally:
            with self._changed:
                for each in batch:
                    each.done = True
                self._leading = False
                self._changed.notify_all()
        return _outcome(write)


def _outcome(write: Write) -> Sequence[int] | None:
    if write.error is not None:
        raise write.error
    return write.result
