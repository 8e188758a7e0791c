"""The crash points as a child process sees them: armed, armed once across restarts, refused
when misconfigured, and listed in the module's docstring wherever the code places one.

Each case runs a small Python process, since a crash point reads its environment once, at
import, and ends the process that reaches it."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infrastructure.faults import crash_points
from infrastructure.faults.crash_points import CRASH_EXIT_CODE

ROOT = Path(__file__).resolve().parents[2]
REACH = (
    "from infrastructure.faults.crash_points import crash_point\n"
    "crash_point('api.after_commit')\n"
    "print('went on')"
)


def reach(crash_points: str, crash_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORDERS_CRASH_")}
    env["ORDERS_CRASH_POINTS"] = crash_points
    if crash_dir is not None:
        env["ORDERS_CRASH_DIR"] = str(crash_dir)
    return subprocess.run(
        [sys.executable, "-c", REACH], env=env, cwd=ROOT, capture_output=True, text=True, timeout=30
    )


def test_an_unarmed_point_lets_the_process_go_on() -> None:
    result = reach("relay.after_send")
    assert (result.returncode, result.stdout) == (0, "went on\n")


def test_an_armed_point_ends_the_process_there_and_names_itself() -> None:
    result = reach("relay.after_send,api.after_commit")
    assert (result.returncode, result.stdout) == (CRASH_EXIT_CODE, "")
    assert result.stderr == f"crash point api.after_commit: exiting with {CRASH_EXIT_CODE}\n"


def test_a_point_armed_once_fires_in_the_first_process_only_and_leaves_its_marker(tmp_path: Path) -> None:
    first, restarted = reach("api.after_commit@once", tmp_path), reach("api.after_commit@once", tmp_path)
    assert first.returncode == CRASH_EXIT_CODE
    assert (tmp_path / "api.after_commit").exists()
    assert (restarted.returncode, restarted.stdout) == (0, "went on\n")


@pytest.mark.parametrize(
    ("armed", "message"),
    [
        ("api.after_commit@once", "ORDERS_CRASH_POINTS: a point armed @once needs ORDERS_CRASH_DIR"),
        ("api.after_commit@twice", "ORDERS_CRASH_POINTS: 'api.after_commit@twice': the only mode is @once"),
    ],
)
def test_a_misconfigured_point_is_refused_in_one_line_when_the_module_loads(armed: str, message: str) -> None:
    result = reach(armed)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.splitlines()) == 1


def test_the_docstring_lists_every_point_the_code_places_and_no_other() -> None:
    placed = {
        node.args[0].value
        for layer in ("domain", "services", "infrastructure", "projections")
        for path in (ROOT / layer).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "crash_point"
        and isinstance(node.args[0], ast.Constant)
    }
    doc = crash_points.__doc__ or ""
    listed = set(re.findall(r"^  ([a-z_]+\.[a-z_]+) +[a-z_/]+\.py", doc, re.MULTILINE))
    assert len(placed) >= 8
    assert placed == listed
