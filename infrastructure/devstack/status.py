"""What `DevStack.up` and `DevStack.status` report about a stack and its servers."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

ComponentState = Literal["running", "stale", "stopped"]


class Component(Protocol):
    """What the stack needs from each server it runs."""

    @property
    def pid(self) -> int | None: ...

    @property
    def address(self) -> str: ...

    def is_running(self) -> bool: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class StackInfo:
    """How clients reach a running stack, and whether `up` found it already running."""

    database_url: str
    kafka_bootstrap_servers: str
    env_file: Path
    postgres_pid: int
    broker_pid: int
    already_running: bool


@dataclass(frozen=True)
class ComponentStatus:
    """`stale` means a pid file outlived its process, e.g. after kill -9."""

    name: str
    state: ComponentState
    pid: int | None
    address: str | None


@dataclass(frozen=True)
class StackStatus:
    components: tuple[ComponentStatus, ...]
    env_file: Path | None

    @property
    def running(self) -> bool:
        return all(component.state == "running" for component in self.components)


def describe(name: str, component: Component) -> ComponentStatus:
    pid = component.pid
    state: ComponentState
    if component.is_running():
        state = "running"
    elif pid is not None:
        state = "stale"
    else:
        state = "stopped"
    return ComponentStatus(name, state, pid, component.address)


def stopped(*names: str) -> StackStatus:
    """The status of a stack that was never started, or was brought down."""
    return StackStatus(tuple(ComponentStatus(name, "stopped", None, None) for name in names), None)
