"""`orders psp-sim` and `orders carrier-sim` as the processes they are: each serves its API
on the port Settings or --port name, stops on SIGTERM, and reports a setup problem in one line."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from support.isolation import wait_until
from support.simulators import schema

from infrastructure.devstack import free_port
from infrastructure.devstack.ports import accepts_connections
from services.cli import main

pytestmark = pytest.mark.integration

ORDERS = [sys.executable, "-m", "services.cli"]


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The command as a process, its output in `log`; stopped with SIGTERM on the way out."""
    with log.open("wb") as out:
        process = subprocess.Popen([*ORDERS, *args], env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        print(log.read_text(errors="replace")[-4000:])


def serving(process: subprocess.Popen[bytes], port: int) -> str:
    wait_until(lambda: True if accepts_connections(port) or process.poll() is not None else None, "the port")
    assert process.poll() is None, "the simulator exited"
    return f"http://127.0.0.1:{port}"


def test_the_provider_serves_on_its_settings_port_and_stops_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {"DATABASE_URL": database_url, "ORDERS_PSP_PORT": str(port)}
    with (
        schema(database_url, "psp") as name,
        running(["psp-sim", "--schema", name], env, tmp_path / "psp.log") as psp,
    ):
        url = serving(psp, port)
        body = {"order_id": "order-1", "amount_cents": 500, "currency": "EUR", "token": "tok_ok"}
        reply = httpx.post(f"{url}/v1/authorizations", json=body, headers={"Idempotency-Key": "k-1"})
        charges = httpx.get(f"{url}/charges", params={"order_id": "order-1"}).json()["charges"]
        psp.send_signal(signal.SIGTERM)
        psp.wait(timeout=30)

    assert reply.json()["status"] == "approved"
    assert [c["reference"] for c in charges] == [reply.json()["reference"]]


def test_the_carrier_serves_on_the_port_given(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    args = ["carrier-sim", "--port", str(port)]
    with (
        schema(database_url, "carrier") as name,
        running([*args, "--schema", name], {"DATABASE_URL": database_url}, tmp_path / "c.log") as carrier,
    ):
        url = serving(carrier, port)
        reply = httpx.post(
            f"{url}/v1/shipments", json={"destination": "1 Road"}, headers={"Idempotency-Key": "k-2"}
        )
        shipments = httpx.get(f"{url}/shipments").json()["shipments"]

    assert [s["tracking_id"] for s in shipments] == [reply.json()["tracking_id"]]


def test_a_port_in_use_is_one_line_on_stderr_and_exit_code_1(database_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken, schema(database_url, "carrier") as name:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [*ORDERS, "carrier-sim", "--port", str(port), "--schema", name]
        done = subprocess.run(
            command,
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 1
    assert done.stderr.startswith("orders carrier-sim: error: ") and done.stderr.count("\n") == 1


def test_without_a_database_it_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["psp-sim"]) == 1
    assert capsys.readouterr().err == (
        "orders psp-sim: error: DATABASE_URL must be set (run `orders dev up` and source .devstack/env)\n"
    )
