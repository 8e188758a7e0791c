"""What a reconciliation finds and does: each difference with its kind, the ids involved and
the fix that `--repair` applies (none when it needs a person); a run's result, as lines or JSON.

A fix is data, not a callable, so that a run can say what it would do before doing it, and a
test can compare it: a read model to build again from the event store (`Rebuild`), or the
command that records an answer the provider announced and the payments store missed.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.payments import RecordProviderAnswer
from infrastructure.metrics import RECONCILIATION_KINDS

KINDS = RECONCILIATION_KINDS  # read_model, payment, shipment: the gauge's labels and `by_kind`'s keys


@dataclass(frozen=True)
class Rebuild:
    projection: str

    def __str__(self) -> str:
        return f"rebuild {self.projection} from the event store"


Fix = Rebuild | RecordProviderAnswer


@dataclass(frozen=True)
class Difference:
    kind: str  # one of KINDS
    ids: Mapping[str, str]  # what to look up: {"order_id": ..., "payment_id": ...}, in that order
    what: str  # what differs, in a phrase
    fix: Fix | None = None  # what --repair does; None: a person must look

    def __post_init__(self) -> None:
        assert self.kind in KINDS, f"unknown kind {self.kind!r}"

    @property
    def repairable(self) -> bool:
        return self.fix is not None

    def fix_text(self) -> str:
        if isinstance(self.fix, RecordProviderAnswer):
            answer = self.fix
            return f"record the provider's {answer.operation} answer (command {answer.command_id})"
        return str(self.fix) if self.fix else ""


@dataclass(frozen=True)
class Compared:
    """One comparison's result: how many of what it looked at, what differed, and what it could
    not look at (say, no carrier ledger to read)."""

    what: str  # "read models", "payments", "shipments"
    count: int
    differences: Sequence[Difference]
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    """What became of one difference: repaired, a repair that failed, or left as found."""

    difference: Difference
    repaired: bool = False
    failure: str = ""  # why the repair failed

    @property
    def remains(self) -> bool:
        return not self.repaired

    def line(self) -> str:
        d = self.difference
        ids = " ".join(f"{name}={value}" for name, value in d.ids.items())
        if self.repaired:
            done = f"repaired: {d.fix_text()}"
        elif self.failure:
            done = f"repair failed: {self.failure}"
        elif d.repairable:
            done = f"repairable with --repair: {d.fix_text()}"
        else:
            done = "needs a person"
        return f"{d.kind:<10} {ids}: {d.what} [{done}]"


@dataclass(frozen=True)
class Run:
    run_id: UUID
    started_at: datetime
    finished_at: datetime
    outcomes: Sequence[Outcome]
    compared: Mapping[str, int]  # what was looked at: {"read models": 3, "payments": 12, ...}
    notes: Sequence[str] = field(default_factory=tuple)  # what could not be compared, and why

    @property
    def found(self) -> int:
        return len(self.outcomes)

    @property
    def repaired(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.repaired)

    @property
    def remaining(self) -> int:
        return self.found - self.repaired

    def by_kind(self, remaining_only: bool = False) -> dict[str, int]:
        """Differences per kind, every kind named (0 where none)."""
        counted = Counter(o.difference.kind for o in self.outcomes if o.remains or not remaining_only)
        return {kind: counted[kind] for kind in KINDS}

    def lines(self) -> list[str]:
        return [*(outcome.line() for outcome in self.outcomes), *self.notes, self.summary()]

    def summary(self) -> str:
        looked = ", ".join(f"{count} {what}" for what, count in self.compared.items())
        took = (self.finished_at - self.started_at).total_seconds()
        done = f"compared {looked} in {took:.1f}s; run {self.run_id}"
        if not self.found:
            return f"no differences; {done}"
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.by_kind().items() if n)
        return (
            f"{self.found} difference{'s' if self.found > 1 else ''} ({kinds}): {self.repaired} repaired,"
            f" {self.remaining} remain{'s' if self.remaining == 1 else ''}; {done}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": str(self.run_id),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "ok": not self.remaining,
            "found": self.found,
            "repaired": self.repaired,
            "remaining": self.remaining,
            "by_kind": self.by_kind(),
            "compared": dict(self.compared),
            "notes": list(self.notes),
            "differences": [
                {
                    "kind": o.difference.kind,
                    "ids": dict(o.difference.ids),
                    "what": o.difference.what,
                    "repairable": o.difference.repairable,
                    "fix": o.difference.fix_text(),
                    "repaired": o.repaired,
                    "failure": o.failure,
                }
                for o in self.outcomes
            ],
        }
