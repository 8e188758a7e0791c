"""`orders dev up|down|status`: the embedded PostgreSQL and broker for local work and tests."""

import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, ParamSpec

import typer

from infrastructure.devstack import DevStack, DevStackError, StackInfo, StackStatus
from infrastructure.settings import Settings
from services.cli.usage import examples

P = ParamSpec("P")


def register(app: typer.Typer, panel: str) -> None:
    dev = typer.Typer(
        help="An embedded PostgreSQL and Kafka-protocol broker: the dev stack.\n\n"
        "Both come from wheels (no Docker, nothing to install) and keep their state in --root,"
        " $ORDERS_DEVSTACK_DIR or .devstack. `up` writes an env file there (.devstack/env): the"
        " servers' addresses and the stack's own random API keys and webhook secret, kept until"
        " `down --purge`. `source` it to point a shell, and the commands run from it, at the stack.",
        epilog=examples(
            ("orders dev up", "start the stack, or report the running one"),
            ("source .devstack/env", "then use it from this shell"),
            ("orders dev status --json", "each server's pid, address and state, as JSON"),
            ("orders dev down --purge", "stop it and delete its state"),
        ),
        no_args_is_help=True,
    )
    dev.callback()(_root_option)
    dev.command(
        "up",
        help="Start the stack, or report the running one.\n\nIdempotent: a server already running is"
        " reused, and pids a crash left behind are cleaned up. Prints DATABASE_URL and"
        " KAFKA_BOOTSTRAP_SERVERS and writes them, with the stack's keys, to its env file.",
        epilog=examples(
            ("orders dev up", "start the stack in .devstack"),
            ("orders dev --root /tmp/stack up", "a stack of its own elsewhere"),
        ),
    )(reporting_errors(_up))
    dev.command(
        "down",
        help="Stop the stack, keeping its data (all of it with --purge).",
        epilog=examples(
            ("orders dev down", "stop both servers; `up` starts them again with the same data"),
            ("orders dev down --purge", "stop them and delete the state directory, keys included"),
        ),
    )(reporting_errors(_down))
    dev.command(
        "status",
        help="Show each server's pid, address and state.",
        epilog=examples(
            ("orders dev status", "a table, and how to use or start the stack"),
            ("orders dev status --json", "the same for a script"),
        ),
    )(reporting_errors(_status))
    app.add_typer(dev, name="dev", rich_help_panel=panel)


def _root_option(
    ctx: typer.Context,
    root: Annotated[
        Path | None,
        typer.Option(help="state directory", show_default="$ORDERS_DEVSTACK_DIR or .devstack"),
    ] = None,
) -> None:
    ctx.obj = root


def _up(ctx: typer.Context) -> int:
    info = DevStack(_root(ctx), step=timed).up()
    _print_info(info)
    return 0


def _down(
    ctx: typer.Context,
    purge: Annotated[bool, typer.Option("--purge", help="also delete the state directory")] = False,
) -> int:
    stack = DevStack(_root(ctx), step=timed)
    was_running = stack.down(purge=purge)
    print("dev stack stopped" if was_running else "dev stack was not running")
    if purge:
        print(f"deleted {stack.root}")
    return 0


def _status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON")] = False,
) -> int:
    status = DevStack(_root(ctx)).status()
    if as_json:
        print(json.dumps(_status_document(status), indent=2))
    else:
        _print_status(status)
    return 0


def _root(ctx: typer.Context) -> Path:
    """--root, else the settings' (read only once a command runs: help needs none)."""
    root: Path = ctx.obj or Settings.from_env().devstack_dir
    return root


def _print_info(info: StackInfo) -> None:
    print("dev stack already running:" if info.already_running else "dev stack started:")
    print(f"  DATABASE_URL={info.database_url}  (PostgreSQL pid {info.postgres_pid})")
    print(f"  KAFKA_BOOTSTRAP_SERVERS={info.kafka_bootstrap_servers}  (broker pid {info.broker_pid})")
    print(f"  env file: {info.env_file}")
    print(f"use it with: source {_relative(info.env_file)}")


def _print_status(status: StackStatus) -> None:
    row = "{:<10} {:>8}  {:<22} {}"
    print(row.format("COMPONENT", "PID", "ADDRESS", "STATE"))
    for component in status.components:
        pid, address = component.pid or "-", component.address or "-"
        print(row.format(component.name, pid, address, component.state))
    if status.running and status.env_file is not None:
        print(f"dev stack is running; use it with: source {_relative(status.env_file)}")
    elif any(component.state != "stopped" for component in status.components):
        print("dev stack is only partly running; `orders dev up` restarts what is missing")
    else:
        print("dev stack is not running; start it with `orders dev up`")


def _status_document(status: StackStatus) -> dict[str, Any]:
    return {
        "running": status.running,
        "env_file": str(status.env_file) if status.env_file else None,
        "components": [asdict(component) for component in status.components],
    }


@contextmanager
def timed(label: str) -> Iterator[None]:
    """Progress for the slow steps: `starting PostgreSQL on ... done in 0.4s`."""
    print(f"{label} ...", end=" ", flush=True)
    started = time.monotonic()
    try:
        yield
    except BaseException:
        print("failed", flush=True)
        raise
    print(f"done in {time.monotonic() - started:.1f}s", flush=True)


def reporting_errors(command: Callable[P, int]) -> Callable[P, int]:
    """Turn the failures a user can act on into one line on stderr and exit code 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return command(*args, **kwargs)
        except DevStackError as error:
            log = f" (see {error.log_file})" if error.log_file else ""
            print(f"orders dev: error: {error}{log}", file=sys.stderr)
        except OSError as error:
            print(f"orders dev: error: {error}", file=sys.stderr)
        return 1

    return run


def _relative(path: Path) -> str:
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)
