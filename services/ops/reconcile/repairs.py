"""`--repair`: apply each difference's fix, and say what became of it.

Both fixes are safe to repeat and to race with the running system. A rebuild takes the
projection's lock, so its projectors pause and then skip what it applied
(`projections/rebuild.py`); a recorded answer is a command under an id derived from the
webhook, which the payments context applies once, and the payment itself takes only the first
answer to a call. A fix that fails is reported with its reason, and the others still run.
"""

from collections.abc import Mapping, Sequence

from domain.errors import DomainError
from domain.payments import RecordProviderAnswer
from infrastructure.settings import Settings
from projections.catalog import projection_named
from projections.errors import ProjectionError
from projections.rebuild import rebuild_from_events
from projections.sources import NotificationLog
from services.application import ConcurrencyError
from services.contexts.payments.service import PaymentsService
from services.ops.reconcile.differences import Difference, Outcome, Rebuild


def repair_all(
    differences: Sequence[Difference],
    settings: Settings,
    logs: Mapping[str, NotificationLog],
    payments: PaymentsService,
) -> list[Outcome]:
    """Answers first, then rebuilds: a rebuild then holds the events the answers appended."""
    ordered = sorted(differences, key=lambda d: isinstance(d.fix, Rebuild))
    return [_repaired(d, settings, logs, payments) if d.fix else Outcome(d) for d in ordered]


def _repaired(
    difference: Difference, settings: Settings, logs: Mapping[str, NotificationLog], payments: PaymentsService
) -> Outcome:
    fix = difference.fix
    try:
        if isinstance(fix, Rebuild):
            rebuild_from_events(settings, projection_named(fix.projection), logs)
        elif isinstance(fix, RecordProviderAnswer):
            payments.execute(fix)
    except (DomainError, ConcurrencyError, ProjectionError) as error:
        return Outcome(difference, failure=str(error))
    return Outcome(difference, repaired=True)
