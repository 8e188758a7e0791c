"""The results as a person reads them: a block per rate, then one line per rate side by side."""

import re
from collections import Counter
from typing import Any


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def per_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}/s"


def latencies(figures: dict[str, Any]) -> str:
    return "  ".join(f"{k} {seconds(figures[k])}" for k in ("p50", "p90", "p99", "max"))


def endings(group: dict[str, Any]) -> str:
    shown = ", ".join(f"{n} {ending}" for ending, n in sorted(group["endings"].items()))
    return f"placed {group['placed']}: {shown or 'none'}"


def block(run: dict[str, Any]) -> str:
    """Everything measured at one rate."""
    t, api, cpu, hops = run["throughput"], run["api"], run["cpu"], run["hops"]["overall"]
    start, end = run["window_after_start_s"]
    lines = [
        f"\n=== offered {run['rate']:g} orders/s  (schema {run['schema']}; ready {run['ready_after_s']:.1f}s"
        f" after start; send window {start:.1f}-{end:.1f}s)",
        f"orders          {endings(run['all'])}",
        f"completion      {latencies(run['all']['completion_latency_s'])}",
        f"first minute    {endings(run['first_minute'])}",
        f"                {latencies(run['first_minute']['completion_latency_s'])}",
        f"throughput      offered {per_s(t['offered_per_s'])}; completed: in the window"
        f" {per_s(t['completed_in_window_per_s'])}, overall {per_s(t['completed_overall_per_s'])};"
        f" ended in any way, overall {per_s(t['ended_overall_per_s'])}",
        f"API (client)    {api['statuses']}, latency {latencies(api['latency_s'])};"
        f" late sends {api['late_sends']} (max {seconds(api['max_lateness_s'])})",
        *timeline(run["timeline"]),
        f"drain           {run['drain']['in_flight_at_end']} in flight after {run['drain']['waited_s']:.1f}s",
        f"hops            median {seconds(hops['p50'])} over {hops['n']} hops, in flow order",
    ]
    for kind, hop in run["hops"]["by_kind"].items():
        lines.append(
            f"  {kind:<52} n={hop['n']:<5} p50 {seconds(hop['p50']):>7}  p99 {seconds(hop['p99']):>7}"
        )
    lines += cpu_lines(cpu)
    lines.append(f"log warnings    {run['log_warnings'] or 'none'}")
    if run["profile"] is not None:
        lines += profile_lines(run["profile"])
    return "\n".join(lines)


def timeline(buckets: list[dict[str, Any]], per_line: int = 5) -> list[str]:
    """Rows of "from: completed/placed p50 latency of the completed", five buckets a row."""
    cells = [
        f"{b['from_s']:>4.0f}s {b['completed']:>3}/{b['placed']:<3} {seconds(b['p50_s']):>6}" for b in buckets
    ]
    rows = [" | ".join(cells[i : i + per_line]) for i in range(0, len(cells), per_line)]
    return ["per 10s since start: completed/placed, and the median latency of those completed"] + [
        f"  {row}" for row in rows
    ]


def cpu_lines(cpu: dict[str, Any]) -> list[str]:
    lines = [
        f"CPU in window   machine busy {_num(cpu['machine_busy_percent'], 0)}%"
        f" ({cpu['machine_busy_s']:.1f} cpu-s, {cpu['other_processes_s']:.1f} of them by other processes)",
        f"  {'process':<32} {'cpu-s':>7}  {'ms per order completed':>22}  {'placed':>7}",
    ]
    for name, p in cpu["processes"].items():
        lines.append(
            f"  {name:<32} {_num(p['cpu_s'], 1):>7}  {_num(p['ms_per_completed'], 0):>22}"
            f"  {_num(p['ms_per_placed'], 0):>7}{' (restarted)' if p['restarted'] else ''}"
        )
    lines.append(
        f"  (orders in the window: {cpu['completed_in_window']} completed, {cpu['placed_in_window']} placed)"
    )
    return lines


def profile_lines(profile: dict[str, Any]) -> list[str]:
    if "error" in profile:
        return [f"saga profile    not taken: {profile['error']}"]
    lines = [
        f"saga profile    wall time by thread and category (py-spy, {profile['raw_file']};"
        f" at worst {profile['max_sampling_lag_s']:.1f}s behind its schedule)"
    ]
    for thread, shares in profile["threads"].items():
        top = ", ".join(f"{c} {share:.0%}" for c, share in shares["share"].items() if share >= 0.01)
        lines.append(f"  {thread}: {top}")
    lines.append(f"  library threads, never in project code: {_collapse(profile['library_threads'])}")
    lines.append("  top functions (innermost frame outside the standard library; plain waiting left out):")
    lines += [f"    {share:6.1%}  {f}" for f, share in profile["top_leaf_functions"]["share"].items()]
    lines.append("  top project frames (innermost frame of the project's own code; same samples):")
    lines += [f"    {share:6.1%}  {f}" for f, share in profile["top_project_frames"]["share"].items()]
    return lines


def _collapse(names: list[str]) -> str:
    """ "pool-N-worker-N x12, kafka-io-saga" from the threads' names."""
    kinds = Counter(re.sub(r"\d+", "N", name) for name in names)
    return ", ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in kinds.items()) or "none"


def summary(runs: list[dict[str, Any]]) -> str:
    """One line per rate. "ended otherwise": failed or cancelled; "left": still in flight."""
    lines = [
        "",
        f"{'':>5} {'orders':^34} {'completion latency':^31} {'first minute':^15} {'completed/s':^14}",
        f"{'rate':>5} {'placed':>7} {'completed':>9} {'otherwise':>9} {'left':>6}"
        f" {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'p50':>7} {'p99':>7} {'window':>6} {'overall':>7}"
        f" {'hop p50':>7} {'busy':>5}",
    ]
    for run in runs:
        a, first, t = run["all"], run["first_minute"]["completion_latency_s"], run["throughput"]
        lat, ends = a["completion_latency_s"], a["endings"]
        completed, left = ends.get("completed", 0), ends.get("in flight", 0)
        lines.append(
            f"{run['rate']:>5g} {a['placed']:>7} {completed:>9} {a['placed'] - completed - left:>9} {left:>6}"
            + "".join(f" {seconds(lat[q]):>7}" for q in ("p50", "p90", "p99", "max"))
            + f" {seconds(first['p50']):>7} {seconds(first['p99']):>7}"
            f" {_num(t['completed_in_window_per_s'], 2):>6} {_num(t['completed_overall_per_s'], 2):>7}"
            f" {seconds(run['hops']['overall']['p50']):>7} {_num(run['cpu']['machine_busy_percent'], 0):>4}%"
        )
    return "\n".join(lines)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
