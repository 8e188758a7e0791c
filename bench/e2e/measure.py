"""The figures of one run, from the stored events, the client's record of its sends, the CPU
readings and the logs. Plain dicts of numbers, so the JSON holds exactly what is printed."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from bench.e2e.cpu import CpuWindow
from bench.e2e.events import Fate, Stored, fates, hops
from bench.e2e.load import LATE_AFTER_S, Load
from bench.e2e.stats import summary

FIRST_S = 60.0  # "the first minute after start", reported on its own
BUCKET_S = 10.0  # the timeline's resolution


def orders(events: list[Stored], started_at: float, load: Load) -> dict[str, Any]:
    """Completion latency, endings and throughput, overall and for the orders placed in the
    first minute after the processes were started (`started_at`, epoch seconds)."""
    every = list(fates(events).values())
    completed = [f for f in every if f.ending == "completed" and f.ended_at is not None]
    window = load.window_end - load.window_start
    placed_in = sum(load.window_start <= f.placed_at <= load.window_end for f in every)
    completed_in = sum(load.window_start <= (f.ended_at or 0) <= load.window_end for f in completed)
    return {
        "all": _endings(every),
        "first_minute": _endings(f for f in every if f.placed_at < started_at + FIRST_S),
        "timeline": timeline(every, started_at),
        "throughput": {
            "window_s": window,
            "offered_per_s": load.started / window,
            "placed_in_window": placed_in,
            "completed_in_window": completed_in,
            "completed_in_window_per_s": completed_in / window,
            "completed_overall_per_s": _overall([f.ended_at or 0 for f in completed], every),
            "ended_overall_per_s": _overall([f.ended_at for f in every if f.ended_at is not None], every),
        },
    }


def _overall(ends: list[float], every: list[Fate]) -> float | None:
    """Orders per second from the first placement to the last of `ends`, the drain included.
    Of every ending (completed, failed, cancelled): how fast the saga got through them."""
    span = max(ends) - min(f.placed_at for f in every) if ends else 0
    return len(ends) / span if span else None


def timeline(every: list[Fate], started_at: float) -> list[dict[str, Any]]:
    """Per 10 s after start: orders placed, orders completed, and the median latency of those
    completed then. A stall shows as a bucket with few completions and a jump in latency."""
    buckets: dict[int, dict[str, Any]] = defaultdict(lambda: {"placed": 0, "latencies": []})
    for fate in every:
        buckets[int((fate.placed_at - started_at) // BUCKET_S)]["placed"] += 1
        if fate.ending == "completed" and fate.ended_at is not None:
            buckets[int((fate.ended_at - started_at) // BUCKET_S)]["latencies"].append(fate.latency_s)
    return [
        {
            "from_s": index * BUCKET_S,
            "placed": buckets[index]["placed"],
            "completed": len(buckets[index]["latencies"]),
            "p50_s": summary(buckets[index]["latencies"])["p50"],
        }
        for index in range(min(buckets, default=0), max(buckets, default=-1) + 1)
    ]


def _endings(group: Iterable[Fate]) -> dict[str, Any]:
    fated = list(group)
    endings = Counter(f.ending or "in flight" for f in fated)
    latencies = [f.latency_s for f in fated if f.ending == "completed" and f.latency_s is not None]
    return {"placed": len(fated), "endings": dict(endings), "completion_latency_s": summary(latencies)}


def hop_figures(events: list[Stored]) -> dict[str, Any]:
    """Per kind of hop (cause -> effect), how long it took, in the order the hops come in a
    flow (by how soon into a flow their cause was first seen: the fastest flows set the order,
    so the survivors of a saturated run do not reorder it); and the median over all hops."""
    took: dict[str, list[float]] = defaultdict(list)
    into: dict[str, list[float]] = defaultdict(list)
    for hop in hops(events):
        took[hop.kind].append(hop.seconds)
        into[hop.kind].append(hop.into_flow_s)
    in_flow_order = sorted(took, key=lambda kind: (min(into[kind]), kind))
    return {
        "overall": summary(s for seconds in took.values() for s in seconds),
        "by_kind": {kind: summary(took[kind]) for kind in in_flow_order},
    }


def api_figures(load: Load) -> dict[str, Any]:
    """How the API answered, as the client saw it, and whether the generator kept its schedule."""
    statuses = Counter("no answer" if s.status is None else str(s.status) for s in load.sent)
    late = [s.lateness_s for s in load.sent if s.lateness_s > LATE_AFTER_S]
    return {
        "sent": load.started,
        "statuses": dict(statuses),
        "latency_s": summary(s.latency_s for s in load.sent if s.status is not None),
        "late_sends": len(late),
        "late_after_s": LATE_AFTER_S,
        "max_lateness_s": max((s.lateness_s for s in load.sent), default=0.0),
    }


def cpu_figures(window: CpuWindow, completed: int, placed: int) -> dict[str, Any]:
    """CPU seconds per process over the window, and per order completed or placed in it."""
    processes = {}
    for name, spent in window.spent().items():
        cpu_s = spent["cpu_s"]
        processes[name] = {
            **spent,
            "ms_per_completed": 1000 * cpu_s / completed if completed and cpu_s is not None else None,
            "ms_per_placed": 1000 * cpu_s / placed if placed and cpu_s is not None else None,
        }
    measured = sum(p["cpu_s"] or 0.0 for p in processes.values())
    return {
        "completed_in_window": completed,
        "placed_in_window": placed,
        "processes": processes,
        "machine_busy_percent": window.machine_busy_percent(),
        "machine_busy_s": window.machine_busy_s(),
        "other_processes_s": window.machine_busy_s() - measured,  # whatever else ran on the machine
    }
