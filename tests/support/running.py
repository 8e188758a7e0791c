"""`orders run` as the integration tests start it, as a subprocess of their own (the
`orders_run` fixture in tests/integration/conftest.py), and stop it: with Ctrl-C, as a user
would, and by force only if that fails, so that no child outlives the test."""

import signal
import subprocess
import sys

import httpx
import psutil

RUN = [sys.executable, "-m", "services.cli", "run"]
# Several consumer groups join on the local broker, each waiting out a rebalance timeout.
ORDER_TIMEOUT_S = 90.0


def answer(url: str) -> httpx.Response | None:
    """The answer to GET `url`, or None while nothing listens there yet."""
    try:
        return httpx.get(url, timeout=10)
    except httpx.TransportError:
        return None


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user would stop it; if that fails, SIGKILL its children and then it."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGSTOP)  # no more restarts while its children are killed
        for leftover in psutil.Process(process.pid).children():
            leftover.kill()
        process.kill()
        process.wait()
