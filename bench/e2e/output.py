"""The results on disk: every figure with what produced it (versions, machine, commit), the
latest run as JSON, a line per run in the history, and the plot."""

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import psycopg

LATEST, HISTORY, PLOT = "e2e-latest.json", "e2e-history.jsonl", "e2e.png"


def environment(database_url: str | None) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in ("eventsourcing", "kafka-python", "psycopg", "httpx")},
        "postgres_server": _server_version(database_url),
        "machine": {
            "cpus": os.cpu_count(),
            "model": _cpu_model(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "git": _git(),
    }


def write(results: dict[str, Any], out: Path) -> Path:
    """Write the latest results and append them to the history; returns the JSON's path."""
    out.mkdir(parents=True, exist_ok=True)
    latest = out / LATEST
    latest.write_text(json.dumps(results, indent=2) + "\n")
    with (out / HISTORY).open("a") as history:
        history.write(json.dumps(results, separators=(",", ":")) + "\n")
    return latest


def plot(runs: list[dict[str, Any]], out: Path) -> Path:
    """Completion latency (p50, p99; log scale) and completed throughput against offered rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = [run["rate"] for run in runs]
    top = max(rates) * 1.1
    fig, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4.2))
    for q, style in (("p50", "o-"), ("p99", "s--")):
        points = [(r, run["all"]["completion_latency_s"][q]) for r, run in zip(rates, runs, strict=True)]
        points = [(r, v) for r, v in points if v is not None]
        latency.plot([r for r, _ in points], [v for _, v in points], style, label=f"completion {q}")
    latency.set(
        xlabel="offered rate (orders/s)", ylabel="seconds (log)", yscale="log", title="Completion latency"
    )
    latency.set_xlim(0, top)
    latency.legend()
    for key, style, label in (
        ("completed_in_window_per_s", "o-", "completed during the send window"),
        ("completed_overall_per_s", "s--", "completed overall (incl. drain)"),
    ):
        throughput.plot(rates, [run["throughput"][key] or 0 for run in runs], style, label=label)
    throughput.plot([0, top], [0, top], ":", color="grey", label="y = x (keeps up)")
    throughput.set(xlabel="offered rate (orders/s)", ylabel="orders/s", title="Sustained throughput")
    throughput.legend()
    for axes in (latency, throughput):
        axes.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = out / PLOT
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _server_version(database_url: str | None) -> str | None:
    if not database_url:
        return None
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}
