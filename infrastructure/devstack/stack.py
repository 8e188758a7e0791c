"""The embedded dev stack: PostgreSQL and a Kafka-protocol broker run from one directory.

`orders dev up` and the integration tests use it so that running the system needs nothing
but wheels: no Docker engine and no services installed on the machine.
"""

import shlex
import shutil
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from infrastructure.devstack.broker import LocalBroker
from infrastructure.devstack.errors import DevStackError
from infrastructure.devstack.keys import keys_of, write_privately
from infrastructure.devstack.lock import exclusive_lock
from infrastructure.devstack.ports import free_port, port_is_free
from infrastructure.devstack.postgres import EmbeddedPostgres
from infrastructure.devstack.server_home import SERVER_HOME
from infrastructure.devstack.state import StackState, load_state, save_state
from infrastructure.devstack.status import Component, StackInfo, StackStatus, describe, stopped

Step = Callable[[str], AbstractContextManager[object]]
"""Wraps each slow step (initdb, starting a server) so a caller can report progress."""


class DevStack:
    """All state lives in `root`: ports, pid files, logs, the PostgreSQL data, the keys and `env`.

    `up` and `down` are idempotent and serialised across processes by a lock on `root/lock`;
    a stack left behind by a crash is recognised by checking each pid against its program.
    """

    def __init__(self, root: Path, step: Step = lambda label: nullcontext(), server_home: Path = SERVER_HOME):
        self.root = root.resolve()
        self._server_home = server_home  # where PostgreSQL's files go if its account cannot reach root
        self.env_file = self.root / "env"
        self._state_file = self.root / "state.json"
        self._lock_file = self.root / "lock"
        self._step = step

    def up(self) -> StackInfo:
        """Start whatever is not running, keeping the previous ports when they are still free."""
        with exclusive_lock(self._lock_file):
            state = self._choose_ports(load_state(self._state_file))
            save_state(self._state_file, state)
            postgres, broker = self._components(state)
            already_running = postgres.is_running() and broker.is_running()
            self._ensure_postgres(postgres)
            self._ensure_broker(broker)
            write_privately(self.env_file, _env_text(postgres, broker, keys_of(self.root)))
            return StackInfo(
                database_url=postgres.url,
                kafka_bootstrap_servers=broker.bootstrap_servers,
                env_file=self.env_file,
                postgres_pid=_pid_of(postgres),
                broker_pid=_pid_of(broker),
                already_running=already_running,
            )

    def export(self, variables: Mapping[str, str]) -> None:
        """Set `variables` in the env file too, replacing earlier values, so that a shell that
        sources it also reaches what runs on the stack (`orders run` adds the URLs it serves)."""
        with exclusive_lock(self._lock_file):
            if not self.env_file.exists():
                raise DevStackError(f"no dev stack is running in {self.root} (its env file is gone)")
            kept = [line for line in self.env_file.read_text().splitlines() if _name(line) not in variables]
            write_privately(self.env_file, "".join(f"{line}\n" for line in kept) + _exports(variables))

    def exported(self) -> dict[str, str]:
        """What a shell that sources the env file gets; nothing when no stack runs here."""
        try:
            lines = self.env_file.read_text().splitlines()
        except FileNotFoundError:
            return {}
        return dict(_variable(line) for line in lines)

    def down(self, purge: bool = False) -> bool:
        """Stop both servers; True if anything was running. `purge` also deletes `root`."""
        if not self.root.exists():
            return False
        with exclusive_lock(self._lock_file):
            was_running = self._stop_all()
            if purge:
                self._postgres(port=0).discard()  # its cluster may live elsewhere
                shutil.rmtree(self.root)
            return was_running

    def status(self) -> StackStatus:
        state = load_state(self._state_file)
        if state is None:
            return stopped("postgres", "broker")
        postgres, broker = self._components(state)
        return StackStatus((describe("postgres", postgres), describe("broker", broker)), self.env_file)

    @property
    def postgres(self) -> EmbeddedPostgres:
        """The stack's PostgreSQL server, for tests that restart or crash it."""
        return self._components(self._recorded_state())[0]

    @property
    def broker(self) -> LocalBroker:
        """The stack's broker, for tests that pause or kill it."""
        return self._components(self._recorded_state())[1]

    def _recorded_state(self) -> StackState:
        state = load_state(self._state_file)
        if state is None:
            raise DevStackError(f"no dev stack was started in {self.root}")
        return state

    def _components(self, state: StackState) -> tuple[EmbeddedPostgres, LocalBroker]:
        return (
            self._postgres(state.postgres_port),
            LocalBroker(self.root, state.broker_port),
        )

    def _postgres(self, port: int) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.root / "postgres", port, self._server_home)

    def _choose_ports(self, previous: StackState | None) -> StackState:
        if previous is None:
            postgres_port = free_port()
            return StackState(postgres_port, free_port(avoid={postgres_port}))
        postgres, broker = self._components(previous)
        postgres_port = _reuse_or_pick(postgres.port, postgres.is_running(), avoid=())
        broker_port = _reuse_or_pick(broker.port, broker.is_running(), avoid={postgres_port})
        return StackState(postgres_port, broker_port)

    def _ensure_postgres(self, postgres: EmbeddedPostgres) -> None:
        if postgres.is_running():
            return
        if not postgres.is_initialised():
            with self._step("initialising PostgreSQL data directory"):
                postgres.init()
        with self._step(f"starting PostgreSQL on {postgres.address}"):
            postgres.start()

    def _ensure_broker(self, broker: LocalBroker) -> None:
        if not broker.is_running():
            with self._step(f"starting broker on {broker.address}"):
                broker.start()

    def _stop_all(self) -> bool:
        state = load_state(self._state_file)
        if state is None:
            return False
        postgres, broker = self._components(state)
        was_running = [self._stop("broker", broker), self._stop("PostgreSQL", postgres)]
        self.env_file.unlink(missing_ok=True)
        self._state_file.unlink(missing_ok=True)
        return any(was_running)

    def _stop(self, name: str, component: Component) -> bool:
        """Stop `component`; a stopped one is still asked to, to discard a stale pid file."""
        if not component.is_running():
            component.stop()
            return False
        with self._step(f"stopping {name}"):
            component.stop()
        return True


def _reuse_or_pick(port: int, ours: bool, avoid: Collection[int]) -> int:
    if port not in avoid and (ours or port_is_free(port)):
        return port
    return free_port(avoid)


def _pid_of(component: Component) -> int:
    pid = component.pid
    if pid is None:
        raise DevStackError(f"no pid recorded for the server on {component.address}")
    return pid


def _env_text(postgres: EmbeddedPostgres, broker: LocalBroker, keys: Mapping[str, str]) -> str:
    """The servers' addresses and the stack's keys (the file is readable by its owner only)."""
    servers = {"DATABASE_URL": postgres.url, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
    return _exports({**servers, **keys})


def _exports(variables: Mapping[str, str]) -> str:
    """`export NAME=value` lines for a shell to source."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def _name(line: str) -> str:
    """The variable an `export NAME=value` line sets."""
    return line.removeprefix("export ").partition("=")[0]


def _variable(line: str) -> tuple[str, str]:
    """The variable an `export NAME=value` line sets, and its value unquoted."""
    name, _, quoted = line.removeprefix("export ").partition("=")
    return name, "".join(shlex.split(quoted))
