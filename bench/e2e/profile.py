"""Where one process's wall time goes, sampled with py-spy (`--idle`, so waiting counts too).

Each sample is one thread's stack at one moment. Its category is decided by the innermost
frame that belongs to a library the process waits on or works in: a stack ending in psycopg
is talking to PostgreSQL, one in httpx/httpcore is in an HTTP call, one in kafka-python is
polling or committing. Stacks in none of those are the project's own code (which includes
its own sleeps, as py-spy cannot see into C calls), threads waiting in the standard
library, or other. Every thread is sampled at every tick, so each thread's shares are
reported separately: an idle heartbeat thread is not the saga being idle.

py-spy runs `--nonblocking`: by default it stops the process for every sample, which on a
busy machine, with a score of threads to unwind 100 times a second, slows the saga it
measures. The price is an occasional torn stack, which does not move the shares.
"""

import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

RATE_HZ = 100
PROJECT = {"domain", "infrastructure", "projections", "services"}
LIBRARIES = {
    "psycopg_pool": "database: waiting for a pooled connection",
    "psycopg": "database (psycopg)",
    "psycopg_binary": "database (psycopg)",
    "httpx": "HTTP calls (httpx/httpcore)",
    "httpcore": "HTTP calls (httpx/httpcore)",
    "h11": "HTTP calls (httpx/httpcore)",
    "kafka": "Kafka (kafka-python)",
    "eventsourcing": "eventsourcing, not the database",
    "pydantic": "pydantic",
}
WAITING = {"threading", "queue", "selectors", "socket", "time"}
WAITING_CATEGORY = "waiting (threading, queue, selectors)"


def start(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | str:
    """py-spy recording `pid` for `seconds` into `out`, or why it cannot run."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(binary).exists():
        return "py-spy is not installed (pip install -e '.[dev]')"
    command = [binary, "record", "--idle", "--threads", "--nonblocking", "--rate", str(RATE_HZ)]
    command += ["--format", "raw", "-d", str(seconds), "-p", str(pid), "-o", str(out)]
    with out.with_suffix(".log").open("wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def finish(recording: subprocess.Popen[bytes] | str, out: Path, timeout_s: float) -> dict[str, Any]:
    """Wait for the recording and summarise it; a failure is reported, not raised."""
    if isinstance(recording, str):
        return {"error": recording}
    try:
        code = recording.wait(timeout_s)
    except subprocess.TimeoutExpired:
        recording.kill()
        code = recording.wait()
    log = out.with_suffix(".log")
    said = log.read_text(errors="replace")
    if code != 0 or not out.exists():
        return {"error": f"py-spy exited with {code}: {said[-500:].strip()}"}
    log.unlink()
    lags = [float(lag) for lag in re.findall(r"([\d.]+)s behind in sampling", said)]
    try:
        summary = summarise(out.read_text())
    except Exception as error:  # the profile is an extra: a summary that fails must not end the run
        return {"error": f"cannot summarise {out.name}: {error!r}"}
    return {"raw_file": out.name, "max_sampling_lag_s": max(lags, default=0.0), **summary}


def summarise(raw: str, top: int = 15) -> dict[str, Any]:
    """Shares of samples per thread and category; the threads that never run project code
    (connection pool workers, the Kafka client's I/O thread) are listed apart, and the top
    functions are counted over the project's own threads, leaving out their plain waiting."""
    threads: dict[str, Counter[str]] = defaultdict(Counter)
    own_threads: set[str] = set()
    stacks: list[tuple[str, list[str], str, int]] = []
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        thread, frames = _split(stack.split(";"))
        category = _category(frames)
        threads[thread][category] += int(count_text)
        stacks.append((thread, frames, category, int(count_text)))
        if any(_top(frame) in PROJECT for frame in frames):
            own_threads.add(thread)
    leaves: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for thread, frames, category, count in stacks:
        if thread in own_threads and category != WAITING_CATEGORY:
            leaves[_leafish(frames)] += count
            project = next((f for f in reversed(frames) if _top(f) in PROJECT), None)
            own[_without_line(project) if project else "(no project frame)"] += count
    return {
        "rate_hz": RATE_HZ,
        "threads": {name: _shares(counts) for name, counts in threads.items() if name in own_threads},
        "library_threads": sorted(name for name in threads if name not in own_threads),
        "top_leaf_functions": _shares(Counter(dict(leaves.most_common(top))), total=leaves.total()),
        "top_project_frames": _shares(Counter(dict(own.most_common(top))), total=own.total()),
    }


def _split(frames: list[str]) -> tuple[str, list[str]]:
    """("MainThread", frames below it) from "thread (1234): MainThread;frame;..."."""
    if frames and frames[0].startswith("thread ("):
        return frames[0].partition(": ")[2] or frames[0], frames[1:]
    return "all", frames


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        if _top(frame) in LIBRARIES:
            return LIBRARIES[_top(frame)]
    if frames and _top(frames[-1]) in PROJECT:
        return "project code (and its own sleeps)"
    if frames and _top(frames[-1]) in WAITING:
        return WAITING_CATEGORY
    return "other"


def _leafish(frames: list[str]) -> str:
    """The innermost frame outside the standard library, without its line number."""
    if not frames:
        return "(no Python frame)"
    return _without_line(
        next((f for f in reversed(frames) if _top(f) not in sys.stdlib_module_names), frames[-1])
    )


def _without_line(frame: str) -> str:
    """ "Cursor.execute (psycopg/cursor.py)" from "Cursor.execute (psycopg/cursor.py:97)"."""
    return frame.rsplit(":", 1)[0] + ")" if frame.endswith(")") else frame


def _top(frame: str) -> str:
    """The top-level module of a frame "func (psycopg/cursor.py:12)": "psycopg"."""
    path = frame.rpartition(" (")[2]
    return path.split("/", 1)[0].split(".py", 1)[0]


def _shares(counts: Counter[str], total: int | None = None) -> dict[str, Any]:
    total = total or counts.total()
    return {
        "samples": total,
        "share": {key: round(n / total, 4) for key, n in counts.most_common()} if total else {},
    }
