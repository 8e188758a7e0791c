"""The ratios each pair gives, held against the targets set for them (shown, never asserted),
the markdown tables a person reads, and the files: `latest.json`, `latest.md`, and one line
per run appended to `history.jsonl`.

Every ratio is the project's figure over its limit's, so that higher is better everywhere:
a rate over a rate, or, for latencies, the slower path's over the faster one's (a first
execution over its replay: how much cheaper the replay is).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LATEST_JSON, LATEST_MD, HISTORY = "latest.json", "latest.md", "history.jsonl"


@dataclass(frozen=True)
class Ratio:
    key: str  # in the results; always contains "ratio"
    shown: str  # its name in the table
    over: tuple[str, str]  # (measurement, figure): "per_s", "p50" or "p99"
    under: tuple[str, str]
    target: float | None = None  # at least this, where one is set


def ratios_for(threads: Sequence[int]) -> list[Ratio]:
    """The ratios of a run at these thread counts; the command path's targets are at 4 threads."""
    pairs = []
    for count in threads:
        n, said = ("1_thread", "1 thread") if count == 1 else (f"{count}_threads", f"{count} threads")
        pairs += [
            _rates(f"p1_over_l1_ratio_{n}", f"P1 / L1, {said}", f"p1_{n}", f"l1_{n}", _at_4(count, 0.5)),
            _rates(f"p1_over_l2_ratio_{n}", f"P1 / L2, {said}", f"p1_{n}", f"l2_{n}", _at_4(count, 1.5)),
        ]
    for q in ("p50", "p99"):
        first, replay, select = ("p1_1_thread", q), ("p2_replay", q), ("p2_select", q)
        pairs += [
            Ratio(f"p2_first_over_replay_ratio_{q}", f"P2 first / replay, {q}", first, replay, 10.0),
            Ratio(f"p2_replay_over_select_ratio_{q}", f"P2 replay / SELECT, {q}", replay, select),
        ]
    return [
        *pairs,
        _rates("p3_over_l3_ratio", "P3 / L3", "p3_relay", "l3_producer", 0.8),
        _rates("p4_over_l4_ratio", "P4 / L4", "p4_projector", "l4_consumer", 0.7),
        _rates("p6_with_over_without_ratio", "P6 with / without", "p6_with_layer", "p6_without_layer", 0.85),
    ]


def _rates(key: str, shown: str, over: str, under: str, target: float | None) -> Ratio:
    return Ratio(key, shown, (over, "per_s"), (under, "per_s"), target)


def _at_4(threads: int, target: float) -> float | None:
    return target if threads == 4 else None


def figure(measurements: dict[str, dict[str, Any]], where: tuple[str, str]) -> float:
    measurement, name = where
    found = measurements[measurement]
    return float(found["per_s"] if name == "per_s" else found["latency_ms"][name])


def evaluate(results: dict[str, Any]) -> None:
    """Add `ratios` (key -> value) and `targets` (key -> at_least, met) to the results."""
    measurements = results["measurements"]
    pairs = ratios_for(results["threads"])
    results["ratios"] = {
        pair.key: round(figure(measurements, pair.over) / figure(measurements, pair.under), 3)
        for pair in pairs
    }
    results["targets"] = {
        pair.key: {"at_least": pair.target, "met": results["ratios"][pair.key] >= pair.target}
        for pair in pairs
        if pair.target is not None
    }


def markdown(results: dict[str, Any]) -> str:
    """The ratios against their targets, then every measurement with the CPU it took."""
    measurements, ratios, targets = results["measurements"], results["ratios"], results["targets"]
    tiny = " (tiny)" if results["tiny"] else ""
    lines = [
        f"Building blocks{tiny}, {results['generated_at']}: {_setting(results)}",
        "",
        "| ratio | project | limit | value | target | |",
        "|---|---|---|---|---|---|",
    ]
    for pair in ratios_for(results["threads"]):
        target = targets.get(pair.key)
        wanted, verdict = ("", "") if target is None else (f"≥ {target['at_least']:g}", _verdict(target))
        lines.append(
            f"| {pair.shown} | {_quoted(measurements, pair.over)} | {_quoted(measurements, pair.under)}"
            f" | {ratios[pair.key]:.2f} | {wanted} | {verdict} |"
        )
    names = ["bench", "postgres", "broker", "machine busy"]
    lines += [
        "",
        "| measurement | count | rate | p50 | p99 | "
        + " | ".join(f"CPU {name}" for name in names)
        + " | PostgreSQL backends in a transaction |",
        "|---|---|---|---|---|" + "---|" * len(names) + "---|",
    ]
    for m in measurements.values():
        latency, cpu = m.get("latency_ms", {}), m["cpu_percent"]
        waits = ", ".join(
            f"{kind} {share:.0f}%" for kind, share in list(m.get("server_waits_percent", {}).items())[:3]
        )
        lines.append(
            f"| {m['label']} | {m['count']} | {m['per_s']:.0f}/s"
            f" | {_ms(latency.get('p50'))} | {_ms(latency.get('p99'))} | "
            + " | ".join(f"{cpu[name]:.0f}%" if name in cpu else "-" for name in names)
            + f" | {waits or '-'} |"
        )
    return "\n".join(lines) + "\n"


def _verdict(target: dict[str, Any]) -> str:
    return "pass" if target["met"] else "short"


def _setting(results: dict[str, Any]) -> str:
    env, server = results["environment"], results["postgres_settings"]
    machine = env["machine"]
    return (
        f"{machine['cpus']} CPUs ({machine['model']}), PostgreSQL {env['postgres_server']}"
        f" (synchronous_commit {server['synchronous_commit']}, fsync {server['fsync']},"
        f" wal_sync_method {server['wal_sync_method']}), Python {env['python']},"
        f" eventsourcing {env['packages']['eventsourcing']}, psycopg {env['packages']['psycopg']},"
        f" kafka-python {env['packages']['kafka-python']}"
    )


def _quoted(measurements: dict[str, dict[str, Any]], where: tuple[str, str]) -> str:
    name = measurements[where[0]]["label"].split(",")[0]
    value = figure(measurements, where)
    return f"{name}: {value:.0f}/s" if where[1] == "per_s" else f"{name}: {value:.2f} ms {where[1]}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def write(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """The latest results as JSON and markdown, and a line of JSON appended to the history."""
    out.mkdir(parents=True, exist_ok=True)
    (out / LATEST_JSON).write_text(json.dumps(results, indent=2) + "\n")
    (out / LATEST_MD).write_text(markdown(results))
    with (out / HISTORY).open("a") as history:
        history.write(json.dumps(results, separators=(",", ":")) + "\n")
    return out / LATEST_JSON, out / LATEST_MD
