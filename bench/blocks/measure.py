"""What every building block shares: the run's servers and sizes, and how one measurement is
timed, shown while it runs, and summed up.

A measurement is a fixed amount of work (operations, events, requests) timed on the wall
clock. The setup (connections, a few warm-up operations, the records to send) is done
before the clock starts; each block says where its clock starts and stops. Beside its rate
a measurement keeps each operation's latency where there is one, and the CPU that this
process (the client; for P6 the API's server too), PostgreSQL and the broker spent
meanwhile, each as a share of one core: where a ratio falls short, that says which side
was busy.
"""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.blocks.waits import Waits
from bench.e2e.cpu import machine_busy, own_cpu, tree_cpu
from bench.e2e.stats import percentile
from infrastructure.settings import Settings
from services.bootstrap import System
from services.cli.terminal import Advance, track

WARM_UP = 10  # untimed operations per worker before the clock starts: connections, caches, plans
POLL_S = 0.1  # how often progress is shown while workers run


@dataclass(frozen=True)
class Sizes:
    ops: int  # operations per database measurement, shared by its threads
    orders: int  # orders in the backlog the relay and the projection work through
    requests: int  # HTTP requests per variant
    concurrency: int  # HTTP requests in flight at once
    threads: tuple[int, ...] = (1, 4)  # 1 among them: P2 replays what one thread executed


FULL = Sizes(ops=3_000, orders=4_000, requests=2_000, concurrency=8)
TINY = Sizes(ops=100, orders=100, requests=60, concurrency=4)


@dataclass
class Run:
    """One run: the servers, in a schema and a topic prefix of its own, and the contexts."""

    settings: Settings
    system: System
    sizes: Sizes
    pids: dict[str, int]  # the servers' processes, when they run on this machine
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url


