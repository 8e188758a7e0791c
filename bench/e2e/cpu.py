"""CPU seconds each process spent during the send window, from the kernel's accounting.

A process's user+system time only grows, so the difference between two readings is what it
spent in between. PostgreSQL forks a backend per connection, and backends come and go: the
reading of a process tree therefore adds the live descendants' times to the root's own and
to `children_user`/`children_system`, where the kernel accumulates the times of children that
exited and were reaped. A backend that lived across the start and ended before the end is then
counted once, in full, minus what it had used before the start.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

import psutil

# Linux counts guest time inside user time already, so those fields are left out of the sum.
SELF = "load generator (this process)"
MACHINE_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True)
class Reading:
    pid: int
    cpu_s: float


def tree_cpu(pid: int) -> float:
    """User+system seconds of a process, its live descendants and its reaped children."""
    root = psutil.Process(pid)
    times = root.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in root.children(recursive=True):
        try:
            total += own_cpu(child)
        except psutil.NoSuchProcess:
            continue  # exited between listing and reading: its time moves to its parent's
    return float(total)


def own_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def read(pids: dict[str, int]) -> dict[str, Reading]:
    """A reading of every named process tree that is still there, and of this process alone
    (the load generator: its tree holds the supervised processes, read on their own)."""
    readings = {SELF: Reading(os.getpid(), own_cpu(psutil.Process()))}
    for name, pid in pids.items():
        try:
            readings[name] = Reading(pid, tree_cpu(pid))
        except psutil.NoSuchProcess:
            continue
    return readings


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, summed over its cores."""
    times = psutil.cpu_times()
    total = sum(getattr(times, name, 0.0) for name in MACHINE_FIELDS)
    return total - times.idle - getattr(times, "iowait", 0.0), total


@dataclass
class CpuWindow:
    """Readings at the start and end of the window; `spent` is the difference per process.
    `pids` is asked at each reading, since a supervised process may have been restarted."""

    pids: Callable[[], dict[str, int]]
    start: dict[str, Reading] | None = None
    end: dict[str, Reading] | None = None
    machine_start: tuple[float, float] = (0.0, 0.0)
    machine_end: tuple[float, float] = (0.0, 0.0)

    def open(self) -> None:
        self.start, self.machine_start = read(self.pids()), machine_busy()

    def close(self) -> None:
        self.end, self.machine_end = read(self.pids()), machine_busy()

    def spent(self) -> dict[str, dict[str, float | bool | None]]:
        """CPU seconds per process; `restarted` when its pid changed (then only the new
        process's time is known, a lower bound)."""
        start, end = self.start or {}, self.end or {}
        result: dict[str, dict[str, float | bool | None]] = {}
        for name in dict.fromkeys([*start, *end]):
            before, after = start.get(name), end.get(name)
            if after is None:
                result[name] = {"cpu_s": None, "restarted": True}
            elif before is None or before.pid != after.pid:
                result[name] = {"cpu_s": after.cpu_s, "restarted": True}
            else:
                result[name] = {"cpu_s": after.cpu_s - before.cpu_s, "restarted": False}
        return result

    def machine_busy_s(self) -> float:
        return self.machine_end[0] - self.machine_start[0]

    def machine_busy_percent(self) -> float | None:
        busy = self.machine_end[0] - self.machine_start[0]
        total = self.machine_end[1] - self.machine_start[1]
        return 100.0 * busy / total if total > 0 else None
