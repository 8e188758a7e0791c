"""The nemesis: a seeded sequence of faults against processes the run itself started.

Only processes this run owns are touched, by pid: the supervisor's children, and the dev
stack's PostgreSQL server and broker when the run started or reused that stack. A paused
process is always resumed, by the fault itself or by `heal`.
"""

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from infrastructure.devstack import EmbeddedPostgres, LocalBroker


@dataclass
class Targets:
    """What the nemesis may hit."""

    children: Callable[[], Mapping[str, int]]  # name -> pid of each running child, now
    postgres: EmbeddedPostgres | None = None  # owned by this run's dev stack, or None
    broker: LocalBroker | None = None


@dataclass
class Nemesis:
    targets: Targets
    rng: random.Random
    say: Callable[[str], None]
    interval_s: tuple[float, float] = (0.2, 1.4)  # with the faults that last, about 1.2 s apart
    injected: Counter[str] = field(default_factory=Counter)
    _paused: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _started: float = field(default_factory=time.monotonic)

    def run(self, stop: threading.Event) -> None:
        """Inject faults until `stop` is set; then heal."""
        faults = self._faults()
        names, weights = list(faults), [weight for _, weight in faults.values()]
        try:
            while not stop.wait(self.rng.uniform(*self.interval_s)):
                name = self.rng.choices(names, weights)[0]
                faults[name][0]()
        finally:
            self.heal()

    def heal(self) -> None:
        with self._lock:
            paused, self._paused = set(self._paused), set()
        for pid in paused:
            _signal(pid, signal.SIGCONT)
        if self.targets.broker is not None and self.targets.broker.is_running():
            self.targets.broker.resume()

    def _faults(self) -> dict[str, tuple[Callable[[], None], int]]:
        faults: dict[str, tuple[Callable[[], None], int]] = {
            "kill -9": (self._kill, 4),
            "pause": (self._pause, 4),
        }
        if self.targets.broker is not None:
            faults["broker pause"] = (self._pause_broker, 1)
        if self.targets.postgres is not None:
            faults["postgres crash"] = (self._crash_postgres, 1)
        return faults

    def _kill(self) -> None:
        if chosen := self._child():
            name, pid = chosen
            _signal(pid, signal.SIGKILL)
            self._note("kill -9", f"{name} (pid {pid})")

    def _pause(self) -> None:
        if chosen := self._child():
            name, pid = chosen
            seconds = self.rng.uniform(0.5, 4.0)
            with self._lock:
                self._paused.add(pid)
            _signal(pid, signal.SIGSTOP)
            threading.Timer(seconds, self._resume, args=(pid,)).start()
            self._note("pause", f"{name} (pid {pid}) for {seconds:.1f}s")

    def _resume(self, pid: int) -> None:
        with self._lock:
            if pid not in self._paused:
                return
            self._paused.discard(pid)
        _signal(pid, signal.SIGCONT)

    def _pause_broker(self) -> None:
        broker, seconds = self.targets.broker, self.rng.uniform(1.0, 5.0)
        assert broker is not None
        self._note("broker pause", f"for {seconds:.1f}s")
        broker.pause()
        try:
            time.sleep(seconds)
        finally:
            broker.resume()

    def _crash_postgres(self) -> None:
        postgres = self.targets.postgres
        assert postgres is not None
        self._note("postgres crash", "pg_ctl -m immediate, then start")
        postgres.restart("immediate")

    def _child(self) -> tuple[str, int] | None:
        running = sorted(self.targets.children().items())
        return self.rng.choice(running) if running else None

    def _note(self, fault: str, detail: str) -> None:
        self.injected[fault] += 1
        self.say(f"  [{time.monotonic() - self._started:6.1f}s] {fault}: {detail}")


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile; it is started again
        os.kill(pid, signum)
