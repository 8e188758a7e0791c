"""Part of `orders run` (services/cli/run.py) under its supervisor, in the test's process,
with crash points armed (infrastructure/faults/crash_points.py).

A child that reaches an armed point exits with CRASH_EXIT_CODE and the supervisor starts it
again, as it would in production; a point armed `NAME@once` leaves its marker in the crash
directory, so the restarted child goes on past it. A test then has two pieces of evidence
that the crash happened where it meant: the marker, and the supervisor's own line
"<child> exited with 86". Only the children a scenario needs are started, which keeps it quick.
"""

import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infrastructure.faults.crash_points import CRASH_EXIT_CODE
from infrastructure.settings import Settings
from infrastructure.supervisor import Supervisor
from services.cli import run
from support.isolation import environment


@dataclass(frozen=True)
class Supervised:
    crash_dir: Path
    said: list[str]  # what the supervisor said, line by line

    def fired(self, point: str) -> bool:
        """Whether a child reached `point`, armed once, and exited there."""
        return (self.crash_dir / point).exists()

    def crashes(self, child: str) -> int:
        """How often `child` exited with the crash points' exit code."""
        return sum(line.startswith(f"{child} exited with {CRASH_EXIT_CODE};") for line in self.said)


@contextmanager
def supervised(
    settings: Settings, children: Collection[str], crash_points: str = "", **env: str
) -> Iterator[Supervised]:
    """Run `children` (names as in `run.children()`) on the test's schema, topics and ports,
    with `crash_points` armed and `env` added, until the `with` ends; then show every log."""
    crash_dir = settings.devstack_dir / "crash-points"
    crash_dir.mkdir(parents=True, exist_ok=True)
    chosen = [(name, argv) for name, argv in run.children() if name in children]
    assert {name for name, _ in chosen} == set(children), f"not children of `orders run`: {children}"
    environ = {
        **os.environ,
        **environment(settings),
        **run.addresses(settings),
        "PYTHONUNBUFFERED": "1",
        "ORDERS_CRASH_POINTS": crash_points,
        "ORDERS_CRASH_DIR": str(crash_dir),
        **env,
    }
    said: list[str] = []
    log_dir = settings.devstack_dir / "logs"
    try:
        with Supervisor(chosen, environ, log_dir, said.append).running():
            yield Supervised(crash_dir, said)
    finally:
        print("--- supervisor", *said, sep="\n")
        for log in sorted(log_dir.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")
