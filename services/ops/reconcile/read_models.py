"""Every read model against a fold of the event store: what it should hold for the events it
has consumed.

A projection applies each aggregate's events in version order and records the last version
it applied, in the transaction that changed its tables. So whatever it has consumed, its
tables must equal a fold of each aggregate's stored events up to that version
(`projections.rebuild.fold_of_consumed`): a lagging model still passes, and only one whose
rows changed behind its back, or that applied an event wrongly, fails. Lag is reported on its
own, from the consumer groups (`consumption.py`): nothing to repair, a projector to look at.
"""

from collections.abc import Mapping

from infrastructure.settings import Settings
from projections.catalog import PROJECTIONS
from projections.rebuild import fold_of_consumed
from projections.sources import NotificationLog
from services.ops.reconcile.consumption import Consumption
from services.ops.reconcile.differences import Compared, Difference, Rebuild


def compare(settings: Settings, logs: Mapping[str, NotificationLog], consumption: Consumption) -> Compared:
    """`logs`: each context's application, whose event store the folds read."""
    found = []
    for name, projection in PROJECTIONS.items():
        if behind := consumption.behind.get(name, 0):
            lag = (
                f"its projector had not consumed {behind} of the records on its topics after"
                f" {consumption.waited_s:.0f}s (is it running?)"
            )
            found.append(Difference("read_model", {"projection": name}, lag))
        outcome = fold_of_consumed(settings, projection, logs)
        if outcome.checksum != outcome.before:
            diverged = (
                f"differs from a fold of the {outcome.counts.total} events it consumed"
                f" (checksum {outcome.before[:12]}, the fold's {outcome.checksum[:12]})"
            )
            found.append(Difference("read_model", {"projection": name}, diverged, Rebuild(name)))
    return Compared("read models", len(PROJECTIONS), found)
