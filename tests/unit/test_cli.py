"""The command line's surface: every command explains itself with examples, usage errors and
interruptions have their exit codes, and colour and progress bars appear only on a terminal.

(Settings errors, one line and exit code 2, are in test_cli_configuration.py.)
"""

import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.core import TyperArgument, TyperGroup, TyperOption

from infrastructure.devstack import DevStack
from services.cli import PANELS, command, main, terminal

ORDERS = [sys.executable, "-m", "services.cli"]
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def every_command() -> Iterator[tuple[str, object]]:
    """Each command and group by its path, `orders` itself included."""

    def walk(path: str, current: object) -> Iterator[tuple[str, object]]:
        yield path, current
        if isinstance(current, TyperGroup):
            for name, sub in current.commands.items():
                yield from walk(f"{path} {name}", sub)

    yield from walk("orders", command())


COMMANDS = dict(every_command())


@pytest.mark.parametrize("path", COMMANDS)
def test_every_command_has_help_with_examples_and_every_parameter_a_description(path: str) -> None:
    cli = COMMANDS[path]
    assert getattr(cli, "help", None), path
    assert "Examples" in (getattr(cli, "epilog", None) or ""), path
    for parameter in getattr(cli, "params", []):
        if isinstance(parameter, TyperOption | TyperArgument):
            assert parameter.help, f"{path} {parameter.name}"


def test_the_commands_are_shown_in_panels_in_their_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert [shown.index(f"─ {panel} ") for panel in PANELS] == sorted(shown.index(f"─ {p} ") for p in PANELS)


@pytest.mark.parametrize("arguments", [[], ["dev"], ["dlq"]], ids=" ".join)
def test_a_group_without_a_command_shows_its_help_and_exits_with_2(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == 2
    assert f"Usage: {' '.join(['orders', *arguments])} " in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments",
    [["bogus"], ["demo", "--orders", "0"], ["relay", "--context", "nowhere"], ["check", "--wait"]],
    ids=" ".join,
)
def test_bad_usage_exits_with_2(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(arguments) == 2
    assert "Error" in capsys.readouterr().err


def test_an_interrupted_command_exits_with_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_stack: DevStack) -> None:
        raise KeyboardInterrupt

    monkeypatch.setenv("ORDERS_DEVSTACK_DIR", str(tmp_path))
    monkeypatch.setattr(DevStack, "status", interrupted)
    assert main(["dev", "status"]) == 130


def test_a_command_takes_its_options_and_returns_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dev", "--root", str(tmp_path), "status", "--json"]) == 0
    assert '"running": false' in capsys.readouterr().out


def colours(output: str) -> list[str]:
    """The colour codes among the SGR sequences (bold, dim and the like are not colours)."""
    codes = [code for sequence in SGR.findall(output) for code in sequence.split(";") if code]
    return [code for code in codes if (code[0] in "349" and len(code) == 2) or code in ("38", "48")]


def test_piped_output_has_no_ansi_codes() -> None:
    env = {name: value for name, value in os.environ.items() if name not in ("FORCE_COLOR", "PY_COLORS")}
    for arguments in (["--help"], ["demo", "--help"], ["bogus"]):
        result = subprocess.run([*ORDERS, *arguments], env=env, capture_output=True, text=True, timeout=60)
        assert "\x1b[" not in result.stdout + result.stderr, arguments


def test_no_color_turns_colour_off_where_colour_would_be_shown() -> None:
    forced = {**os.environ, "FORCE_COLOR": "1"}
    coloured = subprocess.run([*ORDERS, "--help"], env=forced, capture_output=True, text=True, timeout=60)
    plain = subprocess.run(
        [*ORDERS, "--help"], env={**forced, "NO_COLOR": "1"}, capture_output=True, text=True, timeout=60
    )
    assert colours(coloured.stdout) != []
    assert colours(plain.stdout) == []


def test_an_error_line_is_one_line_however_long(capsys: pytest.CaptureFixture[str]) -> None:
    terminal.error("x" * 500 + " [bold]not a style[/bold]")
    assert capsys.readouterr().err == "orders: error: " + "x" * 500 + " [bold]not a style[/bold]\n"


def test_off_a_terminal_long_work_prints_its_lines_and_no_bar(capsys: pytest.CaptureFixture[str]) -> None:
    with terminal.track("placing", 3) as advance:
        advance(1, None)
        advance(2, "  2/3 placed")
        advance(3, None)
    assert capsys.readouterr() == ("  2/3 placed\n", "")


TRACKED = """
from services.cli.terminal import track
with track("placing", 3) as advance:
    for done in (1, 2, 3):
        advance(done, f"  {done}/3 placed")
"""


def test_on_a_terminal_long_work_shows_a_bar_instead_of_its_lines() -> None:
    leader, follower = pty.openpty()
    env = {name: value for name, value in os.environ.items() if name not in ("NO_COLOR", "TERM")}
    process = subprocess.Popen(
        [sys.executable, "-c", TRACKED], stdout=follower, stderr=follower, env={**env, "TERM": "xterm"}
    )
    os.close(follower)
    shown = b""
    while chunk := _read(leader):
        shown += chunk
    os.close(leader)
    assert process.wait(timeout=30) == 0
    text = shown.decode()
    assert "placing" in text and "3/3" in text and "━" in text
    assert "placed" not in text


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the pseudo-terminal is gone once the process has exited
        return b""


@pytest.mark.parametrize(
    "arguments", [["check"], ["reconcile"], ["trace", "0b7e4a52-8f0e-4c1e-9a47-3d2f6c1b9e10"]], ids=" ".join
)
def test_an_operator_tool_whose_database_does_not_answer_says_so_in_one_line(
    arguments: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nothing_listens = "127.0.0.1:1"
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@{nothing_listens}/orders?connect_timeout=2")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", nothing_listens)
    assert main(arguments) == 1
    said = capsys.readouterr().err.strip()
    assert said.startswith("orders") and "error" in said and "Traceback" not in said
    assert len(said.splitlines()) == 1, said
