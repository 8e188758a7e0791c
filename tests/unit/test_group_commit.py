"""Group commit's hand-over (infrastructure/group_commit.py), with a committing function that
records its batches: a lone write commits at once; writes that arrive while a commit is in
flight wait and go together in the next; a write's own failure reaches its caller alone, the
transaction's reaches everyone in it. What the batches do on PostgreSQL is
tests/integration/test_group_commit_postgres.py's."""

import threading
from collections.abc import Sequence

import pytest

from infrastructure.group_commit import GroupCommit, Write


class Recorder:
    """Commits by recording each batch's rows; the first batch waits until `release`."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, batch: Sequence[Write]) -> None:
        self.batches.append([write.rows for write in batch])
        self.started.set()
        self.release.wait(10)
        for number, write in enumerate(batch):
            if write.rows.startswith("bad"):
                write.error = ValueError(write.rows)
            elif write.rows == "fails the transaction":
                raise RuntimeError("COMMIT failed")
            else:
                write.result = [len(self.batches), number]


def submit_in_thread(group: GroupCommit, rows: str, outcomes: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            outcomes[rows] = group.submit(rows)
        except Exception as error:  # what the caller would see
            outcomes[rows] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def queued(group: GroupCommit, count: int) -> None:
    """Wait until `count` writes wait for the commit in flight."""
    for _ in range(1000):
        if len(group._queue) == count:
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"{len(group._queue)} writes queued, not {count}")


def test_a_lone_write_is_committed_at_once_by_its_own_caller() -> None:
    recorder = Recorder()
    assert GroupCommit(recorder).submit("a") == [1, 0]
    assert recorder.batches == [["a"]]


def test_writes_arriving_during_a_commit_are_committed_together_in_the_next() -> None:
    recorder, outcomes = Recorder(hold_first=True), {}
    group = GroupCommit(recorder)
    first = submit_in_thread(group, "a", outcomes)
    recorder.started.wait(10)
    others = [submit_in_thread(group, rows, outcomes) for rows in ("b", "c", "d")]
    queued(group, 3)
    recorder.release.set()
    for thread in (first, *others):
        thread.join(10)
    assert recorder.batches == [["a"], ["b", "c", "d"]]
    assert outcomes == {"a": [1, 0], "b": [2, 0], "c": [2, 1], "d": [2, 2]}


def test_a_batch_holds_at_most_max_batch_writes() -> None:
    recorder, outcomes = Recorder(hold_first=True), {}
    group = GroupCommit(recorder, max_batch=2)
    threads = [submit_in_thread(group, "a", outcomes)]
    recorder.started.wait(10)
    for rows in ("b", "c", "d"):
        threads.append(submit_in_thread(group, rows, outcomes))
        queued(group, len(threads) - 1)  # in this order
    recorder.release.set()
    for thread in threads:
        thread.join(10)
    assert recorder.batches == [["a"], ["b", "c"], ["d"]]


def test_a_write_that_fails_alone_raises_to_its_caller_only_and_a_failed_commit_to_all() -> None:
    recorder, outcomes = Recorder(hold_first=True), {}
    group = GroupCommit(recorder)
    threads = [submit_in_thread(group, "a", outcomes)]
    recorder.started.wait(10)
    threads += [submit_in_thread(group, rows, outcomes) for rows in ("b", "bad c", "d")]
    queued(group, 3)
    recorder.release.set()
    for thread in threads:
        thread.join(10)
    assert outcomes["b"] == [2, 0] and outcomes["d"] == [2, 2]
    assert isinstance(outcomes["bad c"], ValueError)

    with pytest.raises(RuntimeError, match="COMMIT failed"):
        group.submit("fails the transaction")
    assert group.submit("e") == [4, 0], "the next write leads, as if nothing happened"
