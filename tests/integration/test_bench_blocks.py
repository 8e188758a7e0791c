"""`orders bench --tiny` end to end, on the tests' PostgreSQL and broker: every building block
is measured, the results are written and the table printed. No figure is held to a value:
only that each measurement did all its work (about 20 s)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_a_tiny_run_measures_every_pair_and_writes_its_results(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "services.cli", "bench", "--tiny", "--out", str(tmp_path)],
        env={**os.environ, **stack_env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    results = json.loads((tmp_path / "latest.json").read_text())
    measurements, sizes = results["measurements"], results["sizes"]
    assert set(measurements) == {
        *(f"{block}_{threads}" for block in ("l1", "l2", "p1") for threads in ("1_thread", "4_threads")),
        *("p2_replay", "p2_select", "l3_producer", "p3_relay", "l4_consumer", "p4_projector"),
        *("p6_with_layer", "p6_without_layer"),
    }
    assert measurements["p1_4_threads"]["count"] == sizes["ops"]
    assert measurements["p3_relay"]["count"] == sizes["backlog_events"]
    p4 = measurements["p4_projector"]
    assert (p4["applied"], p4["duplicates_skipped"], p4["dead_lettered"]) == (sizes["backlog_events"], 0, 0)
    assert measurements["p6_with_layer"]["count"] == measurements["p6_without_layer"]["count"] > 0
    assert results["ratios"] and all("ratio" in key for key in results["ratios"])
    table = (tmp_path / "latest.md").read_text()
    assert table in ran.stdout
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
