"""`orders dev up|down|status`: the embedded PostgreSQL and broker for local work and tests."""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from infrastructure.devstack import DevStack, DevStackError, StackInfo, StackStatus
from infrastructure.settings import Settings

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    dev = subparsers.add_parser("dev", help="run PostgreSQL and a Kafka-protocol broker locally")
    dev.add_argument("--root", type=Path, help="state directory (default: $ORDERS_DEVSTACK_DIR or .devstack)")
    actions = dev.add_subparsers(title="actions", metavar="ACTION", required=True)
    actions.add_parser("up", help="start the stack, or report the running one").set_defaults(
        func=reporting_errors(_up)
    )
    down = actions.add_parser("down", help="stop the stack, keeping its data")
    down.add_argument("--purge", action="store_true", help="also delete the state directory")
    down.set_defaults(func=reporting_errors(_down))
    status = actions.add_parser("status", help="show each server's pid, address and state")
    status.add_argument("--json", action="store_true", help="print machine-readable JSON")
    status.set_defaults(func=reporting_errors(_status))


def _up(args: argparse.Namespace) -> int:
    info = DevStack(_root(args), step=timed).up()
    _print_info(info)
    return 0


def _down(args: argparse.Namespace) -> int:
    stack = DevStack(_root(args), step=timed)
    was_running = stack.down(purge=args.purge)
    print("dev stack stopped" if was_running else "dev stack was not running")
    if args.purge:
        print(f"deleted {stack.root}")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = DevStack(_root(args)).status()
    if args.json:
        print(json.dumps(_status_document(status), indent=2))
    else:
        _print_status(status)
    return 0


def _root(args: argparse.Namespace) -> Path:
    """--root, else the settings' (read only once a command runs: help needs none)."""
    root: Path = args.root or Settings.from_env().devstack_dir
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


def reporting_errors(handler: Handler) -> Handler:
    """Turn the failures a user can act on into one line on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
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
