"""`orders api` as a real process on PostgreSQL, for the tests that need real HTTP: its own
schema, two tenants with their keys, a free port, and SIGTERM when the test is done. The saga
does not run, so orders stay "placed"."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from infrastructure.devstack import free_port
from infrastructure.settings import Settings
from support.isolation import environment, isolated_settings, wait_until

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"acme": "it-key-acme", "globex": "it-key-globex"}


@dataclass(frozen=True)
class Api:
    url: str
    settings: Settings

    def client(self, tenant: str = "acme") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {KEYS[tenant]}"}, timeout=30
        )


@contextmanager
def serving(database_url: str, log_file: Path) -> Iterator[Api]:
    """`orders api` on a schema of its own with the two tenants of KEYS, answering /readyz."""
    with isolated_settings(database_url) as settings:
        keys = ",".join(f"{tenant}:{key}" for tenant, key in KEYS.items())
        with running(settings, log_file, {"ORDERS_API_KEYS": keys}) as url:
            yield Api(url, settings)


@contextmanager
def running(settings: Settings, log_file: Path, extra_env: Mapping[str, str] = {}) -> Iterator[str]:
    """`orders api` on `settings` and a free port, with its output in `log_file`; yields its
    URL once it answers /readyz, and stops it with SIGTERM afterwards."""
    port = free_port()
    env = {**os.environ, **environment(settings), **extra_env}
    command = [sys.executable, "-m", "services.cli", "api", "--port", str(port)]
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(url, process, log_file), "`orders api` to answer /readyz")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _ready(url: str, process: subprocess.Popen[bytes], log_file: Path) -> bool | None:
    assert process.poll() is None, f"`orders api` exited: {log_file.read_text()}"
    try:
        return httpx.get(f"{url}/readyz").status_code == 200 or None
    except httpx.TransportError:
        return None
