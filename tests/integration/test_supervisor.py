"""The supervisor restarts a crashed child and stops every child on the way out."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from infrastructure.supervisor import Supervisor

pytestmark = pytest.mark.integration

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_child_killed_with_sigkill_is_restarted_and_all_stop_cleanly(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [("a", SLEEPER), ("b", SLEEPER)], env=os.environ, log_dir=tmp_path, say=lambda _: None
    )
    stop = threading.Event()
    runner = threading.Thread(target=supervisor.run, args=(stop,))
    runner.start()
    try:
        wait_for(lambda: len(supervisor.pids()) == 2)
        first = supervisor.pids()["a"]
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: supervisor.pids().get("a") not in (None, first))
        pids = list(supervisor.pids().values())
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids
    )


def test_a_paused_child_is_stopped_until_the_with_ends_and_runs_on_after(tmp_path: Path) -> None:
    supervisor = Supervisor([("a", SLEEPER)], env=os.environ, log_dir=tmp_path, say=lambda _: None)
    with supervisor.running():
        wait_for(lambda: "a" in supervisor.pids())
        child = psutil.Process(supervisor.pids()["a"])
        with supervisor.paused("a"):
            wait_for(lambda: child.status() == psutil.STATUS_STOPPED)
        wait_for(lambda: child.status() != psutil.STATUS_STOPPED)
        assert supervisor.pids()["a"] == child.pid, "resumed, not restarted"
        with pytest.raises(KeyError):
            supervisor.paused("b").__enter__()
