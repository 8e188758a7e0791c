"""Lanes: one key's items in order, different keys at once; a failing item holds back its key
only, and is tried again after a backoff. Progress: offsets are committable only below the
first record not yet done."""

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest
from kafka import TopicPartition

from infrastructure.lanes import Lanes
from infrastructure.progress import Progress

Item = tuple[str, int]


@pytest.fixture
def done() -> list[Item]:
    return []


def running(handle: Callable[[Item], None], done: list[Item], workers: int = 4) -> Lanes[Item]:
    lanes: Lanes[Item] = Lanes(handle, done.append, workers, "test", backoff_s=0.01, backoff_max_s=0.02)
    lanes.start()
    return lanes


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.005)


@pytest.fixture
def stopped() -> Iterator[list[Lanes[Item]]]:
    started: list[Lanes[Item]] = []
    yield started
    for lanes in started:
        lanes.stop()


def test_each_key_s_items_are_handled_in_the_order_they_came(
    done: list[Item], stopped: list[Lanes[Item]]
) -> None:
    seen: dict[str, list[int]] = defaultdict(list)
    stopped.append(lanes := running(lambda item: seen[item[0]].append(item[1]), done))
    for n in range(50):
        for key in "abc":
            lanes.add(key, (key, n))
    wait_for(lambda: len(done) == 150)
    assert {key: values for key, values in seen.items()} == {key: list(range(50)) for key in "abc"}


def test_a_key_waiting_on_a_slow_item_does_not_hold_back_the_others(
    done: list[Item], stopped: list[Lanes[Item]]
) -> None:
    release = threading.Event()

    def handle(item: Item) -> None:
        if item == ("slow", 0):
            release.wait(5)

    stopped.append(lanes := running(handle, done))
    lanes.add("slow", ("slow", 0))
    lanes.add("slow", ("slow", 1))
    for n in range(20):
        lanes.add(f"fast-{n}", (f"fast-{n}", 0))
    wait_for(lambda: len(done) == 20)
    assert ("slow", 1) not in done, "behind its key's first item"
    release.set()
    wait_for(lambda: done[-2:] == [("slow", 0), ("slow", 1)])


def test_a_failing_item_is_tried_again_and_its_key_s_next_item_waits_for_it(
    done: list[Item], stopped: list[Lanes[Item]]
) -> None:
    attempts: dict[Item, int] = defaultdict(int)

    def handle(item: Item) -> None:
        attempts[item] += 1
        if item == ("flaky", 0) and attempts[item] < 3:
            raise ConnectionError("the database is away")

    stopped.append(lanes := running(handle, done))
    lanes.add("flaky", ("flaky", 0))
    lanes.add("flaky", ("flaky", 1))
    lanes.add("steady", ("steady", 0))
    wait_for(lambda: len(done) == 3)
    assert attempts[("flaky", 0)] == 3
    assert done.index(("flaky", 0)) < done.index(("flaky", 1))


def test_offsets_are_committable_only_below_the_first_record_not_yet_done() -> None:
    progress, tp = Progress(), TopicPartition("t", 0)
    for offset in range(5):
        progress.seen(tp, offset, in_flight=offset != 1)  # offset 1: nothing to handle
    assert progress.committable() == {tp: 0}
    progress.done(tp, 2, 0)
    progress.done(tp, 0, 0)
    assert progress.committable() == {tp: 3}, "3 is still in flight"
    progress.committed({tp: 3})
    assert progress.committable() == {}, "nothing new to commit"
    progress.done(tp, 4, 0)
    progress.done(tp, 3, 0)
    assert progress.committable() == {tp: 5}


def test_a_record_of_a_forgotten_topic_finishing_late_does_not_count_for_the_new_one() -> None:
    progress, tp = Progress(), TopicPartition("t", 0)
    old = progress.seen(tp, 5, in_flight=True)
    progress.forget([tp])  # the topic came back re-created: offsets start again from 0
    new = progress.seen(tp, 5, in_flight=True)
    progress.done(tp, 5, old)
    assert progress.committable() == {tp: 5}, "the new record 5 is still in flight"
    progress.done(tp, 5, new)
    assert progress.committable() == {tp: 6}
