"""The building-block benchmark's results, without servers: every ratio is the project's figure
over its limit's and is named as one, each target is held against its ratio, the table shows
both, and every run adds a line to the history. And `orders bench` outside a checkout.

(The benchmark itself runs in tests/integration/test_bench_blocks.py and in CI, tiny; no test
asserts a timing.)
"""

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from services.cli import bench, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/ is not an installed package: it is imported from the checkout, as `python -m
    bench.blocks` imports it from the repository's root."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("bench.blocks.report")


def measured(label: str, per_s: float, p50: float | None = None, p99: float | None = None) -> dict[str, Any]:
    figures: dict[str, Any] = {"label": label, "count": 100, "seconds": 100 / per_s, "per_s": per_s}
    if p50 is not None:
        figures["latency_ms"] = {"p50": p50, "p99": p99}
    figures["cpu_percent"] = {"bench": 50.0, "postgres": 20.0, "machine busy": 70.0}
    if label.startswith("P6"):  # the four most common, of which the table shows three
        waits = {"io: WALSync": 60.0, "running": 30.0, "client, in transaction": 5.0, "lock: relation": 5.0}
        figures["server_waits_percent"] = waits
    return figures


def results() -> dict[str, Any]:
    return {
        "generated_at": "2026-12-03T21:00:00Z",
        "tiny": False,
        "threads": [1, 4],
        "environment": {
            "python": "3.11.7",
            "packages": {"eventsourcing": "9.5.6", "psycopg": "3.3.9", "kafka-python": "3.0.12"},
            "postgres_server": "18.6",
            "machine": {"cpus": 2, "model": "a CPU"},
        },
        "postgres_settings": {"synchronous_commit": "on", "fsync": "on", "wal_sync_method": "fdatasync"},
        "measurements": {
            "l1_1_thread": measured("L1 raw, 1 thread", 1000, 1.0, 2.0),
            "l2_1_thread": measured("L2 library, 1 thread", 500, 2.0, 4.0),
            "p1_1_thread": measured("P1 execute, 1 thread", 250, 4.0, 40.0),
            "l1_4_threads": measured("L1 raw, 4 threads", 4000, 1.0, 2.0),
            "l2_4_threads": measured("L2 library, 4 threads", 400, 10.0, 20.0),
            "p1_4_threads": measured("P1 execute, 4 threads", 800, 5.0, 10.0),
            "p2_replay": measured("P2 replay", 2500, 0.5, 0.8),
            "p2_select": measured("P2 SELECT", 5000, 0.25, 0.4),
            "l3_producer": measured("L3 producer", 10000),
            "p3_relay": measured("P3 relay", 9000),
            "l4_consumer": measured("L4 consumer", 20000),
            "p4_projector": measured("P4 projector", 2000),
            "p6_with_layer": measured("P6 with", 90, 40.0, 60.0),
            "p6_without_layer": measured("P6 without", 100, 30.0, 50.0),
        },
    }


def test_each_ratio_is_the_projects_figure_over_its_limits_and_says_ratio(report: ModuleType) -> None:
    run = results()
    report.evaluate(run)
    assert run["ratios"] == {
        "p1_over_l1_ratio_1_thread": 0.25,
        "p1_over_l2_ratio_1_thread": 0.5,
        "p1_over_l1_ratio_4_threads": 0.2,
        "p1_over_l2_ratio_4_threads": 2.0,
        "p2_first_over_replay_ratio_p50": 8.0,
        "p2_replay_over_select_ratio_p50": 2.0,
        "p2_first_over_replay_ratio_p99": 50.0,
        "p2_replay_over_select_ratio_p99": 2.0,
        "p3_over_l3_ratio": 0.9,
        "p4_over_l4_ratio": 0.1,
        "p6_with_over_without_ratio": 0.9,
    }
    assert all("ratio" in key for key in run["ratios"])


def test_the_targets_are_held_against_their_ratios_and_not_asserted(report: ModuleType) -> None:
    run = results()
    report.evaluate(run)
    met = {key: target["met"] for key, target in run["targets"].items()}
    assert met == {
        "p1_over_l1_ratio_4_threads": False,  # 0.2, wanted 0.5
        "p1_over_l2_ratio_4_threads": True,  # 2.0, wanted 1.5
        "p2_first_over_replay_ratio_p50": False,  # 8, wanted 10
        "p2_first_over_replay_ratio_p99": True,
        "p3_over_l3_ratio": True,
        "p4_over_l4_ratio": False,
        "p6_with_over_without_ratio": True,
    }


def test_the_table_shows_each_ratio_with_both_figures_and_its_verdict(report: ModuleType) -> None:
    run = results()
    report.evaluate(run)
    rows = {row.split(" | ")[0].lstrip("| "): row for row in report.markdown(run).splitlines()}
    assert rows["P1 / L2, 4 threads"] == (
        "| P1 / L2, 4 threads | P1 execute: 800/s | L2 library: 400/s | 2.00 | ≥ 1.5 | pass |"
    )
    assert rows["P2 first / replay, p50"] == (
        "| P2 first / replay, p50 | P1 execute: 4.00 ms p50 | P2 replay: 0.50 ms p50 | 8.00 | ≥ 10 | short |"
    )
    assert rows["P1 / L2, 1 thread"].endswith("| 0.50 |  |  |")  # no target at 1 thread
    assert rows["P6 with"] == (
        "| P6 with | 100 | 90/s | 40.00 ms | 60.00 ms | 50% | 20% | - | 70% | io: WALSync 60%, running 30%,"
        " client, in transaction 5% |"
    )
    assert rows["L3 producer"].endswith("| 70% | - |")


def test_each_run_replaces_the_latest_results_and_adds_a_line_to_the_history(
    report: ModuleType, tmp_path: Path
) -> None:
    first, second = results(), results() | {"generated_at": "2026-12-03T22:00:00Z"}
    for run in (first, second):
        report.evaluate(run)
        report.write(run, tmp_path)
    assert json.loads((tmp_path / "latest.json").read_text()) == second
    assert (tmp_path / "latest.md").read_text() == report.markdown(second)
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert history == [first, second]


def test_orders_bench_outside_a_checkout_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench, "CHECKOUT", tmp_path)
    assert main(["bench", "--tiny"]) == 1
    said = capsys.readouterr().err.strip()
    assert said.startswith("orders: error:") and "bench/" in said
    assert len(said.splitlines()) == 1, said
