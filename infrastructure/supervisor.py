"""Runs the system's processes as children, restarts a crashed one with backoff, and stops
them all cleanly.

Every process is stateless (all state is in PostgreSQL and Kafka), so a restart is always
safe: that is what makes "kill -9 anything, anytime" a fair test. A child that keeps
crashing soon after it starts is restarted less and less often (exponential backoff,
capped). One that ran for a while before it died was not crash-looping: it is restarted at
once, however often that happened before. (Counting such deaths too, a chaos run that kills
a child every ten seconds kept it down for 30 s at a time, and its orders missed their
deadlines waiting for it.)
"""

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STABLE_AFTER_S = 5.0  # a child that lived this long was not crash-looping
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 10.0


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)  # its own, over the one all children get
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float = 0.0
    log_file: Path = field(default_factory=Path)


class Supervisor:
    def __init__(
        self,
        children: Sequence[tuple[str, Sequence[str]]],
        env: Mapping[str, str],
        log_dir: Path,
        say: Callable[[str], None] = print,
        own_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """`env` is every child's environment; `own_env` adds a child's own variables, by name."""
        log_dir.mkdir(parents=True, exist_ok=True)
        own = own_env or {}
        self.children = [
            Child(name, argv, own.get(name, {}), log_file=log_dir / f"{name}.log") for name, argv in children
        ]
        self.env = dict(env)
        self.say = say

    def run(self, stop: threading.Event) -> None:
        """Keep every child running until `stop` is set, then stop them all."""
        try:
            while not stop.is_set():
                for child in self.children:
                    self._tend(child)
                stop.wait(0.2)
        finally:
            self.stop_all()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Keep the children running in a background thread for the duration of a `with`."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="supervisor")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def pids(self) -> dict[str, int]:
        return {c.name: c.process.pid for c in self.children if c.process and c.process.poll() is None}

    @contextlib.contextmanager
    def paused(self, name: str) -> Iterator[None]:
        """Freeze the child `name` (SIGSTOP) for the duration of a `with`, as a hung host would
        be: its connections stay open and it answers nothing. KeyError if it is not running."""
        pid = self.pids()[name]
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):  # killed meanwhile: it is started again
                os.kill(pid, signal.SIGCONT)

    def stop_all(self) -> None:
        running = [c for c in self.children if c.process and c.process.poll() is None]
        for child in running:
            child.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + STOP_GRACE_S
        for child in running:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                child.process.kill()  # type: ignore[union-attr]
                child.process.wait()  # type: ignore[union-attr]
        self.say(f"stopped {len(running)} processes")

    def _tend(self, child: Child) -> None:
        now = time.monotonic()
        if child.process is not None:
            code = child.process.poll()
            if code is None:
                return
            delay, child.restarts = restart_delay(child.restarts, lived_s=now - child.started_at)
            child.next_start = now + delay
            child.process = None
            self.say(f"{child.name} exited with {code}; restarting in {delay:.1f}s (see {child.log_file})")
        if now >= child.next_start:
            self._start(child)

    def _start(self, child: Child) -> None:
        with child.log_file.open("ab") as log:
            child.process = subprocess.Popen(
                list(child.argv),
                env={**self.env, **child.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=os.getcwd(),
            )
        child.started_at = time.monotonic()
        self.say(f"started {child.name} (pid {child.process.pid})")


def restart_delay(restarts: int, lived_s: float) -> tuple[float, int]:
    """The pause before restarting a child that died after `lived_s` seconds, having been
    restarted `restarts` times in a row after dying early; and that count, updated."""
    if lived_s >= STABLE_AFTER_S:
        restarts = 0
    return min(MAX_BACKOFF_S, 0.5 * 2**restarts), restarts + 1
