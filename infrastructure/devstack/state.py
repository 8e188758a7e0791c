"""The ports a dev stack was started on, kept in `state.json` across CLI invocations."""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackState:
    """Ports are the only state worth keeping: pids live in each server's own pid file."""

    postgres_port: int
    broker_port: int


def load_state(path: Path) -> StackState | None:
    try:
        return StackState(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None


def save_state(path: Path, state: StackState) -> None:
    write_atomically(path, json.dumps(asdict(state), indent=2) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Readers (`status`, a shell sourcing the env file) never see a half-written file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)
