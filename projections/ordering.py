"""The one decision every consumed event goes through: apply it, skip it, or make it wait.

Pure, so that the rules can be read and tested without a database. Versions are the
event's position in its own aggregate (1, 2, 3...), which the event store guarantees are
gap-free; Kafka keeps one aggregate's events in order on one partition but may deliver any
of them again (at-least-once), and a broken publisher could lose or reorder one.
"""

from collections.abc import Collection
from enum import Enum


class Verdict(Enum):
    DUPLICATE = "duplicate"  # applied before (or is the dead letter itself): skip, count it
    NEXT = "next"  # exactly the version after the last applied one: apply it now
    GAP = "gap"  # a version is missing before it: park it until the missing one arrives
    BLOCKED = "blocked"  # an earlier event of its aggregate is a dead letter: park it behind

    @property
    def waits(self) -> bool:
        return self in (Verdict.GAP, Verdict.BLOCKED)


def decide(last_applied: int, version: int, dead_letters: Collection[int | None] = ()) -> Verdict:
    """Classify `version` of an aggregate whose versions up to `last_applied` are applied.

    `dead_letters` are the versions of the aggregate's open dead letters (None where a
    record could not even be decoded). Any open dead letter holds back every later event of
    the aggregate, so per-aggregate order survives a poison event.
    """
    if version <= last_applied or version in dead_letters:
        return Verdict.DUPLICATE
    if dead_letters:
        return Verdict.BLOCKED
    if version == last_applied + 1:
        return Verdict.NEXT
    return Verdict.GAP
