"""What happens at the send window's edges and during it: CPU readings at the start and the
end, py-spy on the saga for exactly the window, and a progress line every few seconds."""

import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen
from typing import Any

from bench.e2e import profile
from bench.e2e.cpu import CpuWindow
from bench.e2e.load import Load
from bench.e2e.system import tally
from infrastructure.settings import Settings
from infrastructure.supervisor import Supervisor

PROFILED = "saga"


class Window:
    """The load generator's observer (see `load.Observer`)."""

    def __init__(
        self,
        settings: Settings,
        events_table: str,
        supervised: Supervisor,
        servers: dict[str, int],
        profile: tuple[Path, float] | None,
        say: Callable[[str], None],
    ) -> None:
        """`servers`: the pids of PostgreSQL and the broker, where known; `profile`: where to
        put py-spy's samples of the saga, and for how many seconds (None: no profile)."""
        self.settings, self.events_table, self.say = settings, events_table, say
        self.cpu = CpuWindow(lambda: {**supervised.pids(), **servers})
        self.supervised = supervised
        self.profile = profile
        self.recording: Popen[bytes] | str | None = None
        self.opened_at = time.monotonic()

    def opened(self, load: Load) -> None:
        self.cpu.open()
        self.opened_at = time.monotonic()
        if self.profile is not None:
            out, seconds = self.profile
            pid = self.supervised.pids().get(PROFILED)
            self.recording = (
                profile.start(pid, max(1, round(seconds)), out) if pid else f"no {PROFILED} process"
            )
        self.say("send window open")

    def tick(self, load: Load) -> None:
        stored = tally(self.settings, self.events_table)
        self.say(
            f"  {time.monotonic() - self.opened_at:4.0f}s  sent {load.started}, answered {len(load.sent)},"
            f" placed {stored.placed}, completed {stored.completed}, in flight {stored.in_flight}"
        )

    def closed(self, load: Load) -> None:
        self.cpu.close()
        self.say(f"send window closed after {load.window_end - load.window_start:.1f}s; waiting for answers")

    def profile_summary(self) -> dict[str, Any] | None:
        """The saga's profile, once py-spy has finished (it stops by itself at the window's end)."""
        if self.recording is None or self.profile is None:
            return None
        return profile.finish(self.recording, self.profile[0], timeout_s=30.0)
