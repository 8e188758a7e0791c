"""The alert rules (ops/prometheus/alerts.yml): Prometheus reads them, each fires and stays
quiet where its unit tests (ops/prometheus/alerts.test.yml) say, and each uses only metric
families the code defines (infrastructure/metrics.py), so a renamed family cannot leave an
alert watching a series that no process exposes."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infrastructure.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops/prometheus/alerts.yml"
RULE_TESTS = ROOT / "ops/prometheus/alerts.test.yml"
NAME = re.compile(r"\borders_[a-z_]+")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: apt-get install prometheus")


def rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *arguments], capture_output=True, text=True, timeout=60, cwd=ROOT)


@needs_promtool
def test_prometheus_accepts_the_rules() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_promtool
def test_every_rule_fires_and_stays_quiet_as_its_unit_tests_say() -> None:
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_rule_has_a_firing_and_a_quiet_case() -> None:
    cases: dict[str, list[bool]] = {}
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test["alert_rule_test"]:
            cases.setdefault(case["alertname"], []).append(bool(case["exp_alerts"]))
    assert {str(rule["alert"]): sorted(set(cases.get(str(rule["alert"]), []))) for rule in rules()} == {
        str(rule["alert"]): [False, True] for rule in rules()
    }


def test_the_rules_use_only_families_the_code_defines() -> None:
    defined = Metrics().series()
    used = {name for rule in rules() for name in NAME.findall(str(rule["expr"]))}
    assert used, "no rule uses a family of the system's own"
    assert used - defined == set()


def test_the_families_are_named_as_the_rules_read_them() -> None:
    """A check of the check: a counter is read as `_total`, a gauge by its own name."""
    series = Metrics().series()
    assert {"orders_duplicates_absorbed_total", "orders_relay_lag_seconds"} <= series
    assert "orders_duplicates_absorbed" not in series
    assert NAME.findall("sum(rate(orders_x_total[5m])) > on() orders_y") == ["orders_x_total", "orders_y"]
