"""The result of `orders check`: one finding per invariant, as a table or as JSON."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SHOWN_PER_INVARIANT = 20


@dataclass(frozen=True)
class Finding:
    invariant: str  # "I1"
    name: str  # "no double charge"
    checked: str  # what was looked at: "200 orders, 512 provider operations"
    violations: list[str] = field(default_factory=list)  # each names the ids involved

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class Report:
    findings: Sequence[Finding]
    quiescent: bool
    progress: str  # the last quiescence reading, e.g. "relay lag 0, saga lag 0, ..."
    waited_s: float
    events_stored: int = 0
    records_published: int = 0  # more than events_stored when a relay published again

    @property
    def ok(self) -> bool:
        return all(finding.ok for finding in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "quiescent": self.quiescent,
            "progress": self.progress,
            "waited_s": round(self.waited_s, 1),
            "events_stored": self.events_stored,
            "records_published": self.records_published,
            "invariants": [
                {
                    "id": f.invariant,
                    "name": f.name,
                    "ok": f.ok,
                    "checked": f.checked,
                    "violations": f.violations,
                }
                for f in self.findings
            ],
        }

    def table(self) -> str:
        state = "quiescent" if self.quiescent else "NOT quiescent"
        lines = [f"{state} after {self.waited_s:.1f}s: {self.progress}", ""]
        row = "{:<4} {:<32} {:<6} {}"
        lines.append(row.format("", "INVARIANT", "RESULT", "CHECKED"))
        for f in self.findings:
            lines.append(row.format(f.invariant, f.name, "ok" if f.ok else "FAIL", f.checked))
            lines += [f"       {violation}" for violation in f.violations[:SHOWN_PER_INVARIANT]]
            if len(f.violations) > SHOWN_PER_INVARIANT:
                lines.append(f"       ... and {len(f.violations) - SHOWN_PER_INVARIANT} more (see --json)")
        failed = [f.invariant for f in self.findings if not f.ok]
        lines += ["", f"violated: {', '.join(failed)}" if failed else "all invariants hold"]
        return "\n".join(lines)