class Cpu:
    """CPU seconds of this process and of each server's process tree since it was made, and
    the machine's busy and total seconds (summed over its cores)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.started = time.perf_counter()
        self._start = self._read()

    def spent(self) -> dict[str, float]:
        end = self._read()
        return {name: end[name] - self._start[name] for name in self._start if name in end}

    def _read(self) -> dict[str, float]:
        readings = {"bench": own_cpu(psutil.Process())}
        readings |= {name: tree_cpu(pid) for name, pid in self.pids.items() if psutil.pid_exists(pid)}
        busy, total = machine_busy()
        return readings | {"machine busy": busy, "machine total": total}


def shares(spent: dict[str, float], seconds: float) -> dict[str, float]:
    """CPU seconds as percentages: of one core per process, of all cores for the machine."""
    each = dict(spent)
    busy, total = each.pop("machine busy"), each.pop("machine total")
    percent = {name: round(100 * cpu_s / seconds, 1) for name, cpu_s in each.items()}
    return percent | {"machine busy": round(100 * busy / total, 1) if total > 0 else 0.0}


def figures(
    label: str,
    count: int,
    seconds: float,
    cpu: dict[str, float],
    latencies: list[float] | None = None,
    waits: dict[str, float] | None = None,
) -> dict[str, Any]:
    """One measurement as the results keep it."""
    result: dict[str, Any] = {"label": label, "count": count, "seconds": round(seconds, 4)}
    result["per_s"] = round(count / seconds, 1)
    if latencies:
        ordered = sorted(latencies)
        result["latency_ms"] = {
            q: round(1000 * percentile(ordered, p), 3) for q, p in (("p50", 0.5), ("p99", 0.99))
        }
    result["cpu_percent"] = cpu
    if waits is not None:
        result["server_waits_percent"] = waits
    return result


def said(result: dict[str, Any]) -> str:
    """The line a log shows when a measurement is done."""
    latency = result.get("latency_ms")
    tail = f", p50 {latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms" if latency else ""
    cpu = ", ".join(f"{name} {share:.0f}%" for name, share in result["cpu_percent"].items())
    rate = f"{result['count']} in {result['seconds']:.2f}s, {result['per_s']:.0f}/s"
    waits = ", ".join(
        f"{kind} {share:.0f}%" for kind, share in result.get("server_waits_percent", {}).items()
    )
    return f"  {result['label']}: {rate}{tail}\n    CPU {cpu}" + (f"\n    server {waits}" if waits else "")


class Watch:
    """One measurement under way: its progress shown, its clock, CPU readings and samples of
    the server's waits (`waits.py`) all started by `start`, when the work is ready to go,
    and read by `result`."""

    def __init__(self, run: Run, label: str, advance: Advance, stack: ExitStack) -> None:
        self.label = label
        self._run = run
        self._advance = advance
        self._stack = stack
        self._cpu: Cpu | None = None
        self._waits: Waits | None = None

    @property
    def started(self) -> float:
        assert self._cpu is not None, "the measurement was never started"
        return self._cpu.started

    def start(self) -> None:
        self._waits = self._stack.enter_context(Waits(self._run.database_url))
        self._cpu = Cpu(self._run.pids)

    def progress(self, done: int) -> None:
        self._advance(done, None)

    def result(
        self,
        count: int,
        seconds: float | None = None,
        latencies: list[float] | None = None,
        cpu: Cpu | None = None,
    ) -> dict[str, Any]:
        """The figures of `count` units of work done in `seconds` (by default, since `start`),
        with the CPU spent since `cpu` was made (by default, by `start`); shown, then returned."""
        cpu = cpu or self._cpu
        assert cpu is not None, "the measurement was never started"
        window = time.perf_counter() - cpu.started
        spent = shares(cpu.spent(), window)
        self._stack.close()  # the sampling stops
        waits = self._waits.shares() if self._waits else None
        result = figures(self.label, count, window if seconds is None else seconds, spent, latencies, waits)
        self._advance(count, said(result))
        return result


@contextmanager
def watch(run: Run, label: str, total: int, unit: str) -> Iterator[Watch]:
    with track(label, total, unit) as advance, ExitStack() as stack:
        yield Watch(run, label, advance, stack)


Operation = Callable[[int], object]
Prepare = Callable[[int, ExitStack], Operation]


def in_threads(
    run: Run, label: str, threads: int, prepare: Prepare, ops: int | None = None
) -> dict[str, Any]:
    """`ops` operations (the run's size by default) shared by `threads` threads. Thread t's
    operation is `prepare(t, stack)`, called with the operation's number (negative while
    warming up); whatever it opens on `stack` is closed after the measurement. The clock
    starts once every thread has warmed up. Returns its figures, latencies included."""
    each = (ops or run.sizes.ops) // threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    ready = threading.Barrier(threads + 1)

    def work(thread: int, operation: Operation) -> None:
        try:
            for i in range(WARM_UP):
                operation(-1 - i)
        except BaseException:
            ready.abort()  # the others, and the clock, stop waiting for this thread
            raise
        ready.wait()
        own = latencies[thread]
        for i in range(each):
            began = time.perf_counter()
            operation(i)
            own.append(time.perf_counter() - began)

    with ExitStack() as stack, ThreadPoolExecutor(threads) as pool:
        operations = [prepare(t, stack) for t in range(threads)]
        with watch(run, label, threads * each, "ops") as progress:
            futures = [pool.submit(work, t, operations[t]) for t in range(threads)]
            _wait_for(ready, futures)
            progress.start()
            while wait(futures, timeout=POLL_S, return_when=FIRST_EXCEPTION).not_done:
                progress.progress(sum(map(len, latencies)))
            for future in futures:
                future.result()  # a worker's error, raised here
            return progress.result(threads * each, latencies=[x for own in latencies for x in own])


def _wait_for(ready: threading.Barrier, futures: list[Future[None]]) -> None:
    """Pass the barrier with the workers, or raise the error of a worker that failed before it."""
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        for future in wait(futures, return_when=FIRST_EXCEPTION).done:
            future.result()
        raise
