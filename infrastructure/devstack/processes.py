"""Recognise and stop the server processes a dev stack started, by pid."""

import signal
import time
from pathlib import Path

import psutil

EXIT_POLL_SECONDS = 0.05


def read_pid(pid_file: Path) -> int | None:
    """The pid on the first line of `pid_file`, or None when there is none."""
    try:
        first_line = pid_file.read_text().split("\n", 1)[0].strip()
    except FileNotFoundError:
        return None
    return int(first_line) if first_line.isdigit() else None


def process_matches(pid: int, program: str, *arguments: str) -> bool:
    """True if `pid` is a live `program` whose command line holds every one of `arguments`.

    A pid file outlives its process (kill -9, reboot) and the kernel reuses pids, so a pid
    alone never proves that the server we started is still the one running.
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return bool(command) and program in Path(command[0]).name and set(arguments) <= set(command)


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM `pid`, then SIGKILL it if it has not exited within `timeout` seconds.

    SIGCONT follows SIGTERM so that a paused (SIGSTOPped) process can act on it.
    """
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGCONT)
        if not _exits_within(process, timeout):
            process.kill()
            _exits_within(process, timeout)
    except psutil.NoSuchProcess:
        return


def _exits_within(process: psutil.Process, timeout: float) -> bool:
    """Wait for `process` to exit, reaping it if it is our child.

    An orphan's zombie counts as exited: its new parent (init) reaps it in its own time,
    which on some machines takes seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            process.wait(EXIT_POLL_SECONDS)
            return True
        except psutil.TimeoutExpired:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
    return False
